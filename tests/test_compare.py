"""Comparison rules: outcomes, stdout after normalisation, tracebacks, skips, and the diff."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from soundness import HOST  # the host VM's capabilities, one definition

from hilrig.capabilities import Capabilities, ErrorReporting
from hilrig.compare.judge import MAX_SHOWN_LINES, Verdict, compare_expected, compare_runs
from hilrig.compare.tracebacks import Frame, Traceback, format_traceback, split_exception
from hilrig.results import Outcome, RunResult
from hilrig.targets.spec import CompareSpec

MICROPYTHON = shutil.which("micropython")
MICROBIT = Capabilities(
    platform="microbit",
    version=(1, 9, 2),
    banner="MicroPython v1.9.2-34-gd64154c73 on 2017-09-01; micro:bit",
    float_bits=32,
    error_reporting=ErrorReporting.NORMAL,
)
TERSE_BOARD = Capabilities(
    platform="samd",
    version=(1, 22, 0),
    banner="",
    float_bits=32,
    error_reporting=ErrorReporting.TERSE,
)
NO_BIGINT = Capabilities(
    platform="minimal",
    version=(1, 22, 0),
    banner="",
    float_bits=0,
    small_int_bits=31,
    bigint=False,
)
SPEC = CompareSpec()
NESTED = (
    Frame("t.py", 8, "<module>"),
    Frame("t.py", 2, "f"),
    Frame("t.py", 5, "g"),
)


def ok(stdout: str) -> RunResult:
    return RunResult(outcome=Outcome.OK, stdout=stdout.encode())


def raised(stdout: str, tb: Traceback, newline: str = "\n") -> RunResult:
    text = format_traceback(tb).replace("\n", newline)
    return RunResult(outcome=Outcome.EXCEPTION, stdout=stdout.encode(), traceback=text.encode())


def zero_division(message: str, frames: tuple[Frame, ...] = NESTED) -> Traceback:
    return Traceback(frames, "ZeroDivisionError", message)


def test_identical_runs_match() -> None:
    result = compare_runs(ok("a\nb\n"), ok("a\nb\n"), HOST, HOST, SPEC)
    assert (result.verdict, result.reason, result.diff, result.notes) == (
        Verdict.MATCH,
        "output matches",
        "",
        (),
    )


def test_microbit_floats_and_line_endings_match() -> None:
    board = ok("0.333333\r\n2.0\r\n")
    reference = ok("0.3333333333333333\n2.0\n")
    result = compare_runs(board, reference, MICROBIT, HOST, SPEC)
    assert result.verdict is Verdict.MATCH
    assert result.notes == (
        "line endings \\r\\n -> \\n in board output",
        "1 float matched at 32-bit precision",
    )


@pytest.mark.parametrize("board", ["0.33333334", "0.3333333"])
def test_newer_single_precision_boards_match(board: str) -> None:
    qemu = Capabilities(platform="qemu", version=(1, 26, 0), banner="", float_bits=32)
    assert compare_runs(ok(board + "\n"), ok("0.3333333333333333\n"), qemu, HOST, SPEC).verdict is (
        Verdict.MATCH
    )


def test_wrong_float_is_a_mismatch_with_a_diff() -> None:
    result = compare_runs(ok("x\n0.33334\n"), ok("x\n0.3333333333333333\n"), MICROBIT, HOST, SPEC)
    assert result.verdict is Verdict.MISMATCH
    assert result.reason == "stdout line 2 differs: board '0.33334', reference '0.3333333333333333'"
    assert result.diff.splitlines()[:6] == [
        "--- reference",
        "+++ board",
        "@@ -1,2 +1,2 @@",
        " x",
        "-0.3333333333333333",
        "+0.33334",
    ]


def test_double_precision_board_is_exact() -> None:
    result = compare_runs(ok("0.333333\n"), ok("0.3333333333333333\n"), HOST, HOST, SPEC)
    assert result.verdict is Verdict.MISMATCH


def test_switched_off_normalisers() -> None:
    spec = CompareSpec(floats=False, line_endings=False)
    assert compare_runs(
        ok("0.333333\n"), ok("0.3333333333333333\n"), MICROBIT, HOST, spec
    ).verdict is (Verdict.MISMATCH)
    result = compare_runs(ok("a\r\n"), ok("a\n"), MICROBIT, HOST, spec)
    assert result.verdict is Verdict.MISMATCH
    assert "a\\r" in result.diff  # a carriage return is shown, not obeyed


def test_board_raised_reference_did_not() -> None:
    board = raised("", zero_division("division by zero"))
    result = compare_runs(board, ok(""), MICROBIT, HOST, SPEC)
    assert result.verdict is Verdict.MISMATCH
    assert result.reason == "board raised ZeroDivisionError, reference finished normally"
    assert "  board:     ZeroDivisionError: division by zero" in result.diff
    assert "  reference: finished normally" in result.diff


@pytest.mark.parametrize(
    ("outcome", "words"),
    [
        (Outcome.TIMEOUT, "timed out"),
        (Outcome.CRASH, "crashed"),
        (Outcome.BROKEN, "never started (board broken)"),
    ],
)
def test_board_run_that_did_not_end(outcome: Outcome, words: str) -> None:
    board = RunResult(outcome=outcome, stdout=b"partial\n", detail="no answer in 10.0 s")
    result = compare_runs(board, ok("partial\nrest\n"), MICROBIT, HOST, SPEC)
    assert result.verdict is Verdict.MISMATCH
    assert result.reason == f"board run {words}: no answer in 10.0 s"


def test_board_skip() -> None:
    board = RunResult(outcome=Outcome.SKIP, stdout=b"SKIP\n")
    result = compare_runs(board, ok("1\n"), MICROBIT, HOST, SPEC)
    assert (result.verdict, result.reason) == (
        Verdict.SKIP,
        "board skipped: the program skipped itself",
    )


def test_divide_by_zero_rewording_matches() -> None:
    board = raised("", zero_division("division by zero"), "\r\n")
    reference = raised("", zero_division("divide by zero"))
    result = compare_runs(board, reference, MICROBIT, HOST, SPEC)
    assert result.verdict is Verdict.MATCH
    assert result.notes == (
        "ZeroDivisionError message written by the VM, as MicroPython 1.9.2 (normal errors) and "
        "MicroPython 1.29.0 (detailed errors) write it",
    )


def test_rewording_not_accepted_when_switched_off() -> None:
    board = raised("", zero_division("division by zero"))
    reference = raised("", zero_division("divide by zero"))
    spec = CompareSpec(error_messages=False)
    result = compare_runs(board, reference, MICROBIT, HOST, spec)
    assert result.verdict is Verdict.MISMATCH
    assert result.reason == (
        "ZeroDivisionError message differs: board 'division by zero', reference 'divide by zero'"
    )


def test_terse_board_against_detailed_host() -> None:
    frames = (Frame("t.py", 1, "<module>"),)
    board = raised("", Traceback(frames, "TypeError", "argument num/types mismatch"))
    detailed = "<lambda>() takes 0 positional arguments but 1 were given"
    reference = raised("", Traceback(frames, "TypeError", detailed))
    result = compare_runs(board, reference, TERSE_BOARD, HOST, SPEC)
    assert result.verdict is Verdict.MATCH
    assert any("written by the VM" in note and "terse errors" in note for note in result.notes)


def test_detailed_board_against_detailed_host_compares_messages() -> None:
    frames = (Frame("t.py", 1, "<module>"),)
    board = raised("", Traceback(frames, "ValueError", "bad value 3"))
    reference = raised("", Traceback(frames, "ValueError", "bad value 4"))
    result = compare_runs(board, reference, HOST, HOST, SPEC)
    assert result.verdict is Verdict.MISMATCH
    assert (
        result.reason == "ValueError message differs: board 'bad value 3', reference 'bad value 4'"
    )


def test_float_in_exception_message() -> None:
    frames = (Frame("t.py", 1, "<module>"),)
    board = raised("", Traceback(frames, "ValueError", "bad 0.333333"))
    reference = raised("", Traceback(frames, "ValueError", "bad 0.3333333333333333"))
    result = compare_runs(board, reference, MICROBIT, HOST, SPEC)
    assert result.verdict is Verdict.MATCH


def test_keyboard_interrupt_without_message() -> None:
    frames = (Frame("t.py", 3, "<module>"),)
    board = RunResult(
        outcome=Outcome.EXCEPTION,
        traceback=b'Traceback (most recent call last):\r\n  File "t.py", line 3, in <module>\r\n'
        b"KeyboardInterrupt: \r\n",
    )
    reference = raised("", Traceback(frames, "KeyboardInterrupt"))
    assert compare_runs(board, reference, MICROBIT, None, SPEC).verdict is Verdict.MATCH


def test_frame_line_mismatch_names_the_frame() -> None:
    moved = (NESTED[0], Frame("t.py", 3, "f"), NESTED[2])
    board = raised("", zero_division("divide by zero", moved))
    reference = raised("", zero_division("divide by zero"))
    result = compare_runs(board, reference, HOST, HOST, SPEC)
    assert result.verdict is Verdict.MISMATCH
    assert result.reason == (
        'traceback frame 2 differs: board "t.py", line 3, in f, reference "t.py", line 2, in f'
    )
    rows = result.diff.splitlines()
    assert rows[1] == "traceback, frame by frame (reference | board):"
    assert rows[3].startswith('  >   2  "t.py", line 2, in f')
    assert rows[3].endswith('| "t.py", line 3, in f')
    assert rows[2].startswith("      1")


def test_frame_count_mismatch() -> None:
    board = raised("", zero_division("divide by zero", NESTED[:2]))
    reference = raised("", zero_division("divide by zero"))
    result = compare_runs(board, reference, HOST, HOST, SPEC)
    assert result.reason == (
        "traceback has 2 frames on the board, 3 in the reference (first difference at frame 3)"
    )
    assert "(no frame)" in result.diff


def test_exception_type_mismatch() -> None:
    board = raised("", Traceback(NESTED, "ValueError", "x"))
    reference = raised("", Traceback(NESTED, "TypeError", "x"))
    result = compare_runs(board, reference, HOST, HOST, SPEC)
    assert result.reason == "board raised ValueError, reference TypeError"


def test_board_without_source_lines() -> None:
    frames = tuple(Frame(f.file, None, f.function) for f in NESTED)
    board = raised("", zero_division("divide by zero", frames))
    result = compare_runs(board, raised("", zero_division("divide by zero")), HOST, HOST, SPEC)
    assert result.verdict is Verdict.MATCH
    assert any("MICROPY_ENABLE_SOURCE_LINE=0" in note for note in result.notes)


def test_rename_maps_stdin_to_the_program() -> None:
    stdin = tuple(Frame("<stdin>", f.line, f.function) for f in NESTED)
    board = raised("", zero_division("divide by zero", stdin))
    reference = raised("", zero_division("divide by zero"))
    plain = compare_runs(board, reference, HOST, HOST, SPEC)
    assert plain.verdict is Verdict.MISMATCH
    renamed = compare_runs(board, reference, HOST, HOST, SPEC, rename={"<stdin>": "t.py"})
    assert renamed.verdict is Verdict.MATCH
    assert "frame file <stdin> read as t.py" in renamed.notes


def test_truncated_board_output() -> None:
    lines = "".join(f"line {i}\n" for i in range(1000))
    board = RunResult(outcome=Outcome.OK, stdout=lines[:1025].encode(), truncated=True)
    result = compare_runs(board, ok(lines), HOST, HOST, SPEC)
    assert result.verdict is Verdict.MISMATCH
    assert lines[:1025].count("\n") == 126
    assert (
        result.reason == "board output truncated after 1025 bytes; the 126 whole lines before match"
    )
    assert "board output truncated after 1025 bytes" in result.notes
    assert "... 873 more reference lines after the board's output was cut" in result.diff


def test_long_outputs_are_capped_in_the_diff() -> None:
    reference = "".join(f"r{i}\n" for i in range(500))
    board = "".join(f"b{i}\n" for i in range(450))
    result = compare_runs(ok(board), ok(reference), HOST, HOST, SPEC)
    removed = [x for x in result.diff.splitlines() if x.startswith("-r")]
    added = [x for x in result.diff.splitlines() if x.startswith("+b")]
    assert len(removed) == MAX_SHOWN_LINES and len(added) == 0
    assert "... 300 more reference and 450 more board lines not shown" in result.diff
    assert result.reason == "stdout line 1 differs: board 'b0', reference 'r0'"


def test_long_lines_are_cut_in_the_diff() -> None:
    result = compare_runs(ok("x" * 5000 + "\n"), ok("y\n"), HOST, HOST, SPEC)
    assert max(len(line) for line in result.diff.splitlines()) < 200
    assert "(+4841 characters)" in result.diff


def test_missing_final_newline_is_visible() -> None:
    result = compare_runs(ok("a"), ok("a\n"), HOST, HOST, SPEC)
    assert result.verdict is Verdict.MISMATCH
    assert result.reason == "stdout differs in line endings or the final newline"
    assert "+a  (no newline)" in result.diff


def overflow_board(stdout: str) -> RunResult:
    tb = Traceback((Frame("t.py", 2, "<module>"),), "OverflowError", "small int overflow")
    return raised(stdout, tb)


def test_overflow_without_big_ints_is_a_skip() -> None:
    reference = ok("1\n1180591620717411303424\n")
    result = compare_runs(overflow_board("1\n"), reference, NO_BIGINT, HOST, SPEC)
    assert result.verdict is Verdict.SKIP
    assert result.reason == (
        "needs big integers beyond the board's 31-bit ints "
        "(the reference printed 1180591620717411303424)"
    )


def test_overflow_after_different_output_is_a_mismatch() -> None:
    reference = ok("1\n1180591620717411303424\n")
    result = compare_runs(overflow_board("2\n"), reference, NO_BIGINT, HOST, SPEC)
    assert result.verdict is Verdict.MISMATCH


def test_overflow_on_a_bigint_board_is_a_real_failure() -> None:
    result = compare_runs(overflow_board("1\n"), ok("1\n2\n"), HOST, HOST, SPEC)
    assert result.verdict is Verdict.MISMATCH
    assert result.reason == "board raised OverflowError, reference finished normally"


def test_overflow_skip_switched_off() -> None:
    spec = CompareSpec(ints=False)
    result = compare_runs(overflow_board("1\n"), ok("1\n2\n"), NO_BIGINT, HOST, spec)
    assert result.verdict is Verdict.MISMATCH


def test_maxsize_differences_stay() -> None:
    result = compare_runs(ok("2147483647\n"), ok("9223372036854775807\n"), MICROBIT, HOST, SPEC)
    assert result.verdict is Verdict.MISMATCH


def test_expected_file_without_traceback() -> None:
    assert compare_expected(ok("a\r\n"), b"a\n", MICROBIT, SPEC).verdict is Verdict.MATCH
    assert compare_expected(ok("b\n"), b"a\n", MICROBIT, SPEC).verdict is Verdict.MISMATCH


def test_expected_file_ending_with_a_traceback() -> None:
    expected = b"start\n" + format_traceback(zero_division("divide by zero")).encode()
    board = raised("start\r\n", zero_division("division by zero"), "\r\n")
    assert compare_expected(board, expected, MICROBIT, SPEC).verdict is Verdict.MATCH
    result = compare_expected(board, b"start\n", MICROBIT, SPEC)
    assert result.reason == "board raised ZeroDivisionError, reference finished normally"


def test_board_finished_where_expected_file_has_a_traceback() -> None:
    expected = b"start\n" + format_traceback(zero_division("divide by zero")).encode()
    result = compare_expected(ok("start\n"), expected, MICROBIT, SPEC)
    assert result.verdict is Verdict.MISMATCH
    assert "+++ board" in result.diff


def run_vm(command: list[str], source: str, cwd: Path) -> RunResult:
    """A real run of ``source`` as cwd/t.py, stdout and traceback apart."""
    (cwd / "t.py").write_text(source)
    proc = subprocess.run([*command, "t.py"], cwd=cwd, capture_output=True, timeout=30, check=False)
    out, tb = split_exception(proc.stdout.decode())
    if not tb:  # CPython (and the unix port before 1.27) print the traceback to stderr
        tb = proc.stderr.decode()
    outcome = Outcome.EXCEPTION if tb else Outcome.OK
    return RunResult(outcome=outcome, stdout=out.encode(), traceback=tb.encode())


PROGRAM = """\
def f(x):
    return g(x)

def g(x):
    return 1 / x

print(1 / 3)
f(0)
"""


@pytest.mark.skipif(MICROPYTHON is None, reason="host micropython not on PATH")
def test_host_vm_against_cpython(tmp_path: Path) -> None:
    assert MICROPYTHON is not None
    host = run_vm([MICROPYTHON], PROGRAM, tmp_path)
    cpython = run_vm([sys.executable, "-B"], PROGRAM, tmp_path)
    rename = {str(tmp_path / "t.py"): "t.py"}
    result = compare_runs(host, cpython, HOST, None, SPEC, rename)
    assert result.verdict is Verdict.MATCH, result.reason + "\n" + result.diff
    assert any(note.startswith("known rewording") for note in result.notes)


@pytest.mark.skipif(MICROPYTHON is None, reason="host micropython not on PATH")
def test_host_vm_against_itself_with_a_changed_line(tmp_path: Path) -> None:
    assert MICROPYTHON is not None
    reference = run_vm([MICROPYTHON], PROGRAM, tmp_path)
    changed = run_vm(
        [MICROPYTHON],
        PROGRAM.replace("def f(x):\n    return g(x)\n", "def f(x): return g(x)\n\n"),
        tmp_path,
    )
    result = compare_runs(changed, reference, HOST, HOST, SPEC)
    assert result.verdict is Verdict.MISMATCH
    assert result.reason == (
        'traceback frame 2 differs: board "t.py", line 1, in f, reference "t.py", line 2, in f'
    )


def test_handler_frames_of_micropython_1_9_collapse_with_a_note() -> None:
    # Real shapes: host 1.29 `<module>:6, f:3`; micro:bit 1.9.2 adds `f:5` for the finally block.
    host = (
        b"Traceback (most recent call last):\n"
        b'  File "p.py", line 6, in <module>\n'
        b'  File "p.py", line 3, in f\n'
        b"ValueError: x\n"
    )
    board = (
        b"Traceback (most recent call last):\r\n"
        b'  File "p.py", line 6, in <module>\r\n'
        b'  File "p.py", line 5, in f\r\n'
        b'  File "p.py", line 3, in f\r\n'
        b"ValueError: x\r\n"
    )
    old = Capabilities(
        platform="microbit", version=(1, 9, 2), banner="", error_reporting=ErrorReporting.DETAILED
    )
    new = Capabilities(
        platform="linux", version=(1, 29, 0), banner="", error_reporting=ErrorReporting.DETAILED
    )
    brd = RunResult(Outcome.EXCEPTION, b"", board)
    ref = RunResult(Outcome.EXCEPTION, b"", host)
    result = compare_runs(brd, ref, old, new, CompareSpec())
    assert result.verdict is Verdict.MATCH
    assert any("1 extra frame(s) from exception handlers collapsed" in n for n in result.notes)
    off = compare_runs(brd, ref, old, new, CompareSpec(handler_frames=False))
    assert off.verdict is Verdict.MISMATCH
    # A different innermost line is still a failure.
    wrong = RunResult(Outcome.EXCEPTION, b"", board.replace(b"line 3, in f", b"line 4, in f"))
    assert compare_runs(wrong, ref, old, new, CompareSpec()).verdict is Verdict.MISMATCH


def test_raw_byte_is_not_its_escape_text() -> None:
    result = compare_expected(ok_bytes(b"\xff\n"), b"\\xff\n", HOST, SPEC)
    assert result.verdict is Verdict.MISMATCH
    assert "<0xff>" in result.diff and "-\\xff" in result.diff
    assert compare_expected(ok_bytes(b"\xff\n"), b"\xff\n", HOST, SPEC).verdict is Verdict.MATCH


@pytest.mark.parametrize(
    ("board", "ref"),
    [("3.50", "3.5"), ("1.10", "1.1"), ("1.500000e+00", "1.5"), ("100.0", "1e2")],
)
def test_formatted_numbers_compare_as_text_on_64_bit_boards(board: str, ref: str) -> None:
    result = compare_runs(ok(f"x {board}\n"), ok(f"x {ref}\n"), HOST, HOST, SPEC)
    assert result.verdict is Verdict.MISMATCH


def ok_bytes(stdout: bytes) -> RunResult:
    return RunResult(outcome=Outcome.OK, stdout=stdout)
