#!/usr/bin/env bash
# Builds the Docker image from ./Dockerfile with podman (../shared/tools/container-smoke.sh: no
# Docker engine needed) and runs it against a fake Telegram and a fake OpenRouter: tests/container.
# ./test.sh runs the same test among the others; this runs it alone. Needs root; installs podman
# with apt on first use. Cold (first base image): about 3 minutes; warm: about 20 s.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev
export CHATRELAY_CONTAINER_TESTS=1
exec .venv/bin/python -m pytest -m container -rA tests/container "$@"
