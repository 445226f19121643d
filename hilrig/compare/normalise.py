"""Normalisers: the documented ways board output may differ from the reference and still match.

Each is a small pure function, switched on or off by a field of :class:`CompareSpec`:

* ``line_endings`` — :func:`normalise_line_endings`: ``\\r\\r\\n`` and ``\\r\\n`` become ``\\n``
  (as MicroPython's run-tests does); a lone ``\\r`` is kept.
* ``floats`` — :func:`floats_match` / :func:`align_floats`: on a board with less precision than
  the reference, a board float token matches the reference's when the reference token is the
  ``repr`` of a double and the board token is exactly what a board of that precision prints for
  that value. Formatted text (``%.2f``, ``{:e}``) is never touched; on a board with the
  reference's precision nothing is. All text around the numbers must be equal. Signs belong to
  that text, so ``-0.0`` vs ``0.0`` still differs.
* ``error_messages`` — :func:`same_exception_type` and :func:`compare_messages`: messages the VM
  writes itself may differ between versions and error-reporting levels, only as the table of
  :mod:`hilrig.compare.vm_messages` records; messages a program constructs are compared exactly.
* ``ints`` — :func:`int_beyond`: the first integer a board without big ints cannot hold; the
  comparison turns a board OverflowError into a skip with it. ``sys.maxsize`` and other genuine
  word-size differences are never normalised.

File names in traceback frames are mapped with :func:`rename_frames` (no switch: it is how the
program was sent, not a board difference).
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from difflib import SequenceMatcher

from hilrig.capabilities import Capabilities
from hilrig.compare.tracebacks import Frame, Traceback
from hilrig.compare.vm_messages import same_vm_message

# A float as print() writes it: digits with a point or an exponent, or inf / nan. No sign: the
# sign is compared as text. Not part of a word, a version ("1.9.2") or an address ("10.0.0.1").
FLOAT_TOKEN = re.compile(
    r"(?<![\w.])(?:\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|inf|nan)"
    r"(?![\w]|\.\d)"
)
_INT_TOKEN = re.compile(r"(?<![\w.])-?\d+(?!\w|\.\d)")
_MASK = "\x00"


def normalise_line_endings(text: str) -> str:
    """``\\r\\r\\n`` and ``\\r\\n`` to ``\\n``, as run-tests' normalize_newlines."""
    return text.replace("\r\r\n", "\n").replace("\r\n", "\n")


# ---- floats ---------------------------------------------------------------------------------


def floats_match(board_token: str, ref_token: str, float_bits: int) -> bool:
    """True when ``board_token`` is exactly what a ``float_bits`` board prints for ``ref_token``.

    Narrow on purpose (every accepted pair must be defensible to the user whose release it lets
    through):

    * Equal tokens match; otherwise nothing matches on a board with the reference's precision
      (64-bit, or 0: no floats): ``1e2`` is not ``100.0`` there.
    * The reference token must be ``repr()`` of a double (what ``print(x)`` writes for a float on
      the host VM and CPython). Text made by formatting — ``'%.2f' % x`` (``3.50``), ``'{:e}'``,
      a string that looks like a number (``1.10``) — is never a float repr and is compared as text.
    * The board token must be one of the strings a board of that precision prints for the
      reference's value stored at that precision (float32; for 30-bit boards, float32 with the two
      low mantissa bits truncated or rounded): ``%.6g`` (MicroPython before 1.26 with 30-bit
      floats), ``%.7g`` (before 1.26, float32), or ``%.8g`` / ``%.9g`` / shortest round trip
      written like ``repr`` (1.26 and later), each with the ``.0`` MicroPython appends to
      integral values. ``0.333333`` and ``0.33333334`` match ``0.3333333333333333``;
      ``0.33334``, ``0.3333334`` and ``0.3333333432674408`` do not.

    Measured on the emulated micro:bit (1.9.2, 30-bit): 277 of 277 printed floats were ``%.6g``
    of the reference value stored at 30 bits.
    """
    if board_token == ref_token:
        return True
    if float_bits not in (30, 32) or not is_float_repr(ref_token):
        return False
    return board_token in board_float_reprs(float(ref_token), float_bits)


def is_float_repr(token: str) -> bool:
    """True when ``token`` is ``repr()`` of a double (``0.1``, ``1e+16``, ``inf``; not ``0.10``)."""
    try:
        return repr(float(token)) == token
    except ValueError:
        return False


def board_float_reprs(value: float, float_bits: int) -> frozenset[str]:
    """Every string a ``float_bits`` board prints for ``value`` (see :func:`floats_match`)."""
    out: set[str] = set()
    for stored in _board_values(value, float_bits):
        if not math.isfinite(stored):
            out.add(repr(abs(stored)))  # the sign is compared as text around the token
            continue
        stored = abs(stored)
        for digits in range(6, 10):
            text = f"{stored:.{digits}g}"
            out.add(text if any(c in text for c in ".en") else text + ".0")
            out.add(repr(float(text)))
        out.add(_shortest(stored, float_bits))
    return frozenset(out)


def _shortest(stored: float, float_bits: int) -> str:
    """The shortest decimal that reads back as ``stored`` on the board, written like ``repr``."""
    for digits in range(1, 10):
        text = f"{stored:.{digits}g}"
        if stored in _board_values(float(text), float_bits):
            return repr(float(text))
    return repr(stored)  # pragma: no cover - 9 digits always read back as a float32


@dataclass(frozen=True)
class FloatAlignment:
    """Board text with every float that matched the reference's replaced by the reference's."""

    text: str
    matched: int  # floats written differently from the reference's but accepted


def align_floats(board: str, reference: str, float_bits: int) -> FloatAlignment:
    """Pair lines equal apart from their floats; rewrite board floats that match the reference's.

    Lines are paired on their text with floats masked out, so a stray or missing line does not
    shift the pairing. A line whose floats do not all match is left as the board wrote it, so the
    diff shows it.
    """
    board_lines = board.splitlines(keepends=True)
    ref_lines = reference.splitlines(keepends=True)
    out = list(board_lines)
    matched = 0
    for b, r in _paired_lines(board_lines, ref_lines):
        board_floats = FLOAT_TOKEN.findall(board_lines[b])
        ref_floats = FLOAT_TOKEN.findall(ref_lines[r])
        pairs = list(zip(board_floats, ref_floats, strict=True))
        if all(floats_match(x, y, float_bits) for x, y in pairs):
            matched += sum(x != y for x, y in pairs)
            out[b] = ref_lines[r]
    return FloatAlignment(text="".join(out), matched=matched)


def _paired_lines(board: list[str], ref: list[str]) -> Iterator[tuple[int, int]]:
    """(board index, reference index) of lines that are equal once floats are masked out."""
    board_masked = [FLOAT_TOKEN.sub(_MASK, line) for line in board]
    ref_masked = [FLOAT_TOKEN.sub(_MASK, line) for line in ref]
    if len(board) == len(ref):
        pairs: Iterator[tuple[int, int]] = ((i, i) for i in range(len(board)))
    else:
        matcher = SequenceMatcher(None, board_masked, ref_masked, autojunk=False)
        pairs = (
            (block.a + k, block.b + k)
            for block in matcher.get_matching_blocks()
            for k in range(block.size)
        )
    for b, r in pairs:
        if board_masked[b] == ref_masked[r] and board[b] != ref[r] and _MASK in board_masked[b]:
            yield b, r


def _to_f32(x: float) -> float:
    try:
        return float(struct.unpack("<f", struct.pack("<f", x))[0])
    except OverflowError:
        return math.copysign(math.inf, x)


def _to_f30(x: float, rounded: bool) -> float:
    """float32 with the two low mantissa bits dropped, as MicroPython's OBJ_REPR_C stores it."""
    f32 = _to_f32(x)
    if not math.isfinite(f32):
        return f32
    (bits,) = struct.unpack("<I", struct.pack("<f", f32))
    bits = ((bits + 2) if rounded else bits) & ~3
    return float(struct.unpack("<f", struct.pack("<I", bits & 0xFFFFFFFF))[0])


def _board_values(x: float, float_bits: int) -> tuple[float, ...]:
    """What the board holds for the reference value ``x``."""
    if float_bits == 32:
        return (_to_f32(x),)
    return (_to_f30(x, rounded=False), _to_f30(x, rounded=True))


# ---- ints -----------------------------------------------------------------------------------


def int_beyond(text: str, small_int_bits: int) -> str | None:
    """The first integer in ``text`` outside a signed ``small_int_bits``-bit range, or None."""
    limit = 1 << (small_int_bits - 1)
    for match in _INT_TOKEN.finditer(text):
        value = int(match.group())
        if value >= limit or value < -limit:
            return match.group()
    return None


# ---- exceptions -----------------------------------------------------------------------------

# CPython subclasses that MicroPython raises as their base class.
_OSERRORS = (
    "FileNotFoundError FileExistsError PermissionError IsADirectoryError NotADirectoryError "
    "BlockingIOError InterruptedError BrokenPipeError ConnectionError ConnectionAbortedError "
    "ConnectionRefusedError ConnectionResetError TimeoutError"
)
TYPE_ALIASES: Mapping[str, str] = {
    "ModuleNotFoundError": "ImportError",  # import nope
    "RecursionError": "RuntimeError",  # maximum recursion depth exceeded
    **dict.fromkeys(_OSERRORS.split(), "OSError"),  # open("/no/such/file"): OSError [Errno 2]
}

_Canon = Callable[[re.Match[str]], str]
_OPERATORS = {"add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%"}
_OPERATORS |= {"pow": "**", "lshift": "<<", "rshift": ">>", "and": "&", "or": "|", "xor": "^"}


def _operands(match: re.Match[str]) -> str:
    """MicroPython names the method (``__add__``, ``__iadd__``), CPython the operator."""
    op = match.group("op").strip("_")
    if op not in _OPERATORS and op[1:] in _OPERATORS and op.startswith("i"):
        op = _OPERATORS[op[1:]] + "="
    return f"operands {_OPERATORS.get(op, op)}: {match.group('a')}, {match.group('b')}"


# Rewordings of one message between MicroPython and CPython (used only when one side is CPython):
# each message matching a pattern is replaced by a canonical form before the two are compared.
REWORDINGS: tuple[tuple[str, re.Pattern[str], _Canon], ...] = (
    (
        "ZeroDivisionError",  # MicroPython "divide by zero"; CPython and MicroPython 1.9 "division"
        re.compile(
            r"divide by zero|float divmod\(\)"
            r"|(?:float |integer )?(?:division|modulo)(?: or modulo)?(?: by zero)?"
        ),
        lambda m: "division by zero",
    ),
    (
        "NameError",
        re.compile(r"name '(?P<n>[^']*)' (?:isn't|is not) defined"),
        lambda m: f"name {m.group('n')} not defined",
    ),
    (
        "ValueError",
        re.compile(
            r"invalid (?:syntax|literal) for int(?:eger|\(\)) with base (?P<b>\d+): (?P<v>.*)"
        ),
        lambda m: f"int base {m.group('b')}: {m.group('v')}",
    ),
    (
        "ValueError",  # MicroPython leaves the text out
        re.compile(r"invalid syntax for number|could not convert string to float: .*"),
        lambda m: "not a float",
    ),
    (
        "ImportError",
        re.compile(r"[Nn]o module named '(?P<m>[^']*)'"),
        lambda m: f"no module {m.group('m')}",
    ),
    (
        "TypeError",  # MicroPython
        re.compile(r"unsupported types? for (?P<op>\S+): '(?P<a>\w+)', '(?P<b>\w+)'"),
        _operands,
    ),
    (
        "TypeError",  # CPython
        re.compile(r"unsupported operand type\(s\) for (?P<op>\S+): '(?P<a>\w+)' and '(?P<b>\w+)'"),
        _operands,
    ),
    (
        "TypeError",  # "f() takes ... but 1 were given" (MicroPython), "... 1 was given" (CPython)
        re.compile(
            r"(?P<f>\S+) takes (?P<n>\d+) positional arguments? but (?P<g>\d+) (?:were|was) given"
        ),
        lambda m: f"{m.group('f')} takes {m.group('n')} given {m.group('g')}",
    ),
    (
        "OverflowError",
        re.compile(r"can't convert inf to int|cannot convert float infinity to integer"),
        lambda m: "inf to int",
    ),
    (
        "ValueError",
        re.compile(r"can't convert NaN to int|cannot convert float NaN to integer"),
        lambda m: "nan to int",
    ),
    (
        "KeyError",  # MicroPython prints str(key) (KeyError: k), CPython repr(key) (KeyError: 'k')
        re.compile(r"'(?P<k>.*)'|(?P<bare>.*)", re.DOTALL),
        lambda m: m.group("k") if m.group("k") is not None else m.group("bare"),
    ),
    (
        "OSError",  # MicroPython "[Errno 2] ENOENT", CPython "[Errno 2] No such file or directory"
        re.compile(r"\[Errno (?P<n>\d+)\].*", re.DOTALL),
        lambda m: f"errno {m.group('n')}",
    ),
)


def same_exception_type(board: str, reference: str) -> bool:
    """Equal types, counting a CPython subclass MicroPython lacks as its base (TYPE_ALIASES)."""
    return TYPE_ALIASES.get(board, board) == TYPE_ALIASES.get(reference, reference)


@dataclass(frozen=True)
class MessageCheck:
    """Whether two exception messages count as equal, and the note when a rule made them so."""

    same: bool
    note: str = ""


def compare_messages(
    exc_type: str,
    board: str,
    reference: str,
    caps: Capabilities,
    ref_caps: Capabilities,
) -> MessageCheck:
    """Compare exception messages: exactly, except where the VM itself wrote them differently.

    Between MicroPython and CPython: the known rewordings of ``REWORDINGS``. Between two
    MicroPython VMs (another version or error-reporting level): the message sites of
    :mod:`hilrig.compare.vm_messages`. A message the program constructed matches neither and is
    compared
    exactly; so is everything between two boards of the same version and level.
    """
    if board == reference:
        return MessageCheck(same=True)
    if "cpython" in (caps.platform, ref_caps.platform):
        if _canonical(exc_type, board) == _canonical(exc_type, reference):
            return MessageCheck(same=True, note=f"known rewording: {board!r} ~ {reference!r}")
        return MessageCheck(same=False)
    if same_vm_message(TYPE_ALIASES.get(exc_type, exc_type), board, reference, caps, ref_caps):
        sides = f"{_vm(caps)} and {_vm(ref_caps)}"
        return MessageCheck(
            same=True, note=f"{exc_type} message written by the VM, as {sides} write it"
        )
    return MessageCheck(same=False)


def _vm(caps: Capabilities) -> str:
    return f"MicroPython {caps.version_text} ({caps.error_reporting.name.lower()} errors)"


def _canonical(exc_type: str, message: str) -> str:
    exc_type = TYPE_ALIASES.get(exc_type, exc_type)
    for rule_type, pattern, canonical in REWORDINGS:
        match = pattern.fullmatch(message) if rule_type == exc_type else None
        if match is not None:
            return canonical(match)
    return message


# ---- file names -----------------------------------------------------------------------------


def rename_frames(tb: Traceback, rename: Mapping[str, str]) -> Traceback:
    """Map frame file names (``<stdin>``, an absolute host path) to the program's own name."""
    if not any(frame.file in rename for frame in tb.frames):
        return tb
    frames = tuple(_renamed(frame, rename) for frame in tb.frames)
    return replace(tb, frames=frames)


def _renamed(frame: Frame, rename: Mapping[str, str]) -> Frame:
    return replace(frame, file=rename[frame.file]) if frame.file in rename else frame


def collapse_handler_frames(frames: tuple[Frame, ...]) -> tuple[Frame, ...]:
    """Keep the innermost of each run of consecutive frames in the same file and function.

    MicroPython 1.9 adds a traceback entry for every handler an exception passes through
    (``finally``, a non-matching ``except``, ``with``, bare ``raise``), each just above the
    original entry of the same function; newer firmware adds none.
    """
    kept: list[Frame] = []
    for frame in frames:
        if kept and (kept[-1].file, kept[-1].function) == (frame.file, frame.function):
            kept[-1] = frame
        else:
            kept.append(frame)
    return tuple(kept)
