"""scripts/audit.sh: a known vulnerability fails CI; an audit that could not happen says so.

The decisions are tested with a stand-in for pip-audit that replays recorded pip-audit output
(its JSON report format, its stderr on a connection error); one test runs the real pip-audit.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "audit.sh"
UNREACHABLE_LINE = "pip-audit: no vulnerability service reachable; audit NOT done"

# What pip-audit 2.10 wrote on this machine, where PyPI's per-version JSON answers 404.
ALL_SKIPPED = {
    "dependencies": [
        {
            "name": "aiohttp",
            "skip_reason": "Dependency not found on PyPI and could not be audited: "
            "aiohttp (3.14.5)",
        },
        {
            "name": "httpx",
            "skip_reason": "Dependency not found on PyPI and could not be audited: httpx (0.28.1)",
        },
    ],
    "fixes": [],
}
VULNERABLE = {
    "dependencies": [
        {"name": "httpx", "version": "0.28.1", "vulns": []},
        {
            "name": "aiohttp",
            "version": "3.9.1",
            "vulns": [
                {
                    "id": "PYSEC-2024-24",
                    "fix_versions": ["3.9.2"],
                    "aliases": ["CVE-2024-23334", "GHSA-5h86-8mv2-jq9f"],
                }
            ],
        },
    ],
    "fixes": [],
}
CLEAN = {
    "dependencies": [
        {"name": "httpx", "version": "0.28.1", "vulns": []},
        {"name": "chatrelay-local", "skip_reason": "Dependency not found on PyPI"},
    ],
    "fixes": [],
}
CONNECTION_ERROR = (
    "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.osv.dev', port=443): "
    'Max retries exceeded with url: /v1/query (Caused by NameResolutionError("Failed to '
    "resolve 'api.osv.dev' ([Errno -2] Name or service not known)\"))\n"
)

FAKE_PIP_AUDIT = f"""#!{sys.executable}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_AUDIT_ARGS"], "a") as log:
    log.write(json.dumps(args) + "\\n")
report = os.environ.get("FAKE_AUDIT_REPORT")
if report:
    with open(args[args.index("--output") + 1], "w") as out:
        out.write(report)
sys.stderr.write(os.environ.get("FAKE_AUDIT_STDERR", ""))
sys.exit(int(os.environ.get("FAKE_AUDIT_CODE", "0")))
"""


@dataclass
class Audit:
    code: int
    output: str
    calls: list[list[str]]


def run_audit(tmp_path: Path, *, report: object = None, stderr: str = "", code: int = 0) -> Audit:
    fake = tmp_path / "pip-audit"
    fake.write_text(FAKE_PIP_AUDIT)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    calls = tmp_path / "calls.jsonl"
    env = {
        **os.environ,
        "PIP_AUDIT": str(fake),
        "PYTHON": sys.executable,
        "FAKE_AUDIT_ARGS": str(calls),
        "FAKE_AUDIT_REPORT": "" if report is None else json.dumps(report),
        "FAKE_AUDIT_STDERR": stderr,
        "FAKE_AUDIT_CODE": str(code),
    }
    done = subprocess.run(
        [str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    lines = calls.read_text().splitlines() if calls.exists() else []
    return Audit(done.returncode, done.stdout + done.stderr, [json.loads(x) for x in lines])


def test_both_lock_files_are_audited_pinned_as_they_are(tmp_path: Path) -> None:
    audit = run_audit(tmp_path, report=CLEAN)
    assert audit.code == 0, audit.output
    assert [call[call.index("--requirement") + 1] for call in audit.calls] == [
        "requirements.lock",
        "requirements-dev.lock",
    ]
    for call in audit.calls:
        assert {"--no-deps", "--disable-pip"} <= set(call)  # the locked versions, not a resolve
        assert call[call.index("--format") + 1] == "json"


def test_a_known_vulnerability_fails_and_is_named(tmp_path: Path) -> None:
    audit = run_audit(tmp_path, report=VULNERABLE, code=1)
    assert audit.code != 0
    assert "aiohttp 3.9.1 has PYSEC-2024-24 (CVE-2024-23334, GHSA-5h86-8mv2-jq9f)" in audit.output
    assert "fixed in: 3.9.2" in audit.output
    assert UNREACHABLE_LINE not in audit.output


def test_a_clean_audit_passes_and_says_what_it_could_not_audit(tmp_path: Path) -> None:
    audit = run_audit(tmp_path, report=CLEAN)
    assert audit.code == 0
    assert "requirements.lock: 1 dependencies audited, no known vulnerability" in audit.output
    assert "not audited: chatrelay-local" in audit.output
    assert UNREACHABLE_LINE not in audit.output


@pytest.mark.parametrize(
    ("report", "stderr", "code"),
    [(ALL_SKIPPED, "", 0), (None, CONNECTION_ERROR, 1)],
    ids=["every-dependency-skipped", "connection-error"],
)
def test_no_reachable_service_says_so_in_one_line_and_passes(
    tmp_path: Path, report: object, stderr: str, code: int
) -> None:
    audit = run_audit(tmp_path, report=report, stderr=stderr, code=code)
    assert audit.code == 0, audit.output
    assert audit.output.splitlines() == [UNREACHABLE_LINE]


def test_any_other_pip_audit_failure_fails(tmp_path: Path) -> None:
    audit = run_audit(tmp_path, stderr="ERROR: invalid requirement: 'aiohttp=='\n", code=1)
    assert audit.code != 0
    assert "invalid requirement" in audit.output
    assert "the audit failed" in audit.output
    assert UNREACHABLE_LINE not in audit.output


def test_the_real_pip_audit_never_passes_silently(tmp_path: Path) -> None:
    """A lock with a version known to be vulnerable: either the audit finds it, or it says it
    could not run (machines that reach no vulnerability service)."""
    lock = tmp_path / "old.lock"
    lock.write_text("urllib3==1.26.4\n")
    env = {**os.environ, "PIP_AUDIT": str(ROOT / ".venv" / "bin" / "pip-audit")}
    done = subprocess.run(
        [str(SCRIPT), str(lock)], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    output = done.stdout + done.stderr
    if done.returncode == 0:
        assert UNREACHABLE_LINE in output
    else:
        assert "urllib3 1.26.4 has" in output
