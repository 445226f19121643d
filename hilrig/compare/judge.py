"""Compare a board run with its reference: a verdict, a one-line reason, a readable diff, notes.

Order of checks, the first failing one gives the reason:

1. How the runs ended. A board SKIP is a SKIP; TIMEOUT / CRASH / BROKEN on either side is a
   MISMATCH carrying that run's detail. A board without big ints that raised OverflowError where
   the reference did not, after printing what the reference printed, is a SKIP ("needs big
   integers beyond the board's N-bit ints"). Otherwise OK against EXCEPTION is a MISMATCH.
2. Truncated output can never match: the reason says so and whether the part seen agrees.
3. stdout, after the normalisers of :mod:`hilrig.compare.normalise` that the target's
   CompareSpec enables.
4. Tracebacks frame by frame (count, then file, line, function of each; file names mapped by
   ``rename`` first; lines skipped where the board records none), then the exception type, then
   the message (:func:`hilrig.compare.normalise.compare_messages`).

A ``.py.exp`` file holds the whole expected output, as MicroPython's run-tests records it: stdout,
then the traceback text when the program is expected to end with an uncaught exception.
:func:`compare_expected` splits that traceback off (when the board raised) and compares as above,
with the reference's error reporting taken as DETAILED.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from hilrig.capabilities import CPYTHON_CAPS, Capabilities
from hilrig.compare.normalise import (
    align_floats,
    collapse_handler_frames,
    compare_messages,
    int_beyond,
    normalise_line_endings,
    rename_frames,
    same_exception_type,
)
from hilrig.compare.tracebacks import (
    Frame,
    Traceback,
    first_frame_difference,
    frame_table,
    parse_traceback,
    split_exception,
)
from hilrig.results import Outcome, RunResult
from hilrig.targets.spec import CompareSpec

MAX_SHOWN_LINES = 200  # per side, in the stdout diff
MAX_LINE_CHARS = 160
_NO_RENAMES: Mapping[str, str] = MappingProxyType({})
_UNFINISHED_TEXT = {
    Outcome.TIMEOUT: "timed out",
    Outcome.CRASH: "crashed",
    Outcome.BROKEN: "never started (board broken)",
}


class Verdict(enum.Enum):
    """What a comparison decided."""

    MATCH = "match"
    MISMATCH = "mismatch"
    SKIP = "skip"


@dataclass(frozen=True)
class Comparison:
    """The verdict, one line saying why, a diff for the terminal and the normalisers' notes."""

    verdict: Verdict
    reason: str
    diff: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Side:
    """One run, normalised: stdout text and the parsed (or, failing that, raw) traceback."""

    out: str
    raised: bool
    tb: Traceback | None
    tb_text: str


def compare_runs(
    board: RunResult,
    reference: RunResult,
    caps: Capabilities,
    ref_caps: Capabilities | None,
    spec: CompareSpec,
    rename: Mapping[str, str] = _NO_RENAMES,
) -> Comparison:
    """Compare a board run with the reference run (host VM or CPython; ref_caps None: CPython)."""
    notes: list[str] = []
    ref, brd = _sides(reference, board, caps, spec, rename, notes)
    verdict, reason = _judge(
        board, reference, brd, ref, caps, ref_caps or CPYTHON_CAPS, spec, notes
    )
    if board.truncated:
        notes.append(f"board output truncated after {len(board.stdout)} bytes")
    diff = "" if verdict is not Verdict.MISMATCH else render_diff(ref, brd, board.truncated)
    return Comparison(verdict=verdict, reason=reason, diff=diff, notes=tuple(notes))


def compare_expected(
    board: RunResult,
    expected: bytes,
    caps: Capabilities,
    spec: CompareSpec,
    rename: Mapping[str, str] = _NO_RENAMES,
) -> Comparison:
    """Compare a board run with a ``.py.exp`` file (stdout, then the traceback if one is due)."""
    text = _decoded(expected)
    before, tb = split_exception(text) if board.outcome is Outcome.EXCEPTION else (text, "")
    reference = RunResult(
        outcome=Outcome.EXCEPTION if tb else Outcome.OK,
        stdout=before.encode("utf-8", "surrogateescape"),
        traceback=tb.encode("utf-8", "surrogateescape"),
    )
    return compare_runs(board, reference, caps, None, spec, rename)


# ---- normalising both sides -----------------------------------------------------------------


def _sides(
    reference: RunResult,
    board: RunResult,
    caps: Capabilities,
    spec: CompareSpec,
    rename: Mapping[str, str],
    notes: list[str],
) -> tuple[_Side, _Side]:
    ref_out, board_out = _decoded(reference.stdout), _decoded(board.stdout)
    ref_tb, board_tb = _decoded(reference.traceback), _decoded(board.traceback)
    if spec.line_endings:
        changed = [
            name for name, t in (("board", board_out), ("reference", ref_out)) if "\r\n" in t
        ]
        ref_out, board_out = normalise_line_endings(ref_out), normalise_line_endings(board_out)
        ref_tb, board_tb = normalise_line_endings(ref_tb), normalise_line_endings(board_tb)
        if changed:
            notes.append(f"line endings \\r\\n -> \\n in {' and '.join(changed)} output")
    ref_parsed = _parse(ref_tb, rename, notes)
    board_parsed = _parse(board_tb, rename, notes)
    if spec.floats and caps.float_bits:
        board_out, board_parsed = _align(board_out, ref_out, board_parsed, ref_parsed, caps, notes)
    return (
        _Side(ref_out, reference.outcome is Outcome.EXCEPTION, ref_parsed, ref_tb),
        _Side(board_out, board.outcome is Outcome.EXCEPTION, board_parsed, board_tb),
    )


def _decoded(data: bytes) -> str:
    """Bytes as text for comparing: a byte that is not UTF-8 stays a distinct character (a lone
    surrogate), so a raw 0xFF never equals the text ``\\xff``; escapes are for display only."""
    return data.decode("utf-8", "surrogateescape")


def _parse(text: str, rename: Mapping[str, str], notes: list[str]) -> Traceback | None:
    tb = parse_traceback(text) if text else None
    if tb is None:
        return None
    renamed = rename_frames(tb, rename)
    for file in sorted({f.file for f in tb.frames if f.file in rename}):
        note = f"frame file {file} read as {rename[file]}"
        if note not in notes:
            notes.append(note)
    return renamed


def _align(
    board_out: str,
    ref_out: str,
    board_tb: Traceback | None,
    ref_tb: Traceback | None,
    caps: Capabilities,
    notes: list[str],
) -> tuple[str, Traceback | None]:
    """Floats at the board's precision, in stdout and in the exception message."""
    out = align_floats(board_out, ref_out, caps.float_bits)
    matched = out.matched
    if board_tb is not None and ref_tb is not None:
        message = align_floats(board_tb.message, ref_tb.message, caps.float_bits)
        matched += message.matched
        board_tb = Traceback(board_tb.frames, board_tb.exc_type, message.text)
    if matched:
        plural = "s" if matched > 1 else ""
        notes.append(f"{matched} float{plural} matched at {caps.float_bits}-bit precision")
    return out.text, board_tb


# ---- judging --------------------------------------------------------------------------------


def _judge(
    board: RunResult,
    reference: RunResult,
    brd: _Side,
    ref: _Side,
    caps: Capabilities,
    ref_caps: Capabilities,
    spec: CompareSpec,
    notes: list[str],
) -> tuple[Verdict, str]:
    ended = _run_ended(board, reference)
    if ended is not None:
        return ended
    overflow = _needs_big_ints(brd, ref, caps) if spec.ints and not caps.bigint else None
    if overflow is not None:
        return Verdict.SKIP, overflow
    if board.truncated or reference.truncated:
        return Verdict.MISMATCH, _truncated(board, reference, brd, ref)
    if brd.raised != ref.raised:
        return Verdict.MISMATCH, f"board {_ending(brd)}, reference {_ending(ref)}"
    if brd.out != ref.out:
        return Verdict.MISMATCH, _stdout_reason(brd.out, ref.out)
    problem = _traceback_problem(brd, ref, caps, ref_caps, spec, notes)
    if problem is not None:
        return Verdict.MISMATCH, problem
    return Verdict.MATCH, "output and traceback match" if brd.raised else "output matches"


def _run_ended(board: RunResult, reference: RunResult) -> tuple[Verdict, str] | None:
    """Runs that did not end normally or with an exception decide the verdict themselves."""
    for name, run in (("board", board), ("reference", reference)):
        if run.outcome is Outcome.SKIP:
            return Verdict.SKIP, f"{name} skipped: {run.detail or 'the program skipped itself'}"
        if not run.outcome.finished:
            detail = f": {run.detail}" if run.detail else ""
            return Verdict.MISMATCH, f"{name} run {_UNFINISHED_TEXT[run.outcome]}{detail}"
    return None


def _needs_big_ints(brd: _Side, ref: _Side, caps: Capabilities) -> str | None:
    """A no-bigint board stopped with OverflowError where the reference went on: a skip."""
    if brd.tb is None or brd.tb.exc_type != "OverflowError":
        return None
    if ref.tb is not None and ref.tb.exc_type == "OverflowError":
        return None
    if not ref.out.startswith(_whole_lines(brd.out)):
        return None  # the board printed something else before it overflowed: a real difference
    reason = f"needs big integers beyond the board's {caps.small_int_bits}-bit ints"
    big = int_beyond(ref.out, caps.small_int_bits)
    return reason + (f" (the reference printed {big})" if big is not None else "")


def _ending(side: _Side) -> str:
    if not side.raised:
        return "finished normally"
    return f"raised {side.tb.exc_type}" if side.tb is not None else "raised an exception"


def _truncated(board: RunResult, reference: RunResult, brd: _Side, ref: _Side) -> str:
    cut, other, name = (brd, ref, "board") if board.truncated else (ref, brd, "reference")
    size = len((board if board.truncated else reference).stdout)
    seen = _whole_lines(cut.out)
    lines = seen.count("\n")
    if other.out.startswith(seen):
        return f"{name} output truncated after {size} bytes; the {lines} whole lines before match"
    return f"{name} output truncated after {size} bytes, and it differs before the cut"


def _whole_lines(text: str) -> str:
    """``text`` up to its last newline: a cut or interrupted last line is left out."""
    return text[: text.rfind("\n") + 1]


def _stdout_reason(board: str, ref: str) -> str:
    board_lines, ref_lines = board.splitlines(), ref.splitlines()
    for n, (b, r) in enumerate(zip(board_lines, ref_lines, strict=False), start=1):
        if b != r:
            return f"stdout line {n} differs: board {_short(b)}, reference {_short(r)}"
    if len(board_lines) < len(ref_lines):
        return (
            f"board stdout stops after {len(board_lines)} of the reference's {len(ref_lines)} lines"
        )
    if len(board_lines) > len(ref_lines):
        return f"board printed {len(board_lines)} lines, the reference {len(ref_lines)}"
    return "stdout differs in line endings or the final newline"


def _traceback_problem(
    brd: _Side,
    ref: _Side,
    caps: Capabilities,
    ref_caps: Capabilities,
    spec: CompareSpec,
    notes: list[str],
) -> str | None:
    if not brd.raised:
        return None
    if brd.tb is None or ref.tb is None:
        same = brd.tb_text.strip() == ref.tb_text.strip()
        unparsed = "board's" if brd.tb is None else "reference's"
        return None if same else f"tracebacks differ (the {unparsed} could not be parsed)"
    frames = _frames_problem(brd.tb.frames, ref.tb.frames, notes)
    if frames is not None and spec.handler_frames and len(brd.tb.frames) > len(ref.tb.frames):
        collapsed = collapse_handler_frames(brd.tb.frames)
        same = _frames_problem(collapsed, ref.tb.frames, []) is None
        if len(collapsed) == len(ref.tb.frames) and same:
            notes.append(
                f"{len(brd.tb.frames) - len(collapsed)} extra frame(s) from exception handlers "
                f"collapsed (MicroPython 1.9 records one per handler passed)"
            )
            frames = None
    if frames is not None:
        return frames
    b_type, r_type = brd.tb.exc_type, ref.tb.exc_type
    b_msg, r_msg = brd.tb.message, ref.tb.message
    if not spec.error_messages:
        if b_type != r_type:
            return f"board raised {b_type}, reference {r_type}"
        return None if b_msg == r_msg else f"{b_type} message differs: {_pair(b_msg, r_msg)}"
    if not same_exception_type(b_type, r_type):
        return f"board raised {b_type}, reference {r_type}"
    check = compare_messages(r_type, b_msg, r_msg, caps, ref_caps)
    if check.note:
        notes.append(check.note)
    return None if check.same else f"{b_type} message differs: {_pair(b_msg, r_msg)}"


def _frames_problem(
    board: tuple[Frame, ...], ref: tuple[Frame, ...], notes: list[str]
) -> str | None:
    if board and all(f.line is None for f in board) and any(f.line is not None for f in ref):
        notes.append(
            "frame lines not compared: the board records none (MICROPY_ENABLE_SOURCE_LINE=0)"
        )
    first = first_frame_difference(board, ref)
    if first is None:
        return None
    if len(board) != len(ref):
        return (
            f"traceback has {len(board)} frames on the board, {len(ref)} in the reference "
            f"(first difference at frame {first + 1})"
        )
    return (
        f"traceback frame {first + 1} differs: board {board[first].describe()}, "
        f"reference {ref[first].describe()}"
    )


def _pair(board: str, ref: str) -> str:
    return f"board {_short(board)}, reference {_short(ref)}"


def _short(text: str, limit: int = 60) -> str:
    """A repr of ``text`` cut to ``limit`` characters, for one-line reasons."""
    shown = repr(text)
    if any(0xDC80 <= ord(c) <= 0xDCFF for c in text):
        shown = "'" + "".join(_escape(c) if 0xDC80 <= ord(c) <= 0xDCFF else c for c in text) + "'"
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


# ---- the diff -------------------------------------------------------------------------------


def render_diff(ref: _Side, brd: _Side, board_truncated: bool) -> str:
    """Unified diff of the normalised stdout, then the tracebacks side by side."""
    parts = [_stdout_diff(ref.out, brd.out, board_truncated)]
    if ref.raised or brd.raised:
        parts.append(_traceback_table(ref, brd))
    return "\n".join(parts)


def _stdout_diff(ref: str, board: str, board_truncated: bool) -> str:
    if ref == board:
        count = len(ref.splitlines())
        return f"stdout: the same on both sides ({count} line{'' if count == 1 else 's'})"
    ref_lines, board_lines = ref.splitlines(keepends=True), board.splitlines(keepends=True)
    cut = len(ref_lines) - len(board_lines) if board_truncated else 0
    if cut > 0:  # the board never got to print the rest; showing it only buries the diff
        ref_lines = ref_lines[: len(board_lines)]
    lines = _capped(difflib.unified_diff(ref_lines, board_lines, "reference", "board"))
    if cut > 0:
        lines.append(f"... {cut} more reference lines after the board's output was cut")
    return "\n".join(lines)


def _capped(diff: Iterable[str]) -> list[str]:
    """Diff lines for a terminal: at most MAX_SHOWN_LINES per side, long lines cut."""
    shown = {"-": 0, "+": 0}
    hidden = {"-": 0, "+": 0}
    out: list[str] = []
    for n, line in enumerate(diff):
        sides = "" if n < 2 or line.startswith("@@") else "-+" if line[:1] == " " else line[:1]
        if any(hidden.values()) or any(shown[side] >= MAX_SHOWN_LINES for side in sides):
            for side in sides:
                hidden[side] += 1
            continue
        for side in sides:
            shown[side] += 1
        out.append(_visible(line) if line.endswith("\n") else _visible(line) + "  (no newline)")
    if any(hidden.values()):
        out.append(f"... {hidden['-']} more reference and {hidden['+']} more board lines not shown")
    return out


def _visible(line: str) -> str:
    """One terminal line: the newline dropped, \\r and other controls escaped, cut if long."""
    text = line.removesuffix("\n")
    text = "".join(c if c.isprintable() or c == "\t" else _escape(c) for c in text)
    extra = len(text) - MAX_LINE_CHARS
    return text if extra <= 0 else f"{text[:MAX_LINE_CHARS]}... (+{extra} characters)"


def _escape(char: str) -> str:
    """A control character as an escape; a byte that is not UTF-8 (decoded as a lone surrogate)
    as ``<0xff>``, so that it cannot be mistaken for the text ``\\xff``."""
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"<0x{code - 0xDC00:02x}>"
    return repr(char)[1:-1]


def _traceback_table(ref: _Side, brd: _Side) -> str:
    """Frames side by side, the first differing one marked '>', then both exceptions."""
    lines = ["traceback, frame by frame (reference | board):"]
    if ref.tb is not None and brd.tb is not None:
        rows = frame_table(ref.tb.frames, brd.tb.frames, MAX_LINE_CHARS // 2)
        lines += [_visible(row) for row in rows]
    for name, side in (("reference", ref), ("board", brd)):
        lines += _exception_rows(name, side)
    return "\n".join(lines)


def _exception_rows(name: str, side: _Side) -> list[str]:
    label = f"  {name + ':':<11}"
    if not side.raised:
        return [f"{label}finished normally"]
    if side.tb is None:
        raw = side.tb_text.splitlines() or ["(nothing captured)"]
        return [f"{label}(traceback not parsed)", *(_visible(f"      {x}") for x in raw)]
    return [_visible(label + side.tb.exception_line().replace("\n", "\\n"))]
