"""The lock files are what `make lock` makes of pyproject.toml: every package pinned with
its hashes, nothing a declared dependency needs left out (extras included: the Redis
transport's `packaging` went missing from the hand-kept pins), and both locks agreeing.

The closure is checked against the metadata of the packages installed from the dev lock,
for Linux, macOS and Windows on this Python. `make install-dev` first if a check says the
installed version differs from the lock.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import Marker, default_environment
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = ROOT / "requirements.txt"
DEV_LOCK = ROOT / "requirements-dev.txt"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


@dataclass(frozen=True)
class Pin:
    name: NormalizedName
    version: str
    marker: Marker | None
    hashes: frozenset[str]

    def applies(self, environment: dict[str, str]) -> bool:
        return self.marker is None or self.marker.evaluate(environment)


def read_lock(path: Path) -> list[Pin]:
    """The entries of a `uv pip compile` / `pip-compile` output: ``name==version ; marker``
    followed by its ``--hash`` options, continued with backslashes."""
    text = re.sub(r"\\\n", " ", path.read_text())
    pins = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement_text = line.split(" --hash=", 1)[0].strip()
        requirement = Requirement(requirement_text)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", (
            f"{path.name}: {requirement_text!r} is not an exact pin"
        )
        pins.append(
            Pin(
                name=canonicalize_name(requirement.name),
                version=specifiers[0].version,
                marker=requirement.marker,
                hashes=frozenset(HASH.findall(line)),
            )
        )
    return pins


def environments() -> list[dict[str, str]]:
    """This interpreter as it would report itself on each major platform."""
    here = default_environment()
    return [
        {**here, "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"},
        {**here, "sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix"},
        {**here, "sys_platform": "win32", "platform_system": "Windows", "os_name": "nt"},
    ]


def pinned_for(pins: list[Pin], environment: dict[str, str]) -> dict[NormalizedName, Pin]:
    chosen: dict[NormalizedName, Pin] = {}
    for pin in pins:
        if pin.applies(environment):
            assert pin.name not in chosen, f"two pins of {pin.name} for one environment"
            chosen[pin.name] = pin
    return chosen


def missing_from_lock(roots: list[str], pins: list[Pin], environment: dict[str, str]) -> list[str]:
    """What ``roots`` need in ``environment``, transitively and with their extras, that
    the lock does not pin (or pins at a version the requirement refuses)."""
    pinned = pinned_for(pins, environment)
    problems: list[str] = []
    seen: set[tuple[NormalizedName, frozenset[str]]] = set()
    queue = [(Requirement(text), "pyproject.toml") for text in roots]
    while queue:
        requirement, wanted_by = queue.pop()
        name = canonicalize_name(requirement.name)
        pin = pinned.get(name)
        if pin is None:
            problems.append(f"{requirement} (wanted by {wanted_by}) is not in the lock")
            continue
        if not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{requirement} (wanted by {wanted_by}) refuses {pin.version}")
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            if pin.applies(default_environment()):
                raise  # needed here, yet not installed: `make install-dev`
            # Pinned for another platform only (pywin32, colorama): its pin is all we
            # can check here; a machine of that platform checks the rest.
            continue
        assert installed == pin.version, (
            f"{name} {installed} is installed but the lock pins {pin.version}: "
            "run `make install-dev`"
        )
        for text in importlib.metadata.requires(name) or []:
            dependency = Requirement(text)
            needed = dependency.marker is None or any(
                dependency.marker.evaluate({**environment, "extra": extra})
                for extra in requirement.extras | {""}
            )
            if needed:
                queue.append((dependency, f"{name}[{','.join(sorted(requirement.extras))}]"))
    return problems


RUNTIME_PINS = read_lock(RUNTIME_LOCK)
DEV_PINS = read_lock(DEV_LOCK)
RUNTIME_ROOTS = PYPROJECT["project"]["dependencies"]
DEV_ROOTS = RUNTIME_ROOTS + PYPROJECT["dependency-groups"]["dev"]


@pytest.mark.parametrize("lock", [RUNTIME_LOCK, DEV_LOCK], ids=lambda path: path.name)
def test_every_entry_is_pinned_with_its_hashes_and_says_it_is_generated(lock):
    pins = read_lock(lock)
    assert pins
    assert [pin.name for pin in pins if not pin.hashes] == []
    assert "autogenerated" in lock.read_text().splitlines()[0]
    assert "make lock" in lock.read_text().splitlines()[1]


@pytest.mark.parametrize(
    "environment", environments(), ids=lambda environment: environment["sys_platform"]
)
def test_the_runtime_lock_holds_all_that_the_declared_dependencies_need(environment):
    assert missing_from_lock(RUNTIME_ROOTS, RUNTIME_PINS, environment) == []


@pytest.mark.parametrize(
    "environment", environments(), ids=lambda environment: environment["sys_platform"]
)
def test_the_dev_lock_holds_all_that_the_runtime_and_the_dev_group_need(environment):
    assert missing_from_lock(DEV_ROOTS, DEV_PINS, environment) == []


def test_the_dev_lock_pins_every_runtime_package_at_the_runtime_version_and_hashes():
    dev = {(pin.name, str(pin.marker)): pin for pin in DEV_PINS}
    disagreements = [
        (pin.name, pin.version, dev.get((pin.name, str(pin.marker))))
        for pin in RUNTIME_PINS
        if dev.get((pin.name, str(pin.marker))) != pin
    ]
    assert disagreements == []


def test_kombus_redis_transport_needs_are_locked_for_the_runtime():
    """The bug that made the locks: `celery -A config worker` on redis:// imported
    `packaging`, which only the dev requirements happened to bring."""
    pinned = pinned_for(RUNTIME_PINS, environments()[0])
    assert {"redis", "packaging", "kombu", "celery"} <= set(pinned)
