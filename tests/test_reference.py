"""The CPython reference: its tracebacks read like the board's, so a program that ends in an
uncaught exception compares frame by frame (unit, then through the plugin on the host VM)."""

from __future__ import annotations

from pathlib import Path

import pytest
from projects import hil_project

from hilrig.results import Outcome
from hilrig.run.program import read_program
from hilrig.run.reference import CPythonReference

pytest_plugins = ["pytester"]

ENDS_IN_EXCEPTION = "def divide(x):\n    return 1 // x\n\nprint('before')\ndivide(0)\n"


def test_frames_name_the_program_as_the_board_does(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    path = tmp_path / "suites" / "div.py"
    path.write_text(ENDS_IN_EXCEPTION)
    reference = CPythonReference(tmp_path / "cache", 10_000)
    try:
        result = reference.run(read_program(path, tmp_path), 10)
    finally:
        reference.close()  # its fork server
    assert result.outcome is Outcome.EXCEPTION and result.stdout == b"before\n"
    # No absolute path, no source echo, no ~~^^ markers: the board's shape exactly.
    assert result.traceback.decode() == (
        "Traceback (most recent call last):\n"
        '  File "suites/div.py", line 5, in <module>\n'
        '  File "suites/div.py", line 2, in divide\n'
        "ZeroDivisionError: integer division or modulo by zero\n"
    )


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A unix-target project."""
    hil_project(pytester, "unix")
    return pytester


def test_a_program_ending_in_an_exception_passes_against_cpython(
    project: pytest.Pytester,
) -> None:
    (project.path / "suites" / "raises.py").write_text(
        "class Empty(Exception):\n"
        "    pass\n"
        "\n"
        "def pop(items):\n"
        "    if not items:\n"
        "        raise Empty('nothing left')\n"
        "    return items.pop()\n"
        "\n"
        "stack = [1, 2]\n"
        "print(pop(stack), pop(stack))\n"
        "pop(stack)\n"
    )
    result = project.runpytest("--target=unix", "--hil-reference=cpython", "-v")
    result.assert_outcomes(passed=1)


def test_a_frame_on_another_line_fails_against_cpython(project: pytest.Pytester) -> None:
    (project.path / "suites" / "where.py").write_text(
        "import sys\n"
        "if sys.implementation.name == 'micropython':\n"
        "    raise ValueError('here')\n"
        "raise ValueError('here')\n"
    )
    result = project.runpytest("--target=unix", "--hil-reference=cpython")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            '*traceback frame 1 differs: board "suites/where.py", line 3, in <module>, '
            'reference "suites/where.py", line 4, in <module>*'
        ]
    )
