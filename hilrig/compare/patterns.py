"""Expected output with patterns, as MicroPython's run-tests.py matches it.

Some programs print what changes from run to run (addresses, memory figures, the module list of
``help('modules')``). run-tests.py keeps a list of them; their ``.exp`` file may hold:

- ``########`` on a line of its own: any number of whole lines (zero or more), up to the first
  line that matches the pattern after it;
- any other line: a regular expression written the other way round from Python's: the
  characters ``( ) [ ] { } . * + ^ $`` are literal, and a backslash makes the next character a
  regex character (``\\[0-9\\]\\+`` is ``[0-9]+``, ``\\\\d`` is ``\\d``); matched from the start
  of the output line, with carriage returns accepted before the newline.

Each output line a pattern matched is replaced by that pattern; the result must then equal the
``.exp`` file byte for byte. The diff shows the patterns against the lines that did not match.
"""

from __future__ import annotations

import difflib
import re

from hilrig.compare.judge import Comparison, Verdict
from hilrig.results import RunResult

ANY_LINES = b"########\n"
_SPECIAL = "()[]{}.*+^$"


def pattern_regex(line: bytes) -> re.Pattern[bytes]:
    """One ``.exp`` line as a regular expression (run-tests.py's ``convert_regex_escapes``)."""
    out: list[str] = []
    escape = False
    for char in line.decode("utf-8", "surrogateescape"):
        if escape:
            escape = False
            out.append(char)
        elif char == "\\":
            escape = True
        elif char in _SPECIAL:
            out.append("\\" + char)
        else:
            out.append(char)
    if out and out[-1] == "\n":
        out[-1] = "\r*\n"
    return re.compile("".join(out).encode("utf-8", "surrogateescape"))


def apply_patterns(output: bytes, expected: bytes) -> bytes:
    """The output with every line a pattern matched replaced by the pattern."""
    patterns = [
        (line, None if line == ANY_LINES else pattern_regex(line))
        for line in expected.splitlines(keepends=True)
    ]
    lines = [line + b"\n" for line in output.split(b"\n")]
    if output.endswith(b"\n"):
        lines = lines[:-1]
    at = 0
    for index, (text, regex) in enumerate(patterns):
        if regex is None:
            at, failed = _skip_any(lines, at, patterns[index + 1 :])
            if failed:
                break
        else:
            if at < len(lines) and regex.match(lines[at]):
                lines[at] = text
            at += 1
        if at >= len(lines):
            break
    return b"".join(lines)


def _skip_any(
    lines: list[bytes], at: int, rest: list[tuple[bytes, re.Pattern[bytes] | None]]
) -> tuple[int, bool]:
    """``########``: drop lines up to the first one the next pattern matches."""
    following = rest[0][1] if rest else None
    skip = 0
    while at + skip < len(lines) and not (
        following is not None and following.match(lines[at + skip])
    ):
        skip += 1
    if at + skip >= len(lines):
        if at < len(lines):
            lines[at] = b"######## FAIL\n"
        return at, True
    del lines[at : at + skip]
    lines.insert(at, ANY_LINES)
    return at + 1, False


def compare_patterns(board: RunResult, expected: bytes, exp_name: str) -> Comparison:
    """A board run (stdout, then its traceback as printed) against a ``.exp`` with patterns."""
    output = (board.stdout + board.traceback).replace(b"\r\n", b"\n")
    expected = expected.replace(b"\r\n", b"\n")
    matched = apply_patterns(output, expected)
    if matched == expected:
        return Comparison(Verdict.MATCH, f"output matches the patterns of {exp_name}")
    want = expected.decode("utf-8", "backslashreplace").splitlines()
    got = matched.decode("utf-8", "backslashreplace").splitlines()
    first = next(
        (i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b),
        min(len(want), len(got)),
    )
    diff = "\n".join(
        difflib.unified_diff(want, got, f"{exp_name} (patterns)", "board", lineterm="")
    )
    return Comparison(
        Verdict.MISMATCH,
        f"output line {first + 1} does not match the pattern in {exp_name}",
        diff,
        (
            f"{exp_name} holds patterns: '########' stands for any lines, other lines are "
            "regular expressions; lines that matched are shown as their pattern",
        ),
    )
