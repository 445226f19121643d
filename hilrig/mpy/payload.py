"""What is sent to the raw REPL to run one program.

``.mpy`` mode follows MicroPython's own ``run-tests.py --via-mpy``: the compiled bytes travel inside
a small script that mounts a read-only in-RAM filesystem holding just that file and imports it, so
the board's own filesystem is never touched. The module renames itself ``__main__`` as it loads.
Source mode sends the program text itself (firmware that cannot import ``.mpy``).
"""

from __future__ import annotations

import base64
import re

from hilrig.capabilities import Capabilities
from hilrig.errors import ConfigError

MODULE = "__hilrig_prog"
MOUNT = "/__hilrig"

# Every byte counts: on an emulated STM32 the UART moves about 25 bytes a millisecond, and this
# script travels with every program (a soft reset between programs clears it). The .mpy travels
# as base64 where the firmware has binascii (4 bytes per 3, against about 3 per byte as a bytes
# literal full of \\x escapes).
_INJECT = """\
import sys,{io},{fs}
{data}
class __HF({io}.IOBase):
 def __init__(s):
  m=sys.modules['{module}'];m.__name__='__main__';sys.modules['__main__']=m;s.o=0
 def ioctl(s,r,a):return 0 if r==4 else -1
 def readinto(s,b):
  n=len(b);b[:]=memoryview(__hb)[s.o:s.o+n];s.o+=n;return n
class __HFS:
 def mount(s,r,m):pass
 def umount(s):pass
 def stat(s,p):
  if p!='/{module}.mpy' and p!='{module}.mpy':raise OSError(2)
  return (32768,0,0,0,0,0,0,0,0,0)
 def open(s,p,m):return __HF()
{fs}.mount(__HFS(),'{mount}')
sys.path.insert(0,'{mount}')
__import__('{module}')
"""

# The traceback frame the injector's own last line adds above the program's frames.
IMPORT_LINE = _INJECT.count("\n")
INJECTOR_FRAME = f'  File "<stdin>", line {IMPORT_LINE}, in <module>'


def mpy_payload(mpy: bytes, caps: Capabilities) -> bytes:
    """The script that imports ``mpy`` from an in-RAM filesystem on this firmware."""
    io = "io" if "io" in caps.modules else "uio"
    fs = "vfs" if "vfs" in caps.modules else ("os" if "os" in caps.modules else "uos")
    if "binascii" in caps.modules:
        text = base64.b64encode(mpy).decode()
        data = f"import binascii;__hb=binascii.a2b_base64('{text}')"
    else:
        data = f"__hb={mpy!r}"
    return _INJECT.format(data=data, io=io, fs=fs, module=MODULE, mount=MOUNT).encode()


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
