"""Every number a user gives is checked: options, the ini value, target files and program
directives refuse -1, 0, nan, inf, words and absurd sizes with one sentence naming the setting,
the value and the allowed range."""

from __future__ import annotations

from pathlib import Path

import pytest
from projects import hil_project

from hilrig.cli import main
from hilrig.errors import ConfigError
from hilrig.limits import COUNT, LOCK_TIMEOUT, TIMEOUT
from hilrig.targets.load import load_target

pytest_plugins = ["pytester"]

BAD_SECONDS = ["-1", "0", "nan", "inf", "-inf", "ten", "1e12", ""]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A unix-target project with one passing program."""
    hil_project(pytester, "unix")
    (pytester.path / "suites" / "a.py").write_text("print(1)\n")
    return pytester


def _usage_error(result: pytest.RunResult, words: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in result.stderr.lines if "is not allowed" in line]
    assert len(lines) == 1 and words in lines[0], result.stderr.str()
    assert "Traceback" not in result.stderr.str()


@pytest.mark.parametrize("value", BAD_SECONDS)
def test_hil_timeout_out_of_range_is_a_usage_error(project: pytest.Pytester, value: str) -> None:
    result = project.runpytest("--target=unix", f"--hil-timeout={value}")
    _usage_error(result, f"--hil-timeout = {value} is not allowed: use {TIMEOUT.describe()}.")


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "1.5", "two", "1000000"])
def test_hil_count_out_of_range_is_a_usage_error(project: pytest.Pytester, value: str) -> None:
    result = project.runpytest("--target=unix", f"--hil-count={value}")
    _usage_error(result, f"--hil-count = {value} is not allowed: use {COUNT.describe()}.")


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "soon", "1e9"])
def test_hil_lock_timeout_out_of_range_is_a_usage_error(
    project: pytest.Pytester, value: str
) -> None:
    result = project.runpytest("--target=unix", f"--hil-lock-timeout={value}")
    _usage_error(result, f"--hil-lock-timeout = {value} is not allowed")


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "ten", "1e12"])
def test_ini_timeout_out_of_range_is_a_usage_error(project: pytest.Pytester, value: str) -> None:
    project.makeini(f"[pytest]\nhilrig_timeout = {value}\n")
    result = project.runpytest("--target=unix")
    _usage_error(result, f"ini option hilrig_timeout = {value} is not allowed")


def test_numbers_in_range_are_accepted(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nhilrig_timeout = 20\n")
    result = project.runpytest(
        "--target=unix", "--hil-timeout=2.5", "--hil-count=2", "--hil-lock-timeout=0"
    )
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "ten", "1e12"])
def test_directive_out_of_range_fails_the_program_naming_its_file(
    project: pytest.Pytester, value: str
) -> None:
    (project.path / "suites" / "slow.py").write_text(f"# hilrig: timeout_s={value}\nprint(2)\n")
    result = project.runpytest("--target=unix")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [f"*suites/slow.py: '# hilrig: timeout_s' = {value} is not allowed: use a number from*"]
    )
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timeout_s", "nan"),
        ("timeout_s", "inf"),
        ("timeout_s", "0"),
        ("timeout_s", "1e12"),
        ("instances", "0"),
        ("instances", "100000"),
        ("max_output_bytes", "10"),
        ("[repl]\nplain_pause_s", "-0.5"),
        ("[repl]\nplain_pause_s", "nan"),
        ("[repl]\nplain_chunk_bytes", "0"),
    ],
)
def test_target_file_numbers_out_of_range_name_file_and_field(
    tmp_path: Path, field: str, value: str
) -> None:
    (tmp_path / "targets").mkdir()
    path = tmp_path / "targets" / "t.toml"
    path.write_text(f'kind = "hostvm"\n{field} = {value}\n')
    with pytest.raises(ConfigError) as info:
        load_target("t", tmp_path)
    name = field.replace("[repl]\n", "repl.")
    assert str(info.value).startswith(f"{path}: field {name} = ")
    assert "is not allowed: use a " in str(info.value)


def test_qemu_boot_timeout_out_of_range(tmp_path: Path) -> None:
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "q.toml").write_text(
        'kind = "qemu"\n[qemu]\nmachine = "microbit"\nboot_timeout_s = inf\n'
    )
    with pytest.raises(ConfigError, match=r"field qemu.boot_timeout_s = inf is not allowed"):
        load_target("q", tmp_path)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--count", "0"], f"--count = 0 is not allowed: use {COUNT.describe()}."),
        (["--count", "nan"], "--count = nan is not allowed"),
        (
            ["--lock-timeout", "-1"],
            f"--lock-timeout = -1 is not allowed: use {LOCK_TIMEOUT.describe()}",
        ),
        (["--lock-timeout", "inf"], "--lock-timeout = inf is not allowed"),
    ],
)
def test_repro_numbers_out_of_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    assert main(["repro", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err == f"hilrig: {words}\n" or (words in err and err.count("\n") == 1)
