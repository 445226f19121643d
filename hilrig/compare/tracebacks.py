"""Tracebacks as data: parse what MicroPython or CPython printed into frames and an exception.

MicroPython prints (``py/obj.c``, ``py/objexcept.c``)::

    Traceback (most recent call last):
      File "<stdin>", line 2, in <module>     # one line per bytecode frame, outermost first
      File "x.py", in f                        # MICROPY_ENABLE_SOURCE_LINE=0: no line number
      File "<stdin>", line 2                   # SyntaxError: no block name
    ValueError: bad value                      # always "Type: message", "ValueError: " when empty

CPython adds source-line echoes and ``^^^`` markers under frames (indented four spaces), prints
``ValueError`` without a colon when there is no message, prints SyntaxErrors without the header
line, and chains exceptions with "During handling ..." / "The above exception ..." sections; the
last section is the exception that ended the program, so that is the one parsed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEADER = "Traceback (most recent call last):"
_CHAIN_SEPARATORS = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
_FRAME = re.compile(r'  File "(?P<file>[^"]*)"(?:, line (?P<line>\d+))?(?:, in (?P<function>.+))?')
_EXCEPTION = re.compile(r"(?P<type>[A-Za-z_][\w.]*)(?::(?: (?P<message>.*))?)?")
# CPython only: source echo and ^^^ markers (four spaces), "[Previous line repeated N more times]".
_CPYTHON_DECORATION = re.compile(r"    |  \[Previous line repeated \d+ more times?\]$")


@dataclass(frozen=True)
class Frame:
    """One traceback entry: the file, the line (None when the firmware records none), the block."""

    file: str
    line: int | None = None
    function: str | None = None

    def describe(self) -> str:
        """The frame as the VM prints it, without the leading 'File'."""
        text = f'"{self.file}"'
        if self.line is not None:
            text += f", line {self.line}"
        if self.function is not None:
            text += f", in {self.function}"
        return text


@dataclass(frozen=True)
class Traceback:
    """An uncaught exception: frames outermost first, the exception type and its message."""

    frames: tuple[Frame, ...]
    exc_type: str
    message: str = ""  # "" for `ValueError: ` and `ValueError`; may span several lines

    def exception_line(self) -> str:
        """'Type: message' as MicroPython prints it (the message may hold newlines)."""
        return f"{self.exc_type}: {self.message}"


def parse_traceback(text: str) -> Traceback | None:
    """Parse a MicroPython or CPython traceback; None when ``text`` is not one."""
    lines = _last_section(text.replace("\r\n", "\n").replace("\r", "\n").strip("\n").split("\n"))
    if not lines:
        return None
    at = 1 if lines[0] == HEADER else 0
    frames: list[Frame] = []
    while at < len(lines):
        match = _FRAME.fullmatch(lines[at])
        if match is not None:
            frames.append(_frame(match))
        elif not (frames and _CPYTHON_DECORATION.match(lines[at])):
            break
        at += 1
    if at == 0 or at >= len(lines):  # neither header nor frame, or no exception line
        return None
    exc = _EXCEPTION.fullmatch(lines[at])
    if exc is None:
        return None
    message = "\n".join([exc.group("message") or "", *lines[at + 1 :]])
    return Traceback(frames=tuple(frames), exc_type=exc.group("type"), message=message)


def format_traceback(tb: Traceback) -> str:
    """The traceback as MicroPython prints it, ending with a newline."""
    lines = [HEADER, *(f"  File {frame.describe()}" for frame in tb.frames), tb.exception_line()]
    return "\n".join(lines) + "\n"


def split_exception(text: str) -> tuple[str, str]:
    """Split output into (what came before, the traceback that ends it); ("text", "") if none.

    Meant for output of a run that ended with an uncaught exception (the unix port >= 1.27 prints
    it to stdout): the traceback must run to the end of ``text``. A CPython chain is kept whole.
    """
    for start in _candidate_starts(text):
        if parse_traceback(text[start:]) is not None:
            cut = _chain_start(text, start)
            return text[:cut], text[cut:]
    return text, ""


def first_frame_difference(board: tuple[Frame, ...], ref: tuple[Frame, ...]) -> int | None:
    """Index of the first frame that differs (a missing frame counts), or None."""
    for i, (b, r) in enumerate(zip(board, ref, strict=False)):
        if not _same_frame(b, r):
            return i
    return None if len(board) == len(ref) else min(len(board), len(ref))


def _same_frame(board: Frame, ref: Frame) -> bool:
    lines_known = board.line is not None and ref.line is not None
    return (
        board.file == ref.file
        and board.function == ref.function
        and (board.line == ref.line or not lines_known)
    )


def frame_table(reference: tuple[Frame, ...], board: tuple[Frame, ...], width: int) -> list[str]:
    """Rows of both frame lists side by side (reference | board), the first difference at '>'."""
    first = first_frame_difference(board, reference)
    left = [f.describe() for f in reference]
    width = min(max((len(x) for x in left), default=0), width)
    rows = []
    for i in range(max(len(reference), len(board))):
        r = left[i] if i < len(reference) else "(no frame)"
        b = board[i].describe() if i < len(board) else "(no frame)"
        mark = ">" if i == first else " "
        rows.append(f"  {mark} {i + 1:>3}  {r:<{width}} | {b}")
    return rows


def _frame(match: re.Match[str]) -> Frame:
    line = match.group("line")
    return Frame(
        file=match.group("file"),
        line=int(line) if line is not None else None,
        function=match.group("function"),
    )


def _last_section(lines: list[str]) -> list[str]:
    """The lines after the last chained-exception separator, leading blank lines dropped."""
    cut = max((i + 1 for i, line in enumerate(lines) if line in _CHAIN_SEPARATORS), default=0)
    rest = lines[cut:]
    while rest and not rest[0].strip():
        rest = rest[1:]
    return rest


def _candidate_starts(text: str) -> list[int]:
    """Offsets of header lines, last first; CPython SyntaxErrors start at a bare frame line."""
    headers = [m.start() for m in re.finditer(rf"^{re.escape(HEADER)}\r?$", text, re.MULTILINE)]
    if headers:
        return headers[::-1]
    return [m.start() for m in re.finditer(r'^  File "', text, re.MULTILINE)][:1]


def _chain_start(text: str, start: int) -> int:
    """Walk back over CPython chain sections so the whole chain is split off."""
    before = text[:start].rstrip("\r\n")
    for separator in _CHAIN_SEPARATORS:
        if before.endswith("\n" + separator) or before == separator:
            previous = before[: -len(separator)].rfind(HEADER)
            if previous >= 0:
                return _chain_start(text, previous)
    return start
