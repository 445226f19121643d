"""Wrong answers through real boards: each fails (and legitimate differences pass) on the host VM
and on the emulated micro:bit, through the pytest plugin as a user runs it."""

from __future__ import annotations

import time

import pytest
from real_targets import MICROBIT, microbit_spec

pytest_plugins = ["pytester"]

TRACEBACK = 'Traceback (most recent call last):\n  File "suites/{name}.py", line 2, in <module>\n'
WRONG = {
    # The message the program constructs differs from the expected one by one word.
    "raise_flag": (
        "flag = True\nraise ValueError('flag is %s' % flag)\n",
        TRACEBACK.format(name="raise_flag") + "ValueError: flag is False\n",
    ),
    # Formatted numbers are text: '3.50' is not '3.5', on any board.
    "formatted": ("x = 3.5\nprint('%.2f' % x)\n", "3.5\n"),
    # The program prints the raw REPL's framing, then goes on.
    "spoof": ("print('a')\nprint('\\x04\\x04>', end='')\nraise ValueError('hidden')\n", "a\n"),
}


@pytest.fixture
def project(
    pytester: pytest.Pytester,
) -> pytest.Pytester:
    pytester.makeconftest('pytest_plugins = ["hilrig.plugin"]\n')
    (pytester.path / "suites").mkdir()
    return pytester


def add(project: pytest.Pytester, name: str, source: str, expected: str | None = None) -> None:
    (project.path / "suites" / f"{name}.py").write_text(source)
    if expected is not None:
        (project.path / "suites" / f"{name}.py.exp").write_text(expected)


@pytest.mark.parametrize("target", ["unix", MICROBIT])
def test_wrong_answers_fail_and_legitimate_ones_pass(project: pytest.Pytester, target: str) -> None:
    if target == MICROBIT:
        microbit_spec()  # skip (or fail under CI) without QEMU
    for name, (source, expected) in WRONG.items():
        add(project, name, source, expected)
    add(project, "typo", "import ujsonn\nprint(1)\n")  # no board and no reference has it
    add(project, "empty", "")
    add(project, "third", "print(1/3, [0.1, 2.5])\n")  # floats at the board's precision
    result = project.runpytest(f"--target={target}", "-rA")
    result.assert_outcomes(passed=2, failed=4)
    result.stdout.fnmatch_lines_random(
        [
            "ValueError message differs: board 'flag is True', reference 'flag is False'",
            "stdout line 1 differs: board '3.50', reference '3.5'",
            "the program's output contained the raw REPL's end-of-output byte*",
            "module ujsonn is missing on the board and on the reference*",
            "PASSED suites/empty.py::empty",
            "PASSED suites/third.py::third",
        ]
    )


def test_raw_byte_is_not_its_escape_on_the_host_vm(project: pytest.Pytester) -> None:
    add(project, "byte", "import sys\nsys.stdout.buffer.write(b'\\xff\\n')\n", "\\xff\n")
    result = project.runpytest("--target=unix")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*stdout line 1 differs: board '<0xff>', reference '\\\\xff'*"])


def test_machine_reset_on_the_microbit_fails_at_once(project: pytest.Pytester) -> None:
    microbit_spec()
    add(project, "reset", "print('before')\nimport machine\nmachine.reset()\nprint('after')\n")
    add(project, "next", "print('next')\n")
    started = time.monotonic()
    result = project.runpytest(f"--target={MICROBIT}", "--hil-timeout=20", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*rebooted while the program ran*(board recovered by*"])
    assert time.monotonic() - started < 15  # not the 20 s limit


def test_output_after_the_end_fails_with_what_went_on(project: pytest.Pytester) -> None:
    """A callback the program scheduled prints after its end: the program fails, the message
    says what went on (not a Ctrl-D it never printed), and the next program runs."""
    late = "import micropython\ndef f(_):\n    print('late')\n"
    add(project, "late", late + "micropython.schedule(f, None)\nmicropython.schedule(f, None)\n")
    add(project, "next", "print('next')\n")
    result = project.runpytest("--target=unix", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*unix VM printed after the program had ended (b'OKhilrig-sync-*\\nlate\\n*"]
    )
    result.stdout.no_fnmatch_line("*must not print*")
