"""A virtualenv built from one requirements file alone, as `make run` builds it on a clean
machine, cached under the system temp dir by the file's hash so only a changed lock pays
for the build.

``FRESH_VENV_REQUIREMENTS=path`` builds it from another file instead of the runtime lock,
e.g. an old hand-kept ``requirements.txt``, to see the same tests fail on it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = ROOT / "requirements.txt"
# Cached venvs nobody used for this long are removed when a new one is built.
STALE_AFTER_SECONDS = 14 * 24 * 3600
# A first build downloads every runtime package; give a slow connection its time.
BUILD_TIMEOUT_SECONDS = 900


def requirements_under_test() -> Path:
    override = os.environ.get("FRESH_VENV_REQUIREMENTS")
    return Path(override).resolve() if override else RUNTIME_LOCK


def cache_root() -> Path:
    # Per user and private: a venv planted by someone else must never run our tests.
    root = Path(tempfile.gettempdir()) / f"event-shop-venvs-{os.getuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    return root


def cache_key(requirements: Path) -> str:
    identity = f"{sys.version}|{platform.machine()}|{platform.system()}".encode()
    return hashlib.sha256(requirements.read_bytes() + b"\0" + identity).hexdigest()[:20]


def fresh_venv(requirements: Path) -> Path:
    """The venv for ``requirements``: reused when one was completed for the same file,
    built otherwise. A lock file serializes concurrent builds (two test runs, xdist)."""
    root = cache_root()
    key = cache_key(requirements)
    venv = root / key
    done = venv / ".complete"
    with (root / f"{key}.lock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if done.exists():
            done.touch()  # marks it as in use for the pruning below
            return venv
        shutil.rmtree(venv, ignore_errors=True)  # an interrupted build
        _build(venv, requirements)
        done.write_text(f"{requirements}\n")
    _prune_stale(root, keep=venv)
    return venv


def _build(venv: Path, requirements: Path) -> None:
    # `python -m venv` from inside our dev venv still makes a venv on the base interpreter,
    # without access to the dev venv's packages.
    _run([sys.executable, "-m", "venv", str(venv)])
    install = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-input"]
    # The locks carry hashes; an old hand-kept file has none (and pip refuses a file
    # where some lines have hashes and some do not).
    if "--hash=" in requirements.read_text():
        install.append("--require-hashes")
    _run([*install, "-r", str(requirements)])


def _run(command: list[str]) -> None:
    result = subprocess.run(
        command,
        cwd=ROOT,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
        )


def _prune_stale(root: Path, *, keep: Path) -> None:
    cutoff = time.time() - STALE_AFTER_SECONDS
    for candidate in root.iterdir():
        marker = candidate / ".complete"
        if candidate != keep and marker.exists() and marker.stat().st_mtime < cutoff:
            shutil.rmtree(candidate, ignore_errors=True)
            (root / f"{candidate.name}.lock").unlink(missing_ok=True)


def clean_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without anything that would lend the fresh venv the
    dev venv's packages."""
    env = {
        key: value
        for key, value in os.environ.items()
        # PROMETHEUS_MULTIPROC_DIR: settings exported this process's; bin/serve would empty it.
        if key
        not in {
            "PYTHONPATH",
            "PYTHONHOME",
            "VIRTUAL_ENV",
            "PYTHONSTARTUP",
            "PROMETHEUS_MULTIPROC_DIR",
        }
    }
    dev_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(
        part for part in env.get("PATH", "").split(os.pathsep) if part != dev_bin
    )
    env.update(overrides)
    return env
