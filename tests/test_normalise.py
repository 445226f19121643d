"""Each normaliser on its own: line endings, floats, ints, exception types and messages, names."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hilrig.capabilities import Capabilities, ErrorReporting
from hilrig.compare.normalise import (
    align_floats,
    compare_messages,
    floats_match,
    int_beyond,
    is_float_repr,
    normalise_line_endings,
    rename_frames,
    same_exception_type,
)
from hilrig.compare.tracebacks import Frame, Traceback, parse_traceback, split_exception

MICROPYTHON = shutil.which("micropython")
HOST = Capabilities(
    platform="linux", version=(1, 29, 0), banner="", error_reporting=ErrorReporting.DETAILED
)
OLD = Capabilities(
    platform="microbit", version=(1, 9, 2), banner="", error_reporting=ErrorReporting.NORMAL
)
TERSE_NEW = Capabilities(
    platform="samd", version=(1, 22, 0), banner="", error_reporting=ErrorReporting.TERSE
)
NONE_NEW = Capabilities(
    platform="tiny", version=(1, 24, 0), banner="", error_reporting=ErrorReporting.NONE
)
CPY = Capabilities(platform="cpython", version=(3, 11, 0), banner="CPython")
THIRD = "0.3333333333333333"  # print(1/3) on the host VM and CPython
DETAILED = ErrorReporting.DETAILED
NORMAL = ErrorReporting.NORMAL
TERSE = ErrorReporting.TERSE
NONE = ErrorReporting.NONE


def test_line_endings_like_run_tests() -> None:
    assert normalise_line_endings("a\r\nb\r\r\nc\rd\n") == "a\nb\nc\rd\n"


@pytest.mark.parametrize(
    "board",
    [
        "0.333333",  # %.6g: micro:bit 1.9.2
        "0.3333333",  # %.7g: single precision before v1.26
        "0.33333334",  # shortest round trip of the float32, v1.26 and later
        "0.333333343",  # %.9g
    ],
)
def test_single_precision_third_matches(board: str) -> None:
    assert floats_match(board, THIRD, 32)


@pytest.mark.parametrize(
    "board",
    [
        "0.33334",
        "0.3333334",
        "0.33333",
        "0.3333332",
        "0.3333333432674408",  # reads back as the float32, but no board prints 16 digits of it
        "0.3333333333333343",  # a digit changed where single precision cannot see it
    ],
)
def test_single_precision_wrong_digits_differ(board: str) -> None:
    assert not floats_match(board, THIRD, 32)


def test_double_precision_is_exact() -> None:
    assert floats_match(THIRD, THIRD, 64)
    assert not floats_match("0.333333", THIRD, 64)
    assert not floats_match("0.3333333333333334", THIRD, 64)


@pytest.mark.parametrize(
    ("board", "ref", "bits"),
    [
        ("1e+10", "10000000000.0", 32),  # %.7g writes an exponent where repr writes digits
        ("1e+08", "100000000.0", 32),
        ("100000000.0", "100000000.0", 32),  # 1.26 and later write it like repr
        ("1e-05", "1e-05", 32),
        ("2.0", "2.0", 32),
        ("2.0", "2.0000000001", 32),  # integral once rounded to float32
        ("inf", "1e+39", 32),  # beyond float32: the board overflows to inf
        ("inf", "inf", 64),
        ("nan", "nan", 32),
        ("0.0", "1e-50", 32),  # below float32: zero
        ("0.1", "0.1", 32),
        ("3.14159", "3.141592653589793", 32),
        ("123456.8", "123456.789", 32),
    ],
)
def test_float_spellings_match(board: str, ref: str, bits: int) -> None:
    assert floats_match(board, ref, bits)


@pytest.mark.parametrize(
    ("board", "ref", "bits"),
    [
        ("inf", "nan", 32),
        ("1e+10", "1e+11", 32),
        ("inf", "1e+38", 32),
        ("hello", "0.5", 32),
        ("3.1416", "3.141592653589793", 32),  # 5 digits is too few for single precision
        ("1e10", "1e+10", 64),  # a board with the reference's precision compares exactly
        ("100.0", "1e2", 64),
        ("1e+02", "100.0", 64),
        ("3.50", "3.5", 32),  # '%.2f' % 3.5: formatted text, not a float repr
        ("3.50", "3.5", 64),
        ("1.10", "1.1", 32),  # str of a string, or '%.2f'
        ("1.500000e+00", "1.5", 32),  # '%e'
        ("1.5", "1.500000e+00", 32),  # the reference token is no float repr
        ("0.33", "0.330", 32),
    ],
)
def test_float_spellings_differ(board: str, ref: str, bits: int) -> None:
    assert not floats_match(board, ref, bits)


def test_thirty_bit_floats() -> None:
    assert floats_match("0.333333", THIRD, 30)  # %.6g: micro:bit 1.9.2
    assert not floats_match("0.33333", THIRD, 30)  # %.5g: no board prints that
    assert not floats_match("0.33334", THIRD, 30)


def test_float_repr_tokens() -> None:
    assert is_float_repr("0.1") and is_float_repr("1e+16") and is_float_repr("inf")
    assert not is_float_repr("0.10") and not is_float_repr("1e16") and not is_float_repr("1.0e5")


def test_align_floats_rewrites_only_matching_floats() -> None:
    board = "x = 0.333333, y = 0.5\nratio 0.33334\nversion 1.9.2\n"
    ref = f"x = {THIRD}, y = 0.5\nratio {THIRD}\nversion 1.9.2\n"
    aligned = align_floats(board, ref, 32)
    assert aligned.text == f"x = {THIRD}, y = 0.5\nratio 0.33334\nversion 1.9.2\n"
    assert aligned.matched == 1


def test_align_floats_text_around_numbers_must_be_equal() -> None:
    assert align_floats("a: 0.333333\n", f"a = {THIRD}\n", 32).text == "a: 0.333333\n"
    assert align_floats("-0.0\n", "0.0\n", 32).text == "-0.0\n"  # the sign is text


def test_align_floats_survives_a_missing_line() -> None:
    board = "start\n0.333333\nend\n"
    ref = f"start\nextra\n{THIRD}\nend\n"
    assert align_floats(board, ref, 32).text == f"start\n{THIRD}\nend\n"


def test_align_floats_leaves_words_and_versions_alone() -> None:
    board = "info nan1 v1.9.2 0x1e5 10.0.0.1\n"
    assert align_floats(board, "info nan1 v1.9.2 0x1e5 10.0.0.2\n", 32).matched == 0


def test_int_beyond() -> None:
    assert int_beyond("1073741823 -1073741824", 31) is None
    assert int_beyond("ok 1073741824", 31) == "1073741824"
    assert int_beyond("x -1073741825", 31) == "-1073741825"
    assert int_beyond("1.5e100 3.0", 31) is None  # floats are not ints


def test_exception_type_aliases() -> None:
    assert same_exception_type("ImportError", "ModuleNotFoundError")
    assert same_exception_type("RuntimeError", "RecursionError")
    assert not same_exception_type("ValueError", "TypeError")


def run_both(expression: str, tmp_path: Path) -> tuple[Traceback, Traceback]:
    """The exception `expression` raises on the host VM and on CPython, from real runs."""
    assert MICROPYTHON is not None
    (tmp_path / "prog.py").write_text(expression + "\n")
    found = []
    for command in ([MICROPYTHON], [sys.executable, "-B"]):
        proc = subprocess.run(
            [*command, "prog.py"], cwd=tmp_path, capture_output=True, text=True, check=False
        )
        tb = parse_traceback(split_exception(proc.stdout)[1] or proc.stderr)
        assert tb is not None, proc.stdout + proc.stderr
        found.append(tb)
    return found[0], found[1]


@pytest.mark.skipif(MICROPYTHON is None, reason="host micropython not on PATH")
@pytest.mark.parametrize(
    "expression",
    [
        "1/0",
        "1//0",
        "1.0/0",
        "undefined_name",
        "int('x')",
        "{}['k']",
        "import nope",
        "1+'a'",
        "float('x')",
        "int(float('inf'))",
        "int(float('nan'))",
        "(lambda: 0)(0)",
        "open('/no/such/file')",
    ],
)
def test_known_rewordings_between_micropython_and_cpython(expression: str, tmp_path: Path) -> None:
    host, cpython = run_both(expression, tmp_path)
    assert same_exception_type(host.exc_type, cpython.exc_type)
    check = compare_messages(cpython.exc_type, host.message, cpython.message, HOST, CPY)
    assert check.same, (host.message, cpython.message)


def test_micropython_versions_reword_division() -> None:
    check = compare_messages("ZeroDivisionError", "division by zero", "divide by zero", OLD, HOST)
    assert check.same
    assert "written by the VM" in check.note
    # One version prints one of them: a 1.29 board saying "division" is not explained.
    assert not compare_messages(
        "ZeroDivisionError", "division by zero", "divide by zero", HOST, HOST
    ).same


def test_rewording_keeps_names() -> None:
    check = compare_messages(
        "NameError", "name 'y' is not defined", "name 'x' isn't defined", OLD, HOST
    )
    assert not check.same
    assert not compare_messages("KeyError", "k", "'j'", HOST, CPY).same
    # KeyError prints str(key) on MicroPython, repr(key) on CPython; between two MicroPython
    # VMs the quotes are part of the key.
    assert compare_messages("KeyError", "k", "'k'", HOST, CPY).same
    assert not compare_messages("KeyError", "k", "'k'", OLD, HOST).same


def test_exact_message_needs_no_rule() -> None:
    assert compare_messages("ValueError", "bad", "bad", OLD, HOST).note == ""


def test_program_messages_compare_exactly_across_levels() -> None:
    assert not compare_messages("ValueError", "flag is True", "flag is False", OLD, HOST).same
    assert not compare_messages("ValueError", "level low", "level high", TERSE_NEW, HOST).same
    assert not compare_messages("ValueError", "", "bad value", TERSE_NEW, HOST).same


@pytest.mark.parametrize(
    ("board", "caps"),
    [("argument num/types mismatch", "terse"), ("", "none")],
)
def test_terse_board_prints_the_vm_message_short(board: str, caps: str) -> None:
    board_caps = TERSE_NEW if caps == "terse" else NONE_NEW
    check = compare_messages(
        "TypeError",
        board,
        "<lambda>() takes 0 positional arguments but 1 were given",
        board_caps,
        HOST,
    )
    assert check.same
    assert "written by the VM" in check.note


def test_a_detailed_board_may_not_print_the_terse_text() -> None:
    check = compare_messages(
        "TypeError",
        "argument num/types mismatch",
        "<lambda>() takes 0 positional arguments but 1 were given",
        HOST,
        HOST,
    )
    assert not check.same


def test_normal_board_against_detailed_host() -> None:
    check = compare_messages(
        "TypeError",
        "function takes 0 positional arguments but 1 were given",
        "<lambda>() takes 0 positional arguments but 1 were given",
        OLD,
        HOST,
    )
    assert check.same


def test_normal_board_against_detailed_host_still_needs_the_numbers() -> None:
    check = compare_messages(
        "TypeError",
        "function takes 1 positional arguments but 2 were given",
        "<lambda>() takes 0 positional arguments but 1 were given",
        OLD,
        HOST,
    )
    assert not check.same


def test_vm_message_from_another_site_is_not_explained() -> None:
    check = compare_messages(
        "TypeError", "object not iterable", "'int' object isn't callable", TERSE_NEW, HOST
    )
    assert not check.same


def test_rename_frames() -> None:
    tb = Traceback((Frame("<stdin>", 1, "<module>"), Frame("lib.py", 2, "f")), "ValueError")
    renamed = rename_frames(tb, {"<stdin>": "suites/basics/t.py"})
    assert renamed.frames == (Frame("suites/basics/t.py", 1, "<module>"), Frame("lib.py", 2, "f"))
    assert rename_frames(tb, {}) is tb
