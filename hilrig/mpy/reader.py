"""Read .mpy files: the header of versions 2 to 6, the whole of version 6, and what loads where.

The format is what MicroPython's ``py/persistentcode.c`` writes and reads. Version 6 bodies are
decoded by :mod:`hilrig.mpy.body`; older files yield their header.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from hilrig.capabilities import ARCH_NAMES, Capabilities
from hilrig.errors import IncompatibleMpy, MpyFormatError
from hilrig.mpy.body import (
    STATIC_QSTRS,
    ByteReader,
    CodeKind,
    Constant,
    ConstKind,
    Function,
    LineEntry,
    NativeInfo,
    Prelude,
    Qstr,
    ScopeFlag,
    read_body,
)

__all__ = [
    "STATIC_QSTRS",
    "CodeKind",
    "ConstKind",
    "Constant",
    "Function",
    "LineEntry",
    "MpyFeature",
    "MpyFile",
    "MpyHeader",
    "NativeInfo",
    "Prelude",
    "Qstr",
    "ScopeFlag",
    "check_loadable",
    "format_summary",
    "read_header",
    "read_mpy",
    "to_json",
]

KNOWN_VERSIONS = range(2, 7)
_ARCH_FLAGS_PRESENT = 0x40  # v6 header byte 2, bit 6: a vuint of arch flags follows
_ARMV6M, _ARMV7EMDP, _RV32IMC = 4, 8, 11  # Thumb family bounds and the one arch with flags

# MicroPython release -> (.mpy major, sub) it loads, newest first (docs/reference/mpyfiles.rst).
MPY_BY_RELEASE: tuple[tuple[tuple[int, int, int], int, int], ...] = (
    ((1, 23, 0), 6, 3),
    ((1, 22, 0), 6, 2),
    ((1, 20, 0), 6, 1),
    ((1, 19, 0), 6, 0),
    ((1, 12, 0), 5, 0),
    ((1, 11, 0), 4, 0),
    ((1, 9, 3), 3, 0),
    ((1, 9, 0), 2, 0),
)


def mpy_for_release(version: tuple[int, int, int]) -> tuple[int, int] | None:
    """The (.mpy major, sub) a MicroPython release loads, or None before v1.9."""
    for release, major, sub in MPY_BY_RELEASE:
        if version >= release:
            return major, sub
    return None


def _first_release(major: int, sub: int | None = None) -> str:
    """'1.12' style: the oldest release that writes this .mpy version."""
    found = [r for r, m, s in MPY_BY_RELEASE if m == major and (sub is None or s == sub)]
    return ".".join(str(p) for p in found[-1]) if found else "of the firmware release"


class MpyFeature(enum.IntFlag):
    """Feature flags of v2 to v5 headers, which must match the firmware's exactly."""

    CACHE_LOOKUP_BC = 0x01  # MICROPY_OPT_CACHE_MAP_LOOKUP_IN_BYTECODE
    UNICODE = 0x02  # MICROPY_PY_BUILTINS_STR_UNICODE


@dataclass(frozen=True)
class MpyHeader:
    """The fixed start of a .mpy file."""

    version: int
    sub_version: int | None  # v6 only; 0 in bytecode-only files, which any v6.x loads
    features: MpyFeature  # v2 to v5 only
    arch_number: int  # 0: no native code
    arch_flags: int  # RV32 extensions (zba=1, zcmp=2), v6 only
    small_int_bits: int
    qstr_window: int | None  # v4 and v5 only
    size: int  # bytes the header takes

    @property
    def arch(self) -> str | None:
        """Native arch name as mpy-cross -march spells it, or None."""
        return _arch_name(self.arch_number)

    @property
    def version_text(self) -> str:
        """'6.3' when the header records a sub-version, else the major version alone."""
        if self.sub_version is None or (self.sub_version == 0 and self.arch_number == 0):
            return str(self.version)
        return f"{self.version}.{self.sub_version}"


@dataclass(frozen=True)
class MpyFile:
    """A parsed .mpy file; for versions before 6 only the header is decoded."""

    name: str
    header: MpyHeader
    qstrs: tuple[Qstr, ...] = ()
    constants: tuple[Constant, ...] = ()
    module: Function | None = None

    @property
    def source_name(self) -> str | None:
        """The source file name embedded by mpy-cross (qstr 0), shown in tracebacks."""
        return self.qstrs[0].text if self.qstrs else None

    def functions(self) -> tuple[tuple[str, Function], ...]:
        """Every raw code, depth first, with a dotted qualified name ('C.m', 'outer.inner')."""
        found: list[tuple[str, Function]] = []

        def walk(fn: Function, prefix: str) -> None:
            qualname = f"{prefix}.{fn.name}" if prefix else fn.name
            found.append((qualname, fn))
            for child in fn.children:
                walk(child, "" if fn is self.module else qualname)

        if self.module is not None:
            walk(self.module, "")
        return tuple(found)


def read_header(data: bytes, name: str = "<bytes>") -> MpyHeader:
    """Decode the header of a v2 to v6 .mpy file."""
    if data[:1] != b"M":
        raise MpyFormatError(f"{name} is not a .mpy file: it starts with {data[:8]!r}, not b'M'")
    if len(data) < 4:
        raise MpyFormatError(f"{name} is not a .mpy file: it ends after {len(data)} bytes")
    version, features, small_int_bits = data[1], data[2], data[3]
    if version not in KNOWN_VERSIONS:
        raise MpyFormatError(
            f"{name} is not a .mpy file hilrig can read: its version byte is {version}, "
            f"and the versions hilrig knows are 2 to 6"
        )
    reader = ByteReader(data, name, 4)
    if version <= 3:
        flags, arch, window = MpyFeature(features & 3), 0, None
    elif version <= 5:
        flags, arch = MpyFeature(features & 3), features >> 2
        window = reader.vuint("the qstr window size")
    else:
        return _v6_header(reader, features, small_int_bits)
    return MpyHeader(version, None, flags, arch, 0, small_int_bits, window, reader.pos)


def _v6_header(reader: ByteReader, features: int, small_int_bits: int) -> MpyHeader:
    arch = (features >> 2) & 0x2F  # MPY_FEATURE_DECODE_ARCH, the mask MicroPython uses
    flags = reader.vuint("the arch flags") if features & _ARCH_FLAGS_PRESENT else 0
    return MpyHeader(6, features & 3, MpyFeature(0), arch, flags, small_int_bits, None, reader.pos)


def read_mpy(data: bytes, name: str = "<bytes>") -> MpyFile:
    """Parse a .mpy file: all of a v6 file, the header of an older one."""
    header = read_header(data, name)
    if header.version != 6:
        return MpyFile(name, header)
    body = read_body(ByteReader(data, name, header.size))
    return MpyFile(name, header, body.qstrs, body.constants, body.module)


def check_loadable(header: MpyHeader, caps: Capabilities, name: str = "the .mpy file") -> None:
    """Raise IncompatibleMpy unless the firmware's loader would accept this header."""
    firmware = f"the firmware (MicroPython {caps.version_text} on {caps.platform})"
    if caps.mpy is None:
        raise IncompatibleMpy(
            f"{firmware} does not report a .mpy version (no sys.implementation._mpy), so it "
            f"cannot import {name} or hilrig cannot tell whether it can; run the source instead"
        )
    wanted = caps.mpy_version
    if header.version != wanted:
        raise IncompatibleMpy(
            f"{name} is .mpy v{header.version_text} but {firmware} loads .mpy v{wanted}; "
            f"compile it with {_compiler_for(caps)}"
        )
    _check_flags(header, caps, name, firmware)
    if header.small_int_bits > caps.small_int_bits:
        raise IncompatibleMpy(
            f"{name} needs {header.small_int_bits}-bit small ints but {firmware} has "
            f"{caps.small_int_bits}; compile it with -msmall-int-bits={caps.small_int_bits}"
        )
    if header.arch_number != 0:
        _check_arch(header, caps, name, firmware)


def _check_flags(header: MpyHeader, caps: Capabilities, name: str, firmware: str) -> None:
    """v2-v5: feature flags must match exactly; v6: native code must match the sub-version."""
    if header.version < 6:
        theirs = MpyFeature(caps.mpy_sub_version)  # bits 8-9 of v5's sys.implementation.mpy
        if header.features != theirs:
            raise IncompatibleMpy(
                f"{name} was compiled with feature flags {_features(header.features)} but "
                f"{firmware} has {_features(theirs)}; match them with mpy-cross's -m options"
            )
    elif header.arch_number != 0 and header.sub_version != caps.mpy_sub_version:
        raise IncompatibleMpy(
            f"{name} holds native code for .mpy v{header.version_text} but {firmware} loads "
            f"native code of v6.{caps.mpy_sub_version} only; compile it with {_compiler_for(caps)}"
        )


def _check_arch(header: MpyHeader, caps: Capabilities, name: str, firmware: str) -> None:
    """The native arch must be the firmware's (any older Thumb arch on Thumb firmware)."""
    own = caps.arch_number
    if own == 0:
        raise IncompatibleMpy(
            f"{name} holds native code ({header.arch}) but {firmware} loads no native code; "
            f"compile it without @micropython.native/viper and -X emit=native"
        )
    thumb = _ARMV6M <= own <= _ARMV7EMDP
    if not (_ARMV6M <= header.arch_number <= own if thumb else header.arch_number == own):
        raise IncompatibleMpy(
            f"{name} holds native code for {_arch_text(header.arch_number)} but {firmware} runs "
            f"{caps.arch}; compile it with -march={caps.arch}"
        )
    theirs = caps.mpy >> 16 if caps.mpy is not None else 0
    if header.arch_flags and (own != _RV32IMC or header.arch_flags & ~theirs):
        raise IncompatibleMpy(
            f"{name} needs arch flags {header.arch_flags:#x} but {firmware} supports "
            f"{theirs:#x}; compile it with -march-flags={theirs}"
        )


def _compiler_for(caps: Capabilities) -> str:
    """Which mpy-cross writes what this firmware loads."""
    version = caps.mpy_version or 0
    if version < 6:
        return f"mpy-cross {_first_release(version)} (the release that writes .mpy v{version})"
    native = _first_release(6, caps.mpy_sub_version)
    return f"mpy-cross 1.19 or later (for native code: mpy-cross {native} or the same sub-version)"


def _features(flags: MpyFeature) -> str:
    return "+".join(f.name.lower() for f in MpyFeature if f in flags and f.name) or "none"


def _arch_name(number: int) -> str | None:
    return ARCH_NAMES[number] if number < len(ARCH_NAMES) else None


def _arch_text(number: int) -> str:
    return _arch_name(number) or f"arch {number}"


def format_summary(f: MpyFile, source: str | None = None) -> str:
    """A readable report: format, arch, small ints, every function with its lines, constants."""
    out = [f"{f.name}: {_describe_header(f)}"]
    if f.module is None:
        out.append(
            f"  (only the header of .mpy v{f.header.version} is decoded; the body is v6 only)"
        )
        return "\n".join(out)
    functions = f.functions()
    counts = ((len(f.qstrs), "qstr"), (len(f.constants), "constant"), (len(functions), "function"))
    out.append("  " + ", ".join(f"{n} {word}{'' if n == 1 else 's'}" for n, word in counts))
    source_lines = source.splitlines() if source is not None else None
    for qualname, fn in functions:
        out.append(f"  {qualname}{_signature(fn)}  {_describe_code(fn)}")
        if source_lines is not None:
            out.extend(_excerpt(fn.lines, source_lines))
    if f.constants:
        out.append("  constants:")
        out.extend(f"    [{i}] {c.kind.value}: {c.text}" for i, c in enumerate(f.constants))
    return "\n".join(out)


def _describe_header(f: MpyFile) -> str:
    h = f.header
    parts = [f".mpy v{h.version_text}"]
    if h.arch_number:
        parts.append(f"native code for {_arch_text(h.arch_number)}")
    else:
        parts.append("bytecode only")
    if h.arch_flags:
        parts.append(f"arch flags {h.arch_flags:#x}")
    if h.version < 6:
        parts.append(f"features {_features(h.features)}")
    if h.qstr_window is not None:
        parts.append(f"qstr window {h.qstr_window}")
    parts.append(f"{h.small_int_bits}-bit small ints")
    if f.source_name is not None:
        parts.append(f"source {f.source_name}")
    return ", ".join(parts)


def _signature(fn: Function) -> str:
    """'(a, b=…, *…, c, **…)': argument names as stored; * and ** names are not in the file."""
    p = fn.prelude
    if p is None:
        return ""
    pos, kwonly = p.arg_names[p.n_implicit_args : p.n_pos_args], p.arg_names[p.n_pos_args :]
    first_default = len(pos) - p.n_def_pos_args
    parts = [name + ("=…" if i >= first_default else "") for i, name in enumerate(pos)]
    if p.scope_flags & ScopeFlag.VARARGS:
        parts.append("*…")
    elif kwonly:
        parts.append("*")
    parts.extend(kwonly)
    if p.scope_flags & ScopeFlag.VARKEYWORDS:
        parts.append("**…")
    return f"({', '.join(parts)})"


def _describe_code(fn: Function) -> str:
    if fn.kind is not CodeKind.BYTECODE:
        return f"{fn.kind.name.lower()}, {fn.size} bytes of machine code"
    generator = "generator, " if fn.prelude and fn.prelude.scope_flags & ScopeFlag.GENERATOR else ""
    lines = fn.lines
    where = f"line{'s' if len(lines) > 1 else ''} {_ranges(lines)}" if lines else "no lines"
    return f"{generator}{where}"


def _ranges(numbers: tuple[int, ...]) -> str:
    """'1, 4, 7, 10-13'."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and spans[-1][1] == n - 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def _excerpt(lines: tuple[int, ...], source: list[str], limit: int = 3) -> list[str]:
    shown = [f"      {n:>4} | {source[n - 1].strip()}" for n in lines[:limit] if n <= len(source)]
    return shown + (["           | …"] if len(lines) > limit else [])


def to_json(f: MpyFile) -> dict[str, Any]:
    """The parse as JSON-ready data; ``version`` is the header's own {"major", "sub"}."""
    # "sub" is what the header records: 0 in a bytecode-only v6 file (any v6.x firmware loads
    # it), the sub-version when there is native code, and None (null) for v2 to v5.
    h = f.header
    return {
        "name": f.name,
        "version": {"major": h.version, "sub": h.sub_version},
        "arch": h.arch,
        "arch_number": h.arch_number,
        "arch_flags": h.arch_flags,
        "features": [flag.name.lower() for flag in MpyFeature if flag in h.features and flag.name],
        "qstr_window": h.qstr_window,
        "small_int_bits": h.small_int_bits,
        "source_name": f.source_name,
        "qstrs": [q.text for q in f.qstrs],
        "constants": [{"type": c.kind.value, "repr": c.text} for c in f.constants],
        "functions": [_function_json(name, fn) for name, fn in f.functions()],
    }


def _function_json(qualname: str, fn: Function) -> dict[str, Any]:
    p = fn.prelude
    flags = p.scope_flags if p is not None else ScopeFlag(0)
    return {
        "name": qualname,
        "simple_name": fn.name,
        "kind": fn.kind.name.lower(),
        "size": fn.size,
        "args": list(p.params) if p is not None else [],
        "n_implicit_args": p.n_implicit_args if p is not None else 0,
        "n_pos_args": p.n_pos_args if p is not None else 0,
        "n_kwonly_args": p.n_kwonly_args if p is not None else 0,
        "n_def_pos_args": p.n_def_pos_args if p is not None else 0,
        "flags": [flag.name.lower() for flag in ScopeFlag if flag in flags and flag.name],
        "lines": list(fn.lines),
        "line_table": [[e.offset, e.line] for e in fn.line_table],
        "children": len(fn.children),
    }
