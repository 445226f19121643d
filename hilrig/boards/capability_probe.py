"""The capability probe: one small program, one round trip, at connect.

It must run on anything from MicroPython 1.9 (no f-strings, 9 KB heap on a micro:bit) to today,
so it is written in the oldest syntax and prints a single ``repr`` of a tuple that the host reads
with ``ast.literal_eval``.
"""

from __future__ import annotations

import ast
from typing import Any

from hilrig.capabilities import Capabilities, ErrorReporting
from hilrig.errors import ReplError

# Modules whose presence decides skips and the loader; checked by import, cheapest first.
MODULES = tuple(
    "micropython gc array struct ustruct collections ucollections io uio json ujson re ure math "
    "cmath os uos vfs errno time utime select binascii deflate hashlib random heapq _thread "
    "asyncio machine".split()
)

PROBE_SCRIPT = """\
import sys
i=sys.implementation
v=tuple(i.version)[:3]
mp=getattr(i,'_mpy',getattr(i,'mpy',None))
mc=getattr(i,'_machine','')
bd=getattr(i,'_build','')
try:
 fb=30 if float('1.0000001')==1.0 else (32 if float('1e300')==float('inf') else 64)
except:
 fb=0
n=0
while n<64:
 a=1<<n
 b=1<<n
 if a is not b:
  break
 n+=1
n+=1
try:
 big=(2**100)>>99==2
except:
 big=False
try:
 (lambda:0)(0)
 el=0
except TypeError as e:
 el=len(str(e))
try:
 import gc
 gc.collect()
 mf=gc.mem_free()
except:
 mf=None
ms=[]
for m in %(modules)r:
 try:
  __import__(m)
  ms.append(m)
 except:
  pass
ft=[]
for k,s in %(features)r:
 try:
  g={}
  exec(s,g)
  if g.get('ok',1):
   ft.append(k)
 except:
  pass
print(repr((sys.platform,v,sys.version,mp,mc,bd,fb,n,big,el,mf,ms,ft,getattr(sys,'byteorder',''))))
"""

# The in-RAM filesystem class of the .mpy loader (mpy/payload.py), up to its ``open``'s body: the
# probe's import_at_root check mounts the very class the loader will.
LOADER_FS_CLASS = "class L:\n mount=umount=stat=lambda*a:(0,)*10\n def open(*a):"
# ``import X`` finds a file mounted at "/X.py" with sys.path as it is (the VFS root is where
# relative paths go): the loader then mounts the .mpy at the root and leaves sys.path alone. The
# check mounts a one-line .py file at "/_hp.py" and imports it (``ok`` says it worked).
ROOT_FEATURE = "import_at_root"
ROOT_CHECK = (
    "import sys,io\ntry:\n import vfs as V\nexcept ImportError:\n import os as V\n"
    + LOADER_FS_CLASS
    + "return io.BytesIO(b'ok=1')\n"
    "V.mount(L,'/_hp.py')\ntry:\n import _hp\n ok=_hp.ok==1\n"
    "finally:\n V.umount('/_hp.py')\n sys.modules.pop('_hp',None)"
)

# Language features, each compiled and run on the board inside exec() so that a firmware without
# one raises instead of failing the probe. They are the checks MicroPython's run-tests.py runs as
# separate programs (tests/feature_check/), folded into this one round trip; ``ok`` is False when
# the code runs but gives another answer than a firmware with the feature gives.
FEATURES: tuple[tuple[str, str], ...] = (
    ("native", "@micropython.native\ndef f():\n pass\nf()"),
    ("int_big", "ok=str(1000000000000000000000000000000000000000000000)=='1'+'0'*45"),
    ("int_64", "ok=str(1<<62)=='4611686018427387904'"),
    ("bytearray", "bytearray"),
    ("set", "ok=repr({1})=='{1}'"),
    ("slice", "slice"),
    ("async", "async def f():\n await 1"),
    ("const", "x=const(1)\nok=x==1"),
    (
        "reverse_ops",
        "class F:\n def __radd__(s,o):\n  return 7\nok=5+F()==7",
    ),
    ("fstring", "a=1\nok=f'a={a}'=='a=1'"),
    ("tstring", "a=1\nx=t'a={a}'"),
    ("complex", "complex"),
    ("coverage", "extra_coverage"),
    (ROOT_FEATURE, ROOT_CHECK),
)


def probe_code() -> bytes:
    """The probe program as bytes for the raw REPL."""
    return (PROBE_SCRIPT % {"modules": MODULES, "features": FEATURES}).encode()


def error_level(message_length: int) -> ErrorReporting:
    """Error-reporting level from len(str(TypeError)) of ``(lambda:0)(0)`` (run-tests' trick)."""
    if message_length == 0:
        return ErrorReporting.NONE
    if message_length < 40:
        return ErrorReporting.TERSE
    if message_length <= 54:
        return ErrorReporting.NORMAL
    return ErrorReporting.DETAILED


# What each value of the probe's tuple must be, in order (None where firmware may lack it).
_FIELDS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("platform", str),
    ("version", tuple),
    ("sys.version", str),
    ("mpy", (int, type(None))),
    ("machine", str),
    ("build", str),
    ("float bits", int),
    ("small int bits", int),
    ("big ints", bool),
    ("error message length", int),
    ("mem_free", (int, type(None))),
    ("modules", list),
    ("features", list),
    ("byteorder", str),
)


def _probe_values(text: str) -> tuple[Any, ...]:
    """The probe's tuple, each value checked; ReplError naming what is wrong."""
    try:
        values: Any = ast.literal_eval(text.splitlines()[-1])
    except (ValueError, SyntaxError, IndexError, TypeError, MemoryError, RecursionError) as exc:
        raise ReplError(f"the capability probe printed {text[:200]!r}, not its answer") from exc
    if not isinstance(values, tuple) or len(values) != len(_FIELDS):
        raise ReplError(f"the capability probe printed {text[:200]!r}, not its answer")
    for (name, kind), value in zip(_FIELDS, values, strict=True):
        if not isinstance(value, kind):
            raise ReplError(f"the capability probe's {name} is {value!r}; in {text[:200]!r}")
    if not all(isinstance(v, int) for v in values[1]) or not all(
        isinstance(m, str) for m in values[11] + values[12]
    ):
        raise ReplError(f"the capability probe printed {text[:200]!r}, not its answer")
    return tuple(values)


def parse_probe(output: bytes, banner: str, raw_paste: bool) -> Capabilities:
    """Read the probe's printed tuple into Capabilities; ReplError if it is not there."""
    text = output.decode("utf-8", "replace").strip()
    platform, version, sys_version, mpy, machine, build, fbits, nbits, big, el, mf, mods, ft, bo = (
        _probe_values(text)
    )
    modules = frozenset(mods)
    loader_ok = ("vfs" in modules or "os" in modules or "uos" in modules) and (
        "io" in modules or "uio" in modules
    )
    return Capabilities(
        platform=platform,
        version=(tuple(version) + (0, 0, 0))[:3],
        banner=banner,
        sys_version=sys_version,
        mpy=mpy,
        machine=machine,
        build=build,
        float_bits=fbits,
        small_int_bits=nbits,
        bigint=big,
        error_reporting=error_level(el),
        mem_free=mf,
        modules=modules,
        can_import_mpy=mpy is not None and loader_ok,
        raw_paste=raw_paste,
        features=frozenset(ft),
        byteorder=bo,
    )
