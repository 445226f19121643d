"""What is sent to the raw REPL to run one program.

``.mpy`` mode follows MicroPython's own ``run-tests.py --via-mpy``: the compiled bytes travel inside
a small script that mounts a read-only in-RAM filesystem holding just that file and imports it, so
the board's own filesystem is never touched. The module renames itself ``__main__`` as it loads.
Source mode sends the program text itself (firmware that cannot import ``.mpy``).
"""

from __future__ import annotations

import re
import zlib

from hilrig.boards.capability_probe import LOADER_FS_CLASS, ROOT_FEATURE
from hilrig.capabilities import Capabilities
from hilrig.errors import ConfigError

MODULE = "_h"
SEARCH = "/_h"  # put first on sys.path
MOUNT = f"{SEARCH}/{MODULE}.mpy"  # the file itself is the mount point: see _INJECT
# Firmware whose import already looks in the VFS root (the probe's "import_at_root": no
# filesystem of its own, working folder "/", "" on sys.path; the emulated STM32) gets the file
# at the root, and sys.path is left as it is: 24 bytes less a program.
ROOT_MOUNT = f"/{MODULE}.mpy"
DEFLATE_WBITS = 9  # the smallest window CPython's zlib writes raw DEFLATE for
DEFLATE_RAW = 1  # deflate.RAW, the same number in every firmware that has the module (1.21 on)

# Every byte counts: on an emulated STM32 the UART moves about 30 bytes a millisecond, and this
# script travels with every program (a soft reset between programs clears it), so it is terse.
# The in-RAM filesystem is mounted at the path of the one file it holds, so the VFS asks it only
# about that file (as "/"): ``stat`` says "a file" to anything, and the importer's other
# questions ("/_h/_h" a folder? "/_h/_h.py"?) go elsewhere and find nothing. ``vfs.mount`` needs
# ``mount`` and ``umount`` (and programs that unmount everything they find call it: MicroPython's
# own vfs tests do); their answers are ignored, so they share ``stat``'s. The class itself is
# mounted (the VFS only calls its methods, and a function read from a class takes no ``self``),
# which saves the two bytes of an instance. ``open`` renames the module being created to
# ``__main__`` and hands out the .mpy as an ``io.BytesIO`` (a stream the importer reads like a
# file, copying the code into RAM as run-tests.py's loader does), or through a
# ``deflate.DeflateIO`` where the firmware has deflate and that makes the payload shorter (raw
# DEFLATE with a 512-byte window: the board needs 512 bytes for it).
_INJECT = (
    "import sys,{io},{fs}{imports}\n"
    + LOADER_FS_CLASS
    + """M=sys.modules;n='__main__';M[n]=m=M['{module}'];m.__name__=n;return {stream}
{fs}.mount(L,'{mount}')
{search}import {module}
"""
)
_SEARCH_LINE = f"sys.path[:0]=['{SEARCH}']\n"

# In .mpy mode the loader's own last line is the one frame named <stdin> (the program's frames
# name its file), above the program's frames.
_STDIN_FRAME = b'  File "<stdin>", line '

# The .mpy travels as the bytes themselves in a bytes literal: MicroPython's lexer is 8-bit clean
# there, so only what would end the literal or the line (quote, backslash, CR, LF), the bytes the
# raw REPL acts on (Ctrl-A to Ctrl-E) and NUL (the unix port reads it as 1) are escaped: about
# 1.04 bytes sent per byte of compressed data, against 1.33 for base64. NUL to Ctrl-E are octal
# escapes, one digit ("\\4") unless an octal digit follows, which would join the escape ("\\004").
_LITERAL = [bytes([b]) for b in range(256)]
for _byte, _escape in {0x27: b"\\'", 0x5C: b"\\\\", 0x0A: b"\\n", 0x0D: b"\\r"}.items():
    _LITERAL[_byte] = _escape
for _byte in range(0x00, 0x06):
    _LITERAL[_byte] = b"\\%o" % _byte
_CONTROL_BEFORE_DIGIT = re.compile(rb"[\x00-\x05](?=[0-7])")


def bytes_literal(data: bytes) -> bytes:
    """``data`` as a MicroPython bytes literal that is safe to send through the raw REPL."""
    parts = [_LITERAL[b] for b in data]
    for found in _CONTROL_BEFORE_DIGIT.finditer(data):
        parts[found.start()] = b"\\%03o" % data[found.start()]
    return b"b'" + b"".join(parts) + b"'"


def mpy_payload(mpy: bytes, caps: Capabilities, compress: bool = True) -> bytes:
    """The script that imports ``mpy`` from an in-RAM filesystem on this firmware.

    ``compress=False`` where bytes cost nothing (the host VM's pty): compressing would only add
    work on both sides.
    """
    io = "io" if "io" in caps.modules else "uio"
    fs = "vfs" if "vfs" in caps.modules else ("os" if "os" in caps.modules else "uos")
    at_root = ROOT_FEATURE in caps.features
    fields = {
        "io": io,
        "fs": fs,
        "module": MODULE,
        "mount": ROOT_MOUNT if at_root else MOUNT,
        "search": "" if at_root else _SEARCH_LINE,
    }
    plain = _fill(
        imports="", stream=b"%s.BytesIO(%s)" % (io.encode(), bytes_literal(mpy)), **fields
    )
    if not compress or "deflate" not in caps.modules:
        return plain
    packer = zlib.compressobj(9, zlib.DEFLATED, -DEFLATE_WBITS)
    packed = bytes_literal(packer.compress(mpy) + packer.flush())
    stream = b"deflate.DeflateIO(%s.BytesIO(%s),%d,%d)" % (
        io.encode(),
        packed,
        DEFLATE_RAW,
        DEFLATE_WBITS,
    )
    compressed = _fill(imports=",deflate", stream=stream, **fields)
    return min(plain, compressed, key=len)


def _fill(stream: bytes, **fields: str) -> bytes:
    """The loader with ``stream`` (bytes: the literal is not text) where the .mpy goes."""
    before, after = _INJECT.format(stream="\0", **fields).encode().split(b"\0")
    return before + stream + after


def source_payload(source: bytes, name: str) -> bytes:
    """The program text itself, checked for bytes the raw REPL would act on."""
    bad = re.search(rb"[\x01-\x05]", source)
    if bad:
        raise ConfigError(
            f"{name} contains the control byte {bad.group()!r}, which the raw REPL would act on; "
            f"write it as an escape (e.g. '\\x04') in the program instead."
        )
    # An empty payload is a bare Ctrl-D, which the raw REPL takes as a soft-reset request.
    return source or b"\n"


def clean_traceback(text: bytes, name: str, source_mode: bool) -> bytes:
    """Make board tracebacks name the program: in ``.mpy`` mode drop the loader's frame; in
    source mode the program itself is ``<stdin>`` (each of its frames, whatever the line)."""
    if source_mode:
        return text.replace(b'File "<stdin>"', f'File "{name}"'.encode())
    return b"\n".join(ln for ln in text.split(b"\n") if not ln.startswith(_STDIN_FRAME))


def wiring_payload(module_source: str) -> bytes:
    """Code that makes ``import target_wiring`` find the rig's wiring.

    As MicroPython's run-tests.py does it, a class stands in for the module in ``sys.modules``.
    Firmware without ``sys.modules`` (the micro:bit's 1.9.2) cannot be given one this way; a
    ``target_wiring.py`` on the board's own filesystem is found there instead.
    """
    body = "".join(f" {line}\n" for line in module_source.splitlines()) or " pass\n"
    return (
        f"import sys\nclass target_wiring:\n{body}"
        "try:\n sys.modules['target_wiring']=target_wiring\nexcept AttributeError:\n pass\n"
        "del target_wiring\n"
    ).encode()
