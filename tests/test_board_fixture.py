"""The ``board`` fixture with pytester, on the host VM and the emulated micro:bit, and
``hilrig.connect`` from a script."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from real_targets import MICROBIT, ROOT, microbit_spec

from hilrig.targets.find import BUILTIN_DIR

pytest_plugins = ["pytester"]


def readme_example() -> str:
    """The first Python block of the README's "Testing with the board fixture" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Testing with the board fixture", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "README lost its board fixture example"
    return match.group(1)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A user project with the built-in targets copied into targets/ and an empty suites/."""
    pytester.makeconftest('pytest_plugins = ["hilrig.plugin"]\n')
    (pytester.path / "targets").mkdir()
    for name in ("unix", MICROBIT):
        text = (BUILTIN_DIR / f"{name}.toml").read_text()
        (pytester.path / "targets" / f"{name}.toml").write_text(text)
    (pytester.path / "suites").mkdir()
    return pytester


@pytest.mark.parametrize("target", ["unix", MICROBIT])
def test_readme_example_passes(project: pytest.Pytester, target: str) -> None:
    if target == MICROBIT:
        microbit_spec()  # skips (fails under CI) without QEMU
    project.makepyfile(test_board=readme_example())
    result = project.runpytest(f"--target={target}", "-v", "--hil-lock-timeout=0")
    result.assert_outcomes(passed=5)


def test_a_failing_test_shows_and_keeps_its_transcript(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_fail="""
        def test_wrong(board):
            assert board.exec("print(6 * 7)") == "41\\n"
        """
    )
    result = project.runpytest("--target=unix", "--junitxml=out.xml")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*hilrig transcript*", "*> b'print(6 * 7)\\x04'*"])
    props = ET.parse(project.path / "out.xml").getroot().iter("property")
    paths = [p.get("value", "") for p in props if p.get("name") == "transcript"]
    assert len(paths) == 1
    assert "print(6 * 7)" in Path(paths[0]).read_text()


def test_fixture_and_programs_share_one_lease(project: pytest.Pytester) -> None:
    # unix has one board; a second connection would wait for its lease and fail at once.
    (project.path / "suites" / "adder.py").write_text("print(sum(range(10)))\n")
    project.makepyfile(
        test_mix="""
        from pathlib import Path
        from hilrig.compare.judge import Verdict

        def test_fixture_then_program(board):
            assert board.eval("sum(range(10))") == 45
            report = board.run_program(Path("suites/adder.py"))
            assert report.comparison.verdict is Verdict.MATCH
            assert board.eval("'still here'") == "still here"
        """
    )
    result = project.runpytest("--target=unix", "--hil-lock-timeout=0")
    result.assert_outcomes(passed=2)


def test_state_does_not_leak_between_tests(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_leak="""
        import pytest, hilrig

        def test_a(board):
            board.exec("secret = 1")
            board.start("while True:\\n    pass\\n")

        def test_b(board):
            with pytest.raises(hilrig.BoardException, match="NameError"):
                board.exec("secret")
        """
    )
    project.runpytest("--target=unix").assert_outcomes(passed=2)


def test_without_target_fixture_tests_skip(project: pytest.Pytester) -> None:
    project.makepyfile(test_skip="def test_x(board):\n    board.exec('pass')\n")
    result = project.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no --target given: run pytest --target=NAME*"])


def test_timeouts_and_non_literals_raise_and_the_board_recovers(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_errors="""
        import pytest
        from hilrig.errors import ExpectFailed, NotALiteral, ProgramTimeout

        def test_errors(board):
            with pytest.raises(ProgramTimeout, match="stopped by Ctrl-C"):
                board.exec("while True:\\n    pass\\n", timeout=0.5)
            with pytest.raises(NotALiteral, match="<object>"):
                board.eval("object()")
            board.start("print('ready')\\nwhile True:\\n    pass\\n")
            with pytest.raises(ExpectFailed, match="'never' did not appear"):
                board.expect("never", timeout=0.3)
            assert board.output == "ready\\n"
            with pytest.raises(ProgramTimeout, match="call interrupt"):
                board.wait(timeout=0.2)
            board.interrupt()
            board.start("print('a')")
            with pytest.raises(ExpectFailed, match="ended without printing 'b'"):
                board.expect("b")
            assert board.eval("[1, (2, 'x'), {'k': None}]") == [1, (2, "x"), {"k": None}]
        """
    )
    project.runpytest("--target=unix").assert_outcomes(passed=1)


WIRED = """\
kind = "hostvm"

[wiring]
uart_loopback_args = [1]
uart_loopback_kwargs = { tx = 4, rx = 5 }
"""


def test_wiring_reaches_programs_and_fixture_tests(project: pytest.Pytester) -> None:
    (project.path / "targets" / "wired.toml").write_text(WIRED)
    suites = project.path / "suites"
    (suites / "uses.py").write_text(
        "from target_wiring import uart_loopback_args, uart_loopback_kwargs\n"
        "print(uart_loopback_args, sorted(uart_loopback_kwargs.items()))\n"
    )
    (suites / "lacks.py").write_text("import target_wiring\nprint(target_wiring.pwm_pins)\n")
    project.makepyfile(
        test_wired="""
        import pytest

        def test_module(board):
            assert board.eval("__import__('target_wiring').uart_loopback_args") == [1]
            assert board.wiring["uart_loopback_kwargs"] == {"tx": 4, "rx": 5}
            board.reset()
            assert board.eval("__import__('target_wiring').uart_loopback_args") == [1]

        @pytest.mark.hilrig_wiring("encoder_loopback_id")
        def test_needs_more(board):
            raise AssertionError("not reached")
        """
    )
    result = project.runpytest("--target=wired", "-rs", "-v")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(["*uses PASSED*"])
    result.stdout.fnmatch_lines_random(
        [
            "*target wired lacks wiring pwm_pins (*wired.toml, ?wiring?)*",
            "*target wired lacks wiring encoder_loopback_id (*wired.toml, ?wiring?)*",
        ]
    )
    result = project.runpytest("--target=unix", "-rs", "suites/uses.py")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*target unix has no ?wiring? table*"])


def test_bad_wiring_is_refused_naming_file_and_name(project: pytest.Pytester) -> None:
    (project.path / "targets" / "bad.toml").write_text('kind = "hostvm"\n[wiring]\n_x = 1\n')
    result = project.runpytest("--target=bad")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*bad.toml: wiring._x is not a name a program can import*"])
    (project.path / "targets" / "nan.toml").write_text('kind = "hostvm"\n[wiring]\nx = [nan]\n')
    result = project.runpytest("--target=nan")
    result.stderr.fnmatch_lines(["*nan.toml: wiring.x holds nan, which a board cannot read*"])


CONNECT_SCRIPT = """
import sys
import hilrig
from hilrig.errors import LeaseTimeout

with hilrig.connect(sys.argv[1], rootdir=sys.argv[2]) as board:
    print("version", board.caps.version_text)
    print("answer", board.eval("6 * 7"))
    try:
        board.exec("1 / 0")
    except hilrig.BoardException as exc:
        print("raised", exc.exc_type)
    board.start("for i in range(3):\\n    print('line', i)\\n")
    print("matched", board.expect(r"line (\\d)").group(0))
    print("rest", board.wait().split())
    try:
        with hilrig.connect(sys.argv[1], rootdir=sys.argv[2], lock_timeout_s=0):
            print("second lease taken")
    except LeaseTimeout:
        print("second lease refused")
"""


@pytest.mark.parametrize("target", ["unix", MICROBIT])
def test_connect_from_a_script(tmp_path: Path, target: str) -> None:
    if target == MICROBIT:
        microbit_spec()
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(CONNECT_SCRIPT))
    (tmp_path / "targets").mkdir()
    text = (BUILTIN_DIR / f"{target}.toml").read_text()
    text = re.sub(r"(?m)^instances = \d+$", "instances = 1", text)
    (tmp_path / "targets" / f"{target}.toml").write_text(text)
    proc = subprocess.run(
        [sys.executable, str(script), target, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[1:] == [
        "answer 42",
        "raised ZeroDivisionError",
        "matched line 0",
        "rest ['line', '0', 'line', '1', 'line', '2']",
        "second lease refused",
    ]
    assert lines[0].startswith("version 1.")
