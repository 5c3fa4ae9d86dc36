"""The container tests build the real Dockerfile with podman through
``../shared/tools/container-smoke.sh`` (there is no Docker engine here) and run the image.

They are part of the default run: warm (the base image and podman's layer cache on this machine)
the build and run take about 20 s; cold, the first time on a machine, about 3 minutes (podman
installed with apt, a Debian base image bootstrapped, the dependencies installed).
``CHATRELAY_CONTAINER_TESTS=0`` (or ``-m "not container"``) leaves them out;
``scripts/container-check.sh`` runs only them. They are skipped, never passed, when podman
cannot be used here: no container-smoke.sh, not root, or podman and its tools cannot be
installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTAINER_TESTS_ENV = "CHATRELAY_CONTAINER_TESTS"
SMOKE_ENV = "CHATRELAY_CONTAINER_SMOKE"
SHARED_TOOLS_SMOKE = Path("/work/shared/tools/container-smoke.sh")
# The tools container-smoke.sh uses, by the Debian package that has them.
TOOLS = {
    "podman": "podman",
    "runc": "runc",
    "debootstrap": "debootstrap",
    "slirp4netns": "slirp4netns",
    "nsenter": "util-linux",
    "curl": "curl",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(CONTAINER_TESTS_ENV, "1") != "0":
        return
    skip = pytest.mark.skip(reason=f"{CONTAINER_TESTS_ENV}=0: the image is not built")
    for item in items:
        if item.get_closest_marker("container"):
            item.add_marker(skip)


def smoke_script() -> Path:
    """container-smoke.sh: ``$CHATRELAY_CONTAINER_SMOKE``, else ``../shared/tools/`` beside the
    project, else the workplace's /work/shared/tools (a clone elsewhere, as CI's may be)."""
    configured = os.environ.get(SMOKE_ENV)
    if configured:
        return Path(configured)
    candidates = [ROOT.parent / "shared/tools/container-smoke.sh", SHARED_TOOLS_SMOKE]
    return next((path for path in candidates if path.is_file()), candidates[0])


def _install(apt_get: str, packages: list[str]) -> str | None:
    """apt-get install ``packages``; None when done, else why not."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt_get, "install", "-y", "-q", *packages]
    for attempt in range(2):
        if attempt == 1:  # an old or missing package list: update once and retry
            subprocess.run([apt_get, "update", "-q"], capture_output=True, env=env, check=False)
        done = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
        if done.returncode == 0:
            return None
    tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
    return f"`{' '.join(install)}` failed: {' | '.join(tail)}"


@pytest.fixture(scope="session")
def container_smoke() -> Path:
    """The path of container-smoke.sh once podman and its tools are usable; skips otherwise."""
    script = smoke_script()
    if not script.is_file():
        pytest.skip(f"no container-smoke.sh at {script} (set {SMOKE_ENV} to its path)")
    if os.geteuid() != 0:
        pytest.skip("container-smoke.sh needs root (rootful podman)")
    missing = sorted({pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None})
    if missing:
        apt_get = shutil.which("apt-get")
        if apt_get is None:
            pytest.skip(f"podman and its tools are missing ({', '.join(missing)}) and no apt-get")
        reason = _install(apt_get, missing)
        if reason is not None:
            pytest.skip(f"cannot install podman and its tools: {reason}")
    return script
