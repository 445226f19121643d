"""The .mpy loader on a real VM: what a program sees of it, compressed and plain alike."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from real_targets import started_board

from hilrig.boards.board import Board
from hilrig.boards.capability_probe import FEATURES, ROOT_FEATURE
from hilrig.capabilities import Capabilities
from hilrig.mpy.compiler import select_compiler
from hilrig.mpy.payload import MOUNT, bytes_literal, clean_traceback, mpy_payload

# What the loader must leave a program: its name, a working import system and mount table
# (MicroPython's own vfs tests unmount everything they find), its own line numbers.
PROGRAM = """\
import sys
print(__name__, sys.modules['__main__'].__name__)
class C:
    pass
print(C.__module__)
import vfs
vfs.umount('/_h/_h.mpy')
print('unmounted')
import json
print(json.dumps([1, 'x' * 40, {'k': 'x' * 40}]))
def boom():
    raise ValueError('from line 12')
boom()
"""


@pytest.fixture(scope="module")
def host() -> Iterator[Board]:
    with started_board("host") as board:
        yield board


def compiled(tmp_path: Path, source: str, caps: Capabilities) -> bytes:
    """``source`` compiled by the compiler hilrig picks for these capabilities."""
    src = tmp_path / "prog.py"
    src.write_text(source)
    out = tmp_path / "prog.mpy"
    compiler = select_compiler(caps, tmp_path / "cache")
    subprocess.run([str(compiler.path), "-o", str(out), str(src)], check=True, timeout=60)
    return out.read_bytes()


def caps_of(board: Board) -> Capabilities:
    assert board.caps is not None
    return board.caps


def test_every_byte_value_survives_the_literal_on_a_real_vm(host: Board) -> None:
    # control bytes before and after octal digits, the two quotes, backslash, CR and LF
    data = bytes(range(256)) + b"\x00\x31\x05\x37\x04\x38\x00\x00\x01\x08\x039'\\\r\n"
    literal = bytes_literal(data)
    assert bytes_literal(b"\x00a\x051") == b"b'\\0a\\0051'"  # one digit unless a digit follows
    assert not any(c in literal for c in b"\x01\x02\x03\x04\x05\r\n")  # nothing the REPL acts on
    host.reset()
    reply = host.exec(b"x=" + literal + b"\nprint(list(x))", 10, 100_000)
    assert reply.stdout.decode().strip() == str(list(data)), reply.exception


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "deflate"])
def test_the_program_sees_main_its_lines_and_can_unmount_the_loader(
    host: Board, tmp_path: Path, compress: bool
) -> None:
    caps = caps_of(host)
    assert {"deflate", "vfs"} <= caps.modules  # both paths are really taken here
    assert MOUNT == "/_h/_h.mpy"  # the program above unmounts it by name
    mpy = compiled(tmp_path, PROGRAM, caps)
    payload = mpy_payload(mpy, caps, compress)
    assert (b"deflate.DeflateIO" in payload) is compress
    host.reset()
    reply = host.exec(payload, 10, 100_000)
    assert reply.stdout.decode().replace("\r\n", "\n").splitlines() == [
        "__main__ __main__",
        "__main__",
        "unmounted",
        '[1, "' + "x" * 40 + '", {"k": "' + "x" * 40 + '"}]',
    ]
    tb = clean_traceback(reply.exception, "prog.py", source_mode=False).decode()
    assert '"<stdin>"' not in tb  # the loader's own frame is gone
    assert 'prog.py", line 12, in boom' in tb and tb.rstrip().endswith("ValueError: from line 12")


def test_compression_is_used_only_where_it_shortens_the_payload(
    host: Board, tmp_path: Path
) -> None:
    caps = caps_of(host)
    tiny = compiled(tmp_path, "pass\n", caps)
    assert b"deflate" not in mpy_payload(tiny, caps)  # the decompressor costs more than it saves
    lines = [f"print('line {i}', {i} * 2)" for i in range(60)]
    big = compiled(tmp_path, "\n".join(lines), caps)
    packed = mpy_payload(big, caps)
    assert b"deflate.DeflateIO" in packed and len(packed) < len(mpy_payload(big, caps, False))
    without = dataclasses.replace(caps, modules=caps.modules - {"deflate"})
    assert b"deflate" not in mpy_payload(big, without)  # firmware without the module
    host.reset()
    reply = host.exec(packed, 10, 100_000)
    assert reply.exception == b""
    assert reply.stdout.decode().splitlines()[-1].strip() == "line 59 118"


def test_a_source_programs_frame_on_the_loaders_line_is_kept() -> None:
    """Source mode has no loader: a module-level error on the line where the loader would import
    the .mpy is the program's own frame (it used to be dropped as the loader's)."""
    tb = b'Traceback (most recent call last):\r\n  File "<stdin>", line 7, in <module>\r\nE\r\n'
    assert clean_traceback(tb, "suites/p.py", source_mode=True) == (
        b'Traceback (most recent call last):\r\n  File "suites/p.py", line 7, in <module>\r\nE\r\n'
    )
    assert clean_traceback(tb, "suites/p.py", source_mode=False) == (
        b"Traceback (most recent call last):\r\nE\r\n"
    )


ROOT_CHECK = dict(FEATURES)[ROOT_FEATURE]


def test_the_host_vm_imports_nothing_from_the_vfs_root(host: Board) -> None:
    """Its root is the host's filesystem: the loader must put its folder on sys.path."""
    caps = caps_of(host)
    assert ROOT_FEATURE not in caps.features
    assert b"sys.path[:0]=['/_h']" in mpy_payload(b"M", caps)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "deflate"])
def test_where_import_looks_in_the_vfs_root_the_loader_leaves_sys_path_alone(
    host: Board, tmp_path: Path, compress: bool
) -> None:
    """A VM whose root filesystem is unmounted is like a board without one (the emulated
    STM32): the probe's check passes there, and the shorter loader runs the program."""
    host.reset()
    setup = host.exec(b"import vfs\nvfs.umount('/')\n", 10, 10_000)
    assert setup.exception == b""
    check = host.exec(ROOT_CHECK.encode() + b"\nprint(ok)\n", 10, 10_000)
    assert check.stdout.strip() == b"True", check
    caps = caps_of(host)
    root_caps = dataclasses.replace(caps, features=caps.features | {ROOT_FEATURE})
    source = "import sys\nprint(__name__, sys.path[0] == '')\nraise ValueError('line 3')\n"
    payload = mpy_payload(compiled(tmp_path, source, caps), root_caps, compress)
    assert b"sys.path" not in payload.split(b"\n", 4)[-1]  # no line of its own for sys.path
    reply = host.exec(payload, 10, 100_000)
    assert reply.stdout.decode().split() == ["__main__", "True"]
    tb = clean_traceback(reply.exception, "prog.py", source_mode=False).decode()
    assert '"<stdin>"' not in tb and 'prog.py", line 3, in <module>' in tb
