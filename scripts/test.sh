#!/usr/bin/env bash
# Set up everything the tests need (PostGIS and Chromium included) and run the whole suite.
# The tests start their own throwaway PostgreSQL cluster as an unprivileged user.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
exec .venv/bin/python -m pytest "$@"
