"""bench/gpu_wheels.sh fetches every package the GPU machine's image lacks, at the version
this project installs: a dependency (or a dependency's dependency) missing there stops the
prepared device check at its first import, on a machine lent for minutes.

The packages needed are worked out from the installed distributions' own requirements
(``importlib.metadata``), as pip would resolve them on the device's Python 3.12 on Linux.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
SCRIPT = ROOT / "bench" / "gpu_wheels.sh"
PIN_CALL = re.compile(r"\$\(pin ([A-Za-z0-9_.-]+)\)")
"""A package the script takes at pyproject.toml's pin: ``$(pin NAME)``."""
DEVICE_PYTHON = {"python_version": "3.12", "python_full_version": "3.12.3",
                 "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
                 "platform_machine": "x86_64", "implementation_name": "cpython",
                 "platform_python_implementation": "CPython"}
"""The marker environment of the GPU machine's Python (CPython 3.12 on x86-64 Linux)."""

IN_THE_IMAGE = ["numpy", "scipy", "rich", "matplotlib", "jinja2", "pytest", "hypothesis",
                "psutil"]
"""What the GPU machine's Python has, with what they need (the script's header)."""
NOT_RUN_THERE = {"grpcio-tools", "weasyprint"}
"""Runtime dependencies no device step imports: regenerating the protobuf code
(``services.codegen``) and the report's PDF."""
ALSO_RUN_THERE = ["pgserver", "pytest-timeout"]
"""Development dependencies the device steps use: PostgreSQL for the benches, and the
tests' time limits."""


def on_the_device(requirement: Requirement, extra: str = "") -> bool:
    """Returns whether ``requirement`` applies on the device (its marker, if any, with
    ``extra`` asked for)."""
    return requirement.marker is None or requirement.marker.evaluate(
        {**DEVICE_PYTHON, "extra": extra})


def declared(extra: str | None = None) -> list[Requirement]:
    """Returns pyproject.toml's runtime requirements (or those of an ``extra``) that apply
    on the device."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    specs = project["dependencies"] if extra is None else \
        project["optional-dependencies"][extra]
    return [r for r in map(Requirement, specs) if on_the_device(r)]


def closure(requirements: Iterable[Requirement]) -> set[str]:
    """Returns the names of the requirements and of all they need on the device. A
    package met again with extras not yet followed is followed again for them."""
    followed: dict[str, set[str]] = {}
    todo = list(requirements)
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        extras = {""} | set(requirement.extras)
        new = extras - followed.get(name, set())
        if not new:
            continue
        followed.setdefault(name, set()).update(new)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name} is needed on the device's Python but not installed here, "
                        "so its own requirements are unknown")
        for spec in requires:
            needed = Requirement(spec)
            if any(on_the_device(needed, extra) for extra in sorted(new)):
                todo.append(needed)
    return set(followed)


def fetched() -> dict[str, str | None]:
    """Returns the packages bench/gpu_wheels.sh fetches: name → the version it names, or
    None for those it takes at pyproject.toml's pin."""
    script = SCRIPT.read_text()
    packages: dict[str, str | None] = {
        canonicalize_name(name): None
        for name in PIN_CALL.findall(script)}
    for name, version in re.findall(r"([A-Za-z][A-Za-z0-9_.-]*)==([0-9][A-Za-z0-9_.+!-]*)",
                                    script):
        packages.setdefault(canonicalize_name(name), version)
    return packages


def needed_on_the_device() -> set[str]:
    """Returns the packages the device steps import that its image does not have."""
    runtime = [r for r in declared() if canonicalize_name(r.name) not in NOT_RUN_THERE]
    development = [r for r in declared("dev")
                   if canonicalize_name(r.name) in ALSO_RUN_THERE]
    return closure(runtime + development) - closure(map(Requirement, IN_THE_IMAGE))


def test_every_package_the_device_steps_need_travels_as_a_wheel() -> None:
    missing = needed_on_the_device() - set(fetched())
    assert not missing, f"add to bench/gpu_wheels.sh: {sorted(missing)}"


def test_the_wheels_are_the_versions_this_project_installs() -> None:
    differing = {name: (version, metadata.version(name))
                 for name, version in fetched().items()
                 if version is not None and version != metadata.version(name)}
    assert not differing, f"gpu_wheels.sh version, installed version: {differing}"


def test_each_pin_the_script_reads_is_in_pyproject_once_at_the_installed_version() -> None:
    # The script's pin() greps pyproject.toml for "NAME==…" or "NAME[extra]==…" as
    # written there: a name spelt otherwise would give pip an empty argument.
    text = PYPROJECT.read_text()
    for name in PIN_CALL.findall(SCRIPT.read_text()):
        found = re.findall(rf'"{re.escape(name)}(?:\[[a-z]+\])?==([^"]+)"', text)
        assert len(found) == 1, (name, found)
        assert found[0] == metadata.version(name), (name, found[0])


def test_the_script_fetches_nothing_the_device_steps_do_not_need() -> None:
    needless = set(fetched()) - needed_on_the_device()
    assert not needless, sorted(needless)
