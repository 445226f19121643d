"""Each normaliser on its own: line endings, floats, ints, exception types and messages, names."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hilrig.capabilities import ErrorReporting
from hilrig.normalise import (
    align_floats,
    compare_messages,
    floats_match,
    int_beyond,
    is_float_repr,
    loosely_equal,
    normalise_line_endings,
    rename_frames,
    same_exception_type,
)
from hilrig.tracebacks import Frame, Traceback, parse_traceback, split_exception

MICROPYTHON = shutil.which("micropython")
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
    check = compare_messages(cpython.exc_type, host.message, cpython.message, DETAILED, DETAILED)
    assert check.same, (host.message, cpython.message)


def test_micropython_versions_reword_division() -> None:
    check = compare_messages(
        "ZeroDivisionError", "division by zero", "divide by zero", DETAILED, DETAILED
    )
    assert check.same
    assert "rewording" in check.note


def test_rewording_keeps_names() -> None:
    check = compare_messages(
        "NameError", "name 'x' isn't defined", "name 'y' is not defined", DETAILED, DETAILED
    )
    assert not check.same
    assert not compare_messages("KeyError", "k", "'j'", DETAILED, DETAILED).same


def test_exact_message_needs_no_rule() -> None:
    assert compare_messages("ValueError", "bad", "bad", NORMAL, DETAILED).note == ""


def test_same_level_different_message() -> None:
    assert not compare_messages("ValueError", "bad", "worse", NORMAL, NORMAL).same


@pytest.mark.parametrize("level", [TERSE, NONE])
def test_terse_board_compares_type_only(level: ErrorReporting) -> None:
    check = compare_messages(
        "TypeError",
        "" if level is NONE else "argument num/types mismatch",
        "<lambda>() takes 0 positional arguments but 1 were given",
        level,
        DETAILED,
    )
    assert check.same
    assert f"{level.name} against DETAILED" in check.note


def test_normal_board_against_detailed_host() -> None:
    check = compare_messages(
        "TypeError",
        "function takes 0 positional arguments but 1 were given",
        "<lambda>() takes 0 positional arguments but 1 were given",
        NORMAL,
        DETAILED,
    )
    assert check.same
    assert "loosely" in check.note


def test_normal_board_against_detailed_host_still_needs_the_numbers() -> None:
    check = compare_messages(
        "TypeError",
        "function takes 1 positional arguments but 2 were given",
        "<lambda>() takes 0 positional arguments but 1 were given",
        NORMAL,
        DETAILED,
    )
    assert not check.same


def test_loosely_equal_words() -> None:
    assert loosely_equal("can't convert to str implicitly", "can't convert 'int' object to str")
    assert not loosely_equal("list index out of range", "object has no attribute 'foo'")


def test_rename_frames() -> None:
    tb = Traceback((Frame("<stdin>", 1, "<module>"), Frame("lib.py", 2, "f")), "ValueError")
    renamed = rename_frames(tb, {"<stdin>": "suites/basics/t.py"})
    assert renamed.frames == (Frame("suites/basics/t.py", 1, "<module>"), Frame("lib.py", 2, "f"))
    assert rename_frames(tb, {}) is tb
