"""Compiler selection against firmware versions, compile errors, and the disk cache."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from packs import records, rewrite

import hilrig.mpy.compiler as compiler_module
from hilrig.capabilities import Capabilities
from hilrig.errors import CompileError, IncompatibleMpy, ToolMissing
from hilrig.mpy.compiler import (
    Compiler,
    CompileRequest,
    select_compiler,
    shipped_compilers,
    user_compiler,
)
from hilrig.mpy.reader import check_loadable, mpy_for_release, read_header


def caps(version: tuple[int, int, int], mpy: int | None) -> Capabilities:
    return Capabilities(platform="test", version=version, banner="", mpy=mpy, small_int_bits=31)


def test_shipped_compilers_cover_every_mpy_version(tmp_path: Path) -> None:
    found = {(c.mpy_major, c.mpy_sub) for c in shipped_compilers(tmp_path)}
    assert {(2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (6, 1), (6, 2), (6, 3)} <= found


@pytest.mark.parametrize(
    ("version", "mpy", "release"),
    [
        ((1, 29, 0), 6 | 3 << 8, "1.29.0"),
        ((1, 22, 2), 6 | 2 << 8, "1.22.0"),
        ((1, 20, 0), 6 | 1 << 8, "1.20.0"),
        ((1, 19, 1), 6, "1.19"),
        ((1, 17, 0), 5, "1.12"),
        ((1, 11, 0), 4, "1.11"),
        ((1, 10, 0), None, "1.9.3"),  # no _mpy before 1.12: matched by version
        ((1, 9, 2), None, "1.9"),
    ],
)
def test_select_compiler_matches_firmware(
    tmp_path: Path, version: tuple[int, int, int], mpy: int | None, release: str
) -> None:
    chosen = select_compiler(caps(version, mpy), tmp_path)
    assert chosen.release == release
    # What it writes really has the version the firmware loads.
    out = Compiler(chosen, tmp_path).compile(CompileRequest(b"print(1)\n", "x.py"))
    expected = mpy & 0xFF if mpy is not None else mpy_for_release(version)[0]  # type: ignore[index]
    assert out[:2] == bytes([ord("M"), expected])


def test_native_code_needs_the_exact_sub_version(tmp_path: Path) -> None:
    board = caps((1, 22, 0), 6 | 2 << 8 | 2 << 10)  # v6.2, x64
    chosen = select_compiler(board, tmp_path, native=True)
    assert (chosen.mpy_major, chosen.mpy_sub) == (6, 2)
    data = Compiler(chosen, tmp_path).compile(
        CompileRequest(b"@micropython.native\ndef f():\n    return 1\n", "n.py", "native", "x64")
    )
    check_loadable(read_header(data), board)


def test_no_compiler_for_ancient_firmware_is_a_sentence(tmp_path: Path) -> None:
    with pytest.raises(IncompatibleMpy, match="older than any known release"):
        select_compiler(caps((1, 8, 7), None), tmp_path)
    with pytest.raises(IncompatibleMpy, match=r"loads \.mpy v7\.0, and no shipped mpy-cross"):
        select_compiler(caps((2, 0, 0), 7), tmp_path)


def test_mismatched_compiler_is_refused_before_the_board(tmp_path: Path) -> None:
    old = next(c for c in shipped_compilers(tmp_path) if c.mpy_major == 5)
    data = Compiler(old, tmp_path).compile(CompileRequest(b"print(1)\n", "x.py"))
    with pytest.raises(IncompatibleMpy, match=r"is \.mpy v5.*loads \.mpy v6"):
        check_loadable(read_header(data), caps((1, 29, 0), 6 | 3 << 8))


def test_user_compiler_is_asked_its_version(tmp_path: Path) -> None:
    current = shipped_compilers(tmp_path)[0]
    assert user_compiler(current.path).mpy_major == 6
    assert not user_compiler(current.path).pipes  # it may be a script that rereads its output
    with pytest.raises(ToolMissing, match="no such file"):
        user_compiler(tmp_path / "nope")


def test_compile_error_carries_the_compilers_message(tmp_path: Path) -> None:
    compiler = Compiler(shipped_compilers(tmp_path)[0], tmp_path)
    with pytest.raises(CompileError) as info:
        compiler.compile(CompileRequest(b"def f(:\n", "suites/bad.py"))
    assert 'File "suites/bad.py", line 1' in str(info.value)
    assert "SyntaxError" in str(info.value)


def test_cache_keys_on_source_flags_and_name(tmp_path: Path) -> None:
    compiler = Compiler(shipped_compilers(tmp_path)[0], tmp_path)
    a = CompileRequest(b"print(1)\n", "a.py")
    first = compiler.compile(a)
    assert len(records(tmp_path / "mpy.pack")) == 1
    assert compiler.compile(a) == first
    assert len(records(tmp_path / "mpy.pack")) == 1  # read, not compiled and stored again
    compiler.compile(CompileRequest(b"print(1)\n", "b.py"))  # another name -> another .mpy
    compiler.compile(CompileRequest(b"print(2)\n", "a.py"))
    assert len(records(tmp_path / "mpy.pack")) == 3
    assert b"a.py" in first
    assert Compiler(shipped_compilers(tmp_path)[0], tmp_path).compile(a) == first  # next run


def test_a_cached_mpy_is_what_is_used(tmp_path: Path) -> None:
    """The cache is read, not bypassed: a record changed on disk is what compile returns."""
    compiler = Compiler(shipped_compilers(tmp_path)[0], tmp_path)
    request = CompileRequest(b"print(1)\n", "a.py")
    first = compiler.compile(request)
    rewrite(tmp_path / "mpy.pack", lambda mpy: mpy + b"tail")
    assert Compiler(shipped_compilers(tmp_path)[0], tmp_path).compile(request) == first + b"tail"


@pytest.mark.parametrize("way", ["memory", "pipes", "files"])
def test_every_shipped_compiler_writes_the_same_mpy_through_pipes_and_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    """Source and .mpy travel through /dev/stdin and /dev/stdout (memory files, or pipes where
    there are none); every compiler the package ships (back to 1.9) must give the bytes it
    writes from and to real files."""
    if way == "memory" and not compiler_module.IN_MEMORY:
        pytest.skip("no memory files or pidfds on this OS")
    monkeypatch.setattr(compiler_module, "IN_MEMORY", way == "memory")
    through_files = way == "files"
    source = b"def f(x):\n    return x * 2\n\nprint(f(21), 'hi', 1.5)\n"
    for mpy_cross in shipped_compilers(tmp_path):
        assert mpy_cross.pipes
        request = CompileRequest(source, "suites/twice.py")
        with tempfile.TemporaryDirectory() as tmp:
            src, out = Path(tmp) / "twice.py", Path(tmp) / "twice.mpy"
            src.write_bytes(source)
            subprocess.run(
                Compiler(mpy_cross, tmp_path).command(request, str(src), str(out)), check=True
            )
            expected = out.read_bytes()
        monkeypatch.setattr(compiler_module, "PIPES_AS_FILES", not through_files)
        got = Compiler(mpy_cross, tmp_path / mpy_cross.release)._run(request)
        assert got == expected, mpy_cross.label
        with pytest.raises(CompileError, match='File "suites/bad.py", line 1'):
            Compiler(mpy_cross, tmp_path)._run(CompileRequest(b"def f(:\n", "suites/bad.py"))


@pytest.mark.skipif(not compiler_module.IN_MEMORY, reason="no memory files or pidfds on this OS")
def test_in_memory_streams_carry_more_than_a_pipe_holds_and_a_late_child_is_killed() -> None:
    data = bytes(range(256)) * 1200  # 300 KB: more than a pipe's 64 KB
    argv = ["sh", "-c", "cat /dev/stdin > /dev/stdout; echo said >&2; exit 3"]
    done = compiler_module.run_in_memory(argv, data, 30, dict(os.environ))
    assert (done.returncode, done.stdout, done.stderr) == (3, data, b"said\n")
    with pytest.raises(subprocess.TimeoutExpired):
        compiler_module.run_in_memory(["sleep", "30"], b"", 0.2, dict(os.environ))


def test_a_refused_memory_file_falls_back_to_pipes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(name: str, flags: int = 0) -> int:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "memfd_create", refuse, raising=False)
    compiler = Compiler(shipped_compilers(tmp_path)[0], tmp_path)
    assert compiler._run(CompileRequest(b"print(1)\n", "x.py")).startswith(b"M")
    with pytest.raises(CompileError, match='File "bad.py", line 1'):
        compiler._run(CompileRequest(b"def f(:\n", "bad.py"))
