"""Traceback frames shown with the program's own source lines, checked against the .mpy.

A failure report lists each frame of the board's traceback with the line of source it names.
When the program ran as ``.mpy``, a frame whose line is not in that function's line table is
flagged: the board reported a line the compiled code cannot produce (a VM or loader bug, or a
stale ``.mpy``).
"""

from __future__ import annotations

from hilrig.compare.tracebacks import Frame, parse_traceback
from hilrig.errors import MpyFormatError
from hilrig.mpy.reader import read_mpy

MAX_SOURCE_CHARS = 80


def line_tables(mpy: bytes, name: str) -> dict[str, set[int]]:
    """Source lines per function name (functions sharing a name pool their lines)."""
    try:
        parsed = read_mpy(mpy, name)
    except MpyFormatError:
        return {}
    tables: dict[str, set[int]] = {}
    for _, fn in parsed.functions():
        tables.setdefault(fn.name, set()).update(fn.lines)
    return tables


def annotate(traceback: str, program_name: str, source: bytes, mpy: bytes | None) -> str:
    """'board traceback with source:' and one row per frame; '' if there is no traceback."""
    tb = parse_traceback(traceback)
    if tb is None or not tb.frames:
        return ""
    lines = source.decode("utf-8", errors="replace").splitlines()
    tables = line_tables(mpy, program_name) if mpy is not None else {}
    rows = [_row(frame, program_name, lines, tables) for frame in tb.frames]
    return "board traceback with source:\n" + "\n".join(rows)


def _row(frame: Frame, name: str, lines: list[str], tables: dict[str, set[int]]) -> str:
    where = f"{frame.file}:{frame.line if frame.line is not None else '?'}"
    func = f" in {frame.function}" if frame.function else ""
    if frame.file != name or frame.line is None:
        return f"  {where}{func}"
    text = lines[frame.line - 1].strip() if 0 < frame.line <= len(lines) else "(past the end)"
    if len(text) > MAX_SOURCE_CHARS:
        text = text[: MAX_SOURCE_CHARS - 3] + "..."
    flag = ""
    known = tables.get(frame.function or "")
    if known is not None and frame.line not in known:
        flag = f"   <- line {frame.line} is not in the .mpy line table of {frame.function}"
    return f"  {where}{func}: {text}{flag}"
