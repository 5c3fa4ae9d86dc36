#!/usr/bin/env sh
# Runs the whole test suite from a local .venv (created on first use).
# PostgreSQL tests run when one answers at CHATRELAY_TEST_POSTGRES_URL
# (default postgresql+asyncpg://postgres@127.0.0.1:5432/test) and are skipped otherwise.
set -eu
cd "$(dirname "$0")"
scripts/bootstrap.sh dev
exec .venv/bin/python -m pytest "$@"
