"""``hilrig init``: the files it writes work as written, and it refuses to overwrite anything."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml  # PyYAML comes with esptool

from hilrig.cli import main
from hilrig.cli.scaffold import plan_project
from hilrig.errors import ConfigError
from hilrig.targets.load import load_target
from hilrig.targets.spec import Kind

pytest_plugins = ["pytester"]

WRITTEN = (
    "pyproject.toml",
    "tests/hil/hello.py",
    "targets/myboard.toml",
    ".github/workflows/hilrig.yml",
)


def test_an_empty_folder_gets_every_file_and_three_next_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "fw"
    assert main(["init", str(folder)]) == 0
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == sorted(
        WRITTEN
    )
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == [f"Wrote {folder / name}" for name in WRITTEN]
    assert out[4] == "Next:" and len(out) == 8
    assert out[5].startswith(f"  cd {folder} && pytest --target=unix")
    assert out[6].startswith("  hilrig targets")
    assert out[7].startswith("  pytest --target=myboard tests/hil")
    config = tomllib.loads((folder / "pyproject.toml").read_text())
    assert config["tool"]["pytest"]["ini_options"] == {"hilrig_suites": "tests/hil"}
    spec = load_target("myboard", folder)
    assert spec.kind is Kind.SERIAL and spec.boards[0].port == "/dev/ttyACM0"
    workflow = (folder / ".github/workflows/hilrig.yml").read_text()
    assert yaml.safe_load(workflow)["jobs"]["emulated"]["runs-on"] == "ubuntu-24.04"
    assert "pytest --target=unix tests/hil" in workflow
    assert "pytest --target=microbit-qemu tests/hil" in workflow


def test_the_example_runs_on_the_host_vm(pytester: pytest.Pytester) -> None:
    assert main(["init", str(pytester.path)]) == 0
    pytester.makeconftest('pytest_plugins = ["hilrig.plugin"]\n')
    result = pytester.runpytest("--target=unix", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*tests/hil/hello.py::hello PASSED*"])


def test_an_existing_pyproject_without_pytest_settings_gets_the_section_appended(
    tmp_path: Path,
) -> None:
    original = '[project]\nname = "firmware-tools"\nversion = "1.0"'
    (tmp_path / "pyproject.toml").write_text(original)
    assert main(["init", str(tmp_path)]) == 0
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.startswith(original + "\n\n[tool.pytest.ini_options]\n")
    data = tomllib.loads(text)
    assert data["project"]["name"] == "firmware-tools"
    assert data["tool"]["pytest"]["ini_options"]["hilrig_suites"] == "tests/hil"


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        (
            "pyproject.toml",
            "[tool.pytest.ini_options]\naddopts = '-q'\n",
            "already has a [tool.pytest] section",
        ),
        (
            "pyproject.toml",
            "[tool.pytest]\nminversion = '9'\n",
            "already has a [tool.pytest] section",
        ),
        ("pyproject.toml", "[project\n", "is not valid TOML"),
        ("pytest.ini", "[pytest]\n", "holds this project's pytest settings"),
        ("tests/hil/hello.py", "print(1)\n", "already exists; hilrig init overwrites nothing"),
        ("targets/myboard.toml", 'kind = "hostvm"\n', "already exists; hilrig init overwrites"),
        (".github/workflows/hilrig.yml", "name: x\n", "already exists; hilrig init overwrites"),
    ],
)
def test_refuses_and_writes_nothing_when_something_is_in_the_way(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, words: str
) -> None:
    existing = tmp_path / name
    existing.parent.mkdir(parents=True, exist_ok=True)
    existing.write_text(text)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert main(["init", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"hilrig: {existing}") and words in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_a_file_given_as_the_folder_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("")
    with pytest.raises(ConfigError, match=f"^{path} is a file, not a folder"):
        plan_project(path)
