"""What is sent to the raw REPL to run one program.

``.mpy`` mode follows MicroPython's own ``run-tests.py --via-mpy``: the compiled bytes travel inside
a small script that mounts a read-only in-RAM filesystem holding just that file and imports it, so
the board's own filesystem is never touched. The module renames itself ``__main__`` as it loads.
Source mode sends the program text itself (firmware that cannot import ``.mpy``).
"""

from __future__ import annotations

import base64
import re
import zlib

from hilrig.capabilities import Capabilities
from hilrig.errors import ConfigError

MODULE = "_h"
MOUNT = "/_h"
DEFLATE_WBITS = 9  # the smallest window CPython's zlib writes raw DEFLATE for

# Every byte counts: on an emulated STM32 the UART moves about 25 bytes a millisecond, and this
# script travels with every program (a soft reset between programs clears it), so the names are
# short. The filesystem holds one file; ``open`` hands out the .mpy as an ``io.BytesIO`` (a stream
# the import machinery reads like a file, copying the code into RAM as run-tests.py's loader
# does) after renaming the module being created to ``__main__``. The .mpy travels as base64 where
# the firmware has binascii (4 bytes per 3, against about 3 per byte as a bytes literal full of
# \\x escapes), and compressed where the firmware has deflate and that makes it shorter: the board
# reads it through a ``deflate.DeflateIO`` stream (raw DEFLATE with a 512-byte window, so the
# board needs 512 bytes for it). Any exception from ``stat`` means "no such file" to the importer.
_INJECT = """\
import sys,{io},{fs}{imports}
class L:
 def mount(*a):0
 def umount(*a):0
 def stat(s,p):return{{'{module}.mpy':(0,)*10}}[p.strip('/')]
 def open(*a):
  M=sys.modules['{module}'];M.__name__='__main__';sys.modules['__main__']=M
  return {stream}
{fs}.mount(L(),'{mount}')
sys.path.insert(0,'{mount}')
__import__('{module}')
"""

# The traceback frame the injector's own last line adds above the program's frames.
IMPORT_LINE = _INJECT.count("\n")
INJECTOR_FRAME = f'  File "<stdin>", line {IMPORT_LINE}, in <module>'


def mpy_payload(mpy: bytes, caps: Capabilities, compress: bool = True) -> bytes:
    """The script that imports ``mpy`` from an in-RAM filesystem on this firmware.

    ``compress=False`` where bytes cost nothing (the host VM's pty): compressing would only add
    work on both sides.
    """
    io = "io" if "io" in caps.modules else "uio"
    fs = "vfs" if "vfs" in caps.modules else ("os" if "os" in caps.modules else "uos")
    fields = {"io": io, "fs": fs, "module": MODULE, "mount": MOUNT}
    if "binascii" not in caps.modules:
        return _INJECT.format(imports="", stream=f"{io}.BytesIO({mpy!r})", **fields).encode()
    text = base64.b64encode(mpy).decode()
    stream = f"{io}.BytesIO(binascii.a2b_base64('{text}'))"
    plain = _INJECT.format(imports=",binascii", stream=stream, **fields)
    if not compress or "deflate" not in caps.modules:
        return plain.encode()
    packer = zlib.compressobj(9, zlib.DEFLATED, -DEFLATE_WBITS)
    packed = base64.b64encode(packer.compress(mpy) + packer.flush()).decode()
    stream = (
        f"deflate.DeflateIO({io}.BytesIO(binascii.a2b_base64('{packed}')),"
        f"deflate.RAW,{DEFLATE_WBITS})"
    )
    compressed = _INJECT.format(imports=",binascii,deflate", stream=stream, **fields)
    return min(plain, compressed, key=len).encode()


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
    """Make board tracebacks name the program: drop the injector frame, name ``<stdin>``."""
    lines = text.split(b"\n")
    drop = INJECTOR_FRAME.encode()
    kept = [ln for ln in lines if ln.rstrip(b"\r") != drop]
    out = b"\n".join(kept)
    if source_mode:
        out = out.replace(b'File "<stdin>"', f'File "{name}"'.encode())
    return out


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
