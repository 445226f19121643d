"""The body of a v6 .mpy file: qstr table, constant table and the tree of raw codes.

Layout as MicroPython 1.19+ writes it (``py/persistentcode.c``, ``save_raw_code`` and
``load_raw_code``); the header in front of it is read by :mod:`hilrig.mpy.reader`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, replace

from hilrig.errors import MpyFormatError

# MicroPython's static qstrs (py/makeqstrdata.py static_qstr_list): a .mpy file names them by
# number (list index + 1) instead of spelling them out, so "<module>" is 7 and "print" 123.
STATIC_QSTRS: tuple[str, ...] = ("", "__dir__", "\n", " ") + tuple(
    """
    * / <module> _ __call__ __class__ __delitem__ __enter__ __exit__ __getattr__ __getitem__
    __hash__ __init__ __int__ __iter__ __len__ __main__ __module__ __name__ __new__ __next__
    __qualname__ __repr__ __setitem__ __str__ ArithmeticError AssertionError AttributeError
    BaseException EOFError Ellipsis Exception GeneratorExit ImportError IndentationError
    IndexError KeyError KeyboardInterrupt LookupError MemoryError NameError NoneType
    NotImplementedError OSError OverflowError RuntimeError StopIteration SyntaxError SystemExit
    TypeError ValueError ZeroDivisionError abs all any append args bool builtins bytearray
    bytecode bytes callable chr classmethod clear close const copy count dict dir divmod end
    endswith eval exec extend find format from_bytes get getattr globals hasattr hash id index
    insert int isalpha isdigit isinstance islower isspace issubclass isupper items iter join key
    keys len list little locals lower lstrip main map micropython next object open ord pop
    popitem pow print range read readinto readline remove replace repr reverse rfind rindex
    round rsplit rstrip self send sep set setattr setdefault sort sorted split start startswith
    staticmethod step stop str strip sum super throw to_bytes tuple type update upper utf-8
    value values write zip
    """.split()
)

# Deeper nesting than this is a damaged file, not a program (MicroPython's parser stops far
# earlier); the limit keeps a crafted file from exhausting Python's recursion.
_MAX_DEPTH = 200

# Viper scope flags that announce extra sections after the machine code (py/runtime0.h).
_VIPER_RELOC, _VIPER_RODATA, _VIPER_BSS = 0x10, 0x20, 0x40


class ByteReader:
    """A cursor over .mpy bytes that raises MpyFormatError instead of running off the end."""

    def __init__(self, data: bytes, name: str, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.name = name
        self.pos = pos
        self.end = len(data) if end is None else end

    def sub(self, size: int, what: str) -> ByteReader:
        """A reader over the next ``size`` bytes (offsets stay file offsets); skips them here."""
        start = self.pos
        self.take(size, what)
        return ByteReader(self.data, self.name, start, start + size)

    def error(self, what: str) -> MpyFormatError:
        """An MpyFormatError naming the file and the current byte offset."""
        return MpyFormatError(
            f"{self.name} is not a well-formed .mpy file: {what} (byte {self.pos})"
        )

    def take(self, n: int, what: str) -> bytes:
        """The next n bytes."""
        if self.pos + n > self.end:
            left = self.end - self.pos
            raise self.error(f"{what} needs {n} bytes but only {left} are left; is it truncated?")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def byte(self, what: str) -> int:
        """The next byte."""
        return self.take(1, what)[0]

    def vuint(self, what: str) -> int:
        """A variable-length unsigned int: 7 bits a byte, most significant group first."""
        value = 0
        while True:
            b = self.byte(what)
            value = (value << 7) | (b & 0x7F)
            if not b & 0x80:
                return value

    def count(self, what: str) -> int:
        """A vuint count of items that each take at least one byte of what is left."""
        n = self.vuint(what)
        if n > self.end - self.pos:
            raise self.error(f"{what} is {n}, more than the bytes left; is it truncated?")
        return n


class CodeKind(enum.IntEnum):
    """What a raw code holds (MP_CODE_* minus MP_CODE_BYTECODE)."""

    BYTECODE = 0
    NATIVE = 1
    VIPER = 2
    ASM = 3


class ScopeFlag(enum.IntFlag):
    """The signature flags of a function's prelude (MP_SCOPE_FLAG_*)."""

    GENERATOR = 0x01
    VARKEYWORDS = 0x02
    VARARGS = 0x04
    DEFKWARGS = 0x08


class ConstKind(enum.Enum):
    """Type of an entry in the constant table (MP_PERSISTENT_OBJ_*)."""

    FUN_TABLE = "fun_table"
    NONE = "None"
    FALSE = "False"
    TRUE = "True"
    ELLIPSIS = "Ellipsis"
    STR = "str"
    BYTES = "bytes"
    INT = "int"
    FLOAT = "float"
    COMPLEX = "complex"
    TUPLE = "tuple"


_CONST_KINDS = tuple(ConstKind)  # in file order: the type byte is the index
_SINGLETONS: dict[ConstKind, object] = {
    ConstKind.FUN_TABLE: None,
    ConstKind.NONE: None,
    ConstKind.FALSE: False,
    ConstKind.TRUE: True,
    ConstKind.ELLIPSIS: Ellipsis,
}
_NUMBER_PARSERS: dict[ConstKind, Callable[[str], object]] = {
    ConstKind.INT: int,
    ConstKind.FLOAT: float,
    ConstKind.COMPLEX: complex,
}


@dataclass(frozen=True)
class Qstr:
    """One entry of the qstr table; static ones are stored as a number into STATIC_QSTRS."""

    text: str
    static: bool


@dataclass(frozen=True)
class Constant:
    """One entry of the constant table: its kind, Python value and text as MicroPython shows it."""

    kind: ConstKind
    value: object
    text: str


@dataclass(frozen=True)
class LineEntry:
    """One line-table step: bytecode from ``offset`` on belongs to source line ``line``."""

    offset: int
    line: int


@dataclass(frozen=True)
class Prelude:
    """The signature and names at the start of bytecode (or inside native code)."""

    n_state: int
    n_exc_stack: int
    scope_flags: ScopeFlag
    n_pos_args: int
    n_kwonly_args: int
    n_def_pos_args: int
    name: str
    arg_names: tuple[str, ...]  # positional then keyword-only, implicit slots included
    n_cells: int

    @property
    def n_implicit_args(self) -> int:
        """Leading positional slots named '*': closed-over cells or a comprehension's iterator."""
        return next((i for i, n in enumerate(self.arg_names) if n != "*"), len(self.arg_names))

    @property
    def params(self) -> tuple[str, ...]:
        """The parameter names a caller sees: arg_names without the implicit slots."""
        return self.arg_names[self.n_implicit_args :]


@dataclass(frozen=True)
class NativeInfo:
    """The fields that follow native, viper and inline-assembler machine code."""

    prelude_offset: int | None = None  # native Python: where the prelude sits in the code
    scope_flags: int = 0  # viper and asm
    asm_n_pos_args: int = 0
    asm_type_sig: int = 0
    rodata_size: int = 0  # viper only, from here down
    bss_size: int = 0
    n_relocations: int = 0


@dataclass(frozen=True)
class Function:
    """One raw code: a module, class body, function, lambda or comprehension."""

    kind: CodeKind
    name: str  # simple name; "<viper>" or "<asm>" when the file stores none
    size: int  # bytes of bytecode (prelude included) or machine code
    prelude: Prelude | None
    line_table: tuple[LineEntry, ...] = ()
    code_size: int = 0  # bytes of opcodes after the prelude; 0 for machine code
    children: tuple[Function, ...] = ()
    native: NativeInfo | None = None

    @property
    def lines(self) -> tuple[int, ...]:
        """Sorted source lines that at least one opcode belongs to, as a traceback would say."""
        # Opcodes before the first step are line 1, as the VM reports them: so a class body's
        # preamble (storing __module__ and __qualname__) covers line 1.
        if self.code_size == 0:
            return ()
        starts = [0, *(e.offset for e in self.line_table)]
        lines = [1, *(e.line for e in self.line_table)]
        ends = [*starts[1:], self.code_size]
        return tuple(sorted({n for n, a, b in zip(lines, starts, ends, strict=True) if b > a}))

    def line_for_offset(self, offset: int) -> int:
        """The source line of the opcode at ``offset``, as the VM computes it for a traceback."""
        line = 1
        for entry in self.line_table:
            if entry.offset > offset:
                break
            line = entry.line
        return line


@dataclass(frozen=True)
class Body:
    """Everything after a v6 header."""

    qstrs: tuple[Qstr, ...]
    constants: tuple[Constant, ...]
    module: Function


def read_body(reader: ByteReader) -> Body:
    """Parse the qstr table, constant table and raw-code tree; the reader must end exactly."""
    n_qstr = reader.count("the qstr count")
    n_obj = reader.count("the constant count")
    qstrs = tuple(_read_qstr(reader, i) for i in range(n_qstr))
    constants = tuple(_read_constant(reader, 0) for _ in range(n_obj))
    module = _read_raw_code(reader, qstrs, 0)
    if reader.pos != reader.end:
        raise reader.error(f"{reader.end - reader.pos} bytes follow the module's code")
    return Body(qstrs, constants, module)


def _decode(reader: ByteReader, raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise reader.error(f"{what} is not valid UTF-8") from exc


def _read_qstr(reader: ByteReader, index: int) -> Qstr:
    n = reader.vuint(f"qstr {index}")
    if n & 1:
        number = n >> 1
        if not 1 <= number <= len(STATIC_QSTRS):
            raise reader.error(f"qstr {index} names static qstr {number}, which does not exist")
        return Qstr(STATIC_QSTRS[number - 1], static=True)
    raw = reader.take((n >> 1) + 1, f"qstr {index}")  # text plus its NUL terminator
    return Qstr(_decode(reader, raw[:-1], f"qstr {index}"), static=False)


def _read_constant(reader: ByteReader, depth: int) -> Constant:
    type_byte = reader.byte("a constant's type")
    if type_byte >= len(_CONST_KINDS):
        raise reader.error(f"constant type {type_byte} is not one MicroPython writes")
    if depth > _MAX_DEPTH:
        raise reader.error(f"constant tuples are nested more than {_MAX_DEPTH} deep")
    kind = _CONST_KINDS[type_byte]
    if kind in _SINGLETONS:
        text = "<fun_table>" if kind is ConstKind.FUN_TABLE else kind.value
        return Constant(kind, _SINGLETONS[kind], text)
    if kind is ConstKind.TUPLE:
        items = tuple(_read_constant(reader, depth + 1) for _ in range(reader.count("a tuple")))
        text = ", ".join(item.text for item in items) + ("," if len(items) == 1 else "")
        return Constant(kind, tuple(item.value for item in items), f"({text})")
    raw = reader.take(reader.vuint(f"a {kind.value} length"), f"a {kind.value} constant")
    if kind is ConstKind.BYTES:
        reader.byte("the bytes terminator")
        return Constant(kind, raw, repr(raw))
    text = _decode(reader, raw, f"a {kind.value} constant")
    if kind is ConstKind.STR:
        reader.byte("the str terminator")
        return Constant(kind, text, repr(text))
    try:
        return Constant(kind, _NUMBER_PARSERS[kind](text), text)
    except ValueError as exc:
        raise reader.error(f"{kind.value} constant {text!r} is not a number") from exc


def _read_raw_code(reader: ByteReader, qstrs: tuple[Qstr, ...], depth: int) -> Function:
    if depth > _MAX_DEPTH:
        raise reader.error(f"raw codes are nested more than {_MAX_DEPTH} deep")
    kind_len = reader.vuint("a raw code's kind and length")
    kind, has_children, size = CodeKind(kind_len & 3), bool(kind_len & 4), kind_len >> 3
    what = "a function's bytecode" if kind is CodeKind.BYTECODE else f"{kind.name.lower()} code"
    code = reader.sub(size, what)
    if kind is CodeKind.BYTECODE:
        prelude, table = _read_prelude(code, qstrs)
        fn = Function(kind, prelude.name, size, prelude, table, code.end - code.pos)
    else:
        fn = _read_machine_code(reader, code, kind, qstrs)
    if has_children:
        n = reader.count("the number of children")
        children = tuple(_read_raw_code(reader, qstrs, depth + 1) for _ in range(n))
        fn = replace(fn, children=children)
    if fn.native is not None and fn.native.scope_flags & _VIPER_RELOC:
        # MicroPython's loader relocates after loading the children, so the ops come last.
        fn = replace(fn, native=_with_relocations(reader, fn.native))
    return fn


def _read_machine_code(
    reader: ByteReader, code: ByteReader, kind: CodeKind, qstrs: tuple[Qstr, ...]
) -> Function:
    if kind is CodeKind.NATIVE:
        offset = reader.vuint("the native prelude offset")
        size = code.end - code.pos
        if offset >= size:
            raise reader.error(f"the native prelude offset {offset} lies outside the code")
        code.pos += offset
        prelude, _ = _read_prelude(code, qstrs)
        return Function(kind, prelude.name, size, prelude, native=NativeInfo(offset))
    flags = reader.vuint("viper/asm scope flags")
    if kind is CodeKind.ASM:
        n_args, sig = reader.vuint("asm argument count"), reader.vuint("asm type signature")
        info = NativeInfo(None, flags, n_args, sig)
        return Function(kind, "<asm>", code.end - code.pos, None, native=info)
    rodata = reader.vuint("viper rodata size") if flags & _VIPER_RODATA else 0
    bss = reader.vuint("viper bss size") if flags & _VIPER_BSS else 0
    reader.take(rodata, "viper rodata")
    info = NativeInfo(None, flags, rodata_size=rodata, bss_size=bss)
    return Function(kind, "<viper>", code.end - code.pos, None, native=info)


def _with_relocations(reader: ByteReader, info: NativeInfo) -> NativeInfo:
    count = 0
    while (op := reader.byte("a relocation op")) != 0xFF:
        if op & 1:
            reader.vuint("a relocation address")
        op >>= 1
        if op <= 5 and op & 1:
            reader.vuint("a relocation count")
        count += 1
    return replace(info, n_relocations=count)


def _read_prelude(
    code: ByteReader, qstrs: tuple[Qstr, ...]
) -> tuple[Prelude, tuple[LineEntry, ...]]:
    """Decode signature, sizes, names, line table and cells (py/bc.h MP_BC_PRELUDE_*)."""
    z = code.byte("the prelude signature")
    n_state, n_exc, flags, n_pos, n_kw, n_def = (z >> 3) & 0xF, (z >> 2) & 1, 0, z & 3, 0, 0
    n = 0
    while z & 0x80:
        z = code.byte("the prelude signature")
        n_state |= (z & 0x30) << (2 * n)
        n_exc |= (z & 0x02) << n
        flags |= ((z & 0x40) >> 6) << n
        n_pos |= (z & 0x04) << n
        n_kw |= ((z & 0x08) >> 3) << n
        n_def |= (z & 0x01) << n
        n += 1
    n_info, n_cells = _read_prelude_size(code)
    info_end = code.pos + n_info
    name = _qstr_at(code, qstrs, "the function name")
    args = tuple(_qstr_at(code, qstrs, "an argument name") for _ in range(n_pos + n_kw))
    if code.pos > info_end:
        raise code.error("the names run past the prelude's source-info size")
    table = _decode_line_table(code, code.take(info_end - code.pos, "the line table"))
    code.take(n_cells, "the closure cells")
    prelude = Prelude(n_state + 1, n_exc, ScopeFlag(flags), n_pos, n_kw, n_def, name, args, n_cells)
    return prelude, table


def _read_prelude_size(code: ByteReader) -> tuple[int, int]:
    n_info = n_cells = n = 0
    while True:
        z = code.byte("the prelude size")
        n_cells |= (z & 1) << n
        n_info |= ((z & 0x7E) >> 1) << (6 * n)
        if not z & 0x80:
            return n_info, n_cells
        n += 1


def _qstr_at(code: ByteReader, qstrs: tuple[Qstr, ...], what: str) -> str:
    index = code.vuint(what)
    if index >= len(qstrs):
        raise code.error(f"{what} is qstr {index} but the table has {len(qstrs)}")
    return qstrs[index].text


def _decode_line_table(code: ByteReader, info: bytes) -> tuple[LineEntry, ...]:
    """Steps 0b0LLBBBBB (1 byte) or 0b1LLLBBBB LLLLLLLL (2 bytes); lines start at 1."""
    entries: list[LineEntry] = []
    offset, line, i = 0, 1, 0
    while i < len(info):
        c = info[i]
        if c & 0x80 == 0:
            offset, line, i = offset + (c & 0x1F), line + (c >> 5), i + 1
            entries.append(LineEntry(offset, line))
            continue
        if i + 1 >= len(info):
            raise code.error("the line table ends inside a two-byte step")
        offset, line, i = offset + (c & 0xF), line + (((c << 4) & 0x700) | info[i + 1]), i + 2
        entries.append(LineEntry(offset, line))
    return tuple(entries)
