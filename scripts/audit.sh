#!/usr/bin/env bash
# Audit the locked dependencies for known vulnerabilities with pip-audit; any found fails (exit 1).
#
#   scripts/audit.sh [LOCK...]        (default: requirements.lock requirements-dev.lock)
#
# When no vulnerability service can be reached (a connection error, or every dependency skipped
# because the service answered for none of them), it says so in one line,
#   pip-audit: no vulnerability service reachable; audit NOT done
# and exits 0: only then does an audit that did not happen pass. Any other failure of pip-audit
# exits non-zero too.
#
# PIP_AUDIT (default .venv/bin/pip-audit), PYTHON (default .venv/bin/python) and
# PIP_AUDIT_SERVICE (pypi or osv; default pypi) may be set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."

PIP_AUDIT="${PIP_AUDIT:-.venv/bin/pip-audit}"
PYTHON="${PYTHON:-.venv/bin/python}"
SERVICE="${PIP_AUDIT_SERVICE:-pypi}"
if [ "$#" -gt 0 ]; then locks=("$@"); else locks=(requirements.lock requirements-dev.lock); fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Reads one pip-audit run (exit code, JSON report if written, stderr) and decides:
# 0 audited and clean, 1 vulnerabilities found, 2 pip-audit failed, 3 no service reachable.
read -r -d '' DECIDE <<'PY' || true
import json
import sys
from pathlib import Path

lock, code, report, stderr_path = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
stderr = Path(stderr_path).read_text(errors="replace")
UNREACHABLE = (
    "ConnectionError", "NameResolutionError", "Name or service not known",
    "Temporary failure in name resolution", "Network is unreachable", "ConnectTimeout",
    "Max retries exceeded", "Connection refused",
)


def failed() -> int:
    sys.stderr.write(stderr)
    print(f"pip-audit: {lock}: the audit failed (pip-audit exit {code})")
    return 2


def decide() -> int:
    if not report.is_file() or not report.read_text().strip():
        return 3 if any(sign in stderr for sign in UNREACHABLE) else failed()
    dependencies = json.loads(report.read_text())["dependencies"]
    found = [(dep, vuln) for dep in dependencies for vuln in dep.get("vulns", [])]
    for dep, vuln in found:
        fixes = ", ".join(vuln.get("fix_versions", [])) or "no fixed release"
        aliases = ", ".join(vuln.get("aliases", []))
        print(
            f"pip-audit: {lock}: {dep['name']} {dep.get('version', '?')} has {vuln['id']}"
            + (f" ({aliases})" if aliases else "") + f"; fixed in: {fixes}"
        )
    if found:
        return 1
    skipped = [dep for dep in dependencies if "skip_reason" in dep]
    if dependencies and len(skipped) == len(dependencies):
        return 3
    if code != 0:
        return failed()
    for dep in skipped:
        print(f"pip-audit: {lock}: not audited: {dep['name']}: {dep['skip_reason']}")
    audited = len(dependencies) - len(skipped)
    print(f"pip-audit: {lock}: {audited} dependencies audited, no known vulnerability")
    return 0


sys.exit(decide())
PY

worst=0
unreachable=0
for lock in "${locks[@]}"; do
    rm -f "$work/report.json"
    code=0
    "$PIP_AUDIT" --requirement "$lock" --disable-pip --no-deps --progress-spinner off \
        --vulnerability-service "$SERVICE" --format json --output "$work/report.json" \
        >"$work/stdout" 2>"$work/stderr" || code=$?
    verdict=0
    "$PYTHON" -c "$DECIDE" "$lock" "$code" "$work/report.json" "$work/stderr" || verdict=$?
    case "$verdict" in
        0) ;;
        3) unreachable=1 ;;
        *) if [ "$verdict" -gt "$worst" ]; then worst="$verdict"; fi ;;
    esac
done

if [ "$unreachable" -eq 1 ]; then
    echo "pip-audit: no vulnerability service reachable; audit NOT done"
fi
if [ "$worst" -ne 0 ]; then
    exit "$worst"
fi
exit 0
