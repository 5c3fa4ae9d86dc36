#!/usr/bin/env sh
# Creates .venv (once) and installs the locked dependencies plus chatrelay itself.
# Usage: scripts/bootstrap.sh [runtime|dev]. Re-runs are no-ops until a lock file changes.
set -eu
cd "$(dirname "$0")/.."
kind="${1:-runtime}"
lock="requirements.lock"
[ "$kind" = "dev" ] && lock="requirements-dev.lock"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "chatrelay needs Python 3.11 or newer (found: $("$python" --version 2>&1)). Set PYTHON=/path/to/python3.11." >&2
    exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.installed-$kind"
want="$(cat "$lock" pyproject.toml | cksum)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installing dependencies from $lock into .venv ..." >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$lock"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
    echo "$want" > "$stamp"
fi
