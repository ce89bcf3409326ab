#!/usr/bin/env bash
# Set up and start geo-service with the Jiaozuo demo workspace (embedded GeoPackage) on
# http://127.0.0.1:8000 (API docs at /docs). Extra arguments go to `geo-service serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/geo-service serve --demo --host "${GEO_HOST:-127.0.0.1}" --port "${GEO_PORT:-8000}" "$@"
