#!/usr/bin/env sh
# Runs chatrelay from a local .venv (created on first use). Default command: `chatrelay run`.
# Examples: ./run.sh            (start every configured platform)
#           ./run.sh chat       (talk to the bot in this terminal)
set -eu
cd "$(dirname "$0")"
scripts/bootstrap.sh runtime
[ "$#" -eq 0 ] && set -- run
exec .venv/bin/chatrelay "$@"
