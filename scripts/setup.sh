#!/usr/bin/env bash
# Set up geo-service on a Debian machine: a virtualenv in .venv with the project installed.
#   scripts/setup.sh           the service only
#   scripts/setup.sh --test    plus what the tests need: Python test packages, and (as root, with apt)
#                              PostgreSQL + PostGIS, Chromium and CJK fonts
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "geo-service needs Python 3.11 or newer (found: $("$PY" --version 2>&1))" >&2
    exit 1
fi

# Debian ships venv's pip bootstrap in a package of its own (python3-venv), not in a minimal install
if ! "$PY" -c 'import ensurepip' 2>/dev/null && [[ ! -x .venv/bin/python ]]; then
    if [[ $(id -u) != 0 ]]; then
        echo "Python's venv module is incomplete: run as root, or: sudo apt-get install python3-venv" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "python3-venv" >/dev/null
fi

if [[ $want_test == 1 ]]; then
    need=()
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
    ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || need+=(postgis)
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
    fc-list 2>/dev/null | grep -qi "noto.*cjk" || need+=(fonts-noto-cjk)
    if (( ${#need[@]} )); then
        if [[ $(id -u) != 0 ]]; then
            echo "missing system packages (${need[*]}): run as root, or: sudo apt-get install postgresql postgis chromium fonts-noto-cjk" >&2
            exit 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib postgis \
            "postgresql-$(apt-cache policy postgresql | awk '/Candidate/ {split($2, v, "+"); print v[1]}')-postgis-3" \
            chromium fonts-noto-cjk >/dev/null
    fi
fi

extras=""
stamp=".venv/.geo-service-installed"
if [[ $want_test == 1 ]]; then
    extras="[test]"
    stamp="$stamp-test"
fi
digest=$(sha256sum pyproject.toml | cut -c1-16)
if [[ -x .venv/bin/python && -f "$stamp" && "$(cat "$stamp")" == "$digest" ]] && .venv/bin/python -c "import geo_service" 2>/dev/null; then
    exit 0
fi
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".${extras}"
# compile the service areas' searches into numba's cache now, not at the first user's request
.venv/bin/python -c "from geo_service.walks import warm; warm()"
echo "$digest" > "$stamp"
