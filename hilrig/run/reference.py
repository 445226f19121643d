"""References: what a program should print, from a separate host VM or from CPython.

Results are cached on disk by content (the exact bytes run, plus the reference VM's identity), so
a rerun of an unchanged program does not run the reference again. Timeouts and crashes are never
cached.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from hilrig import forkserver, processes
from hilrig.boards.board import Board
from hilrig.boards.hostvm import HostVM, host_vm_command
from hilrig.capabilities import CPYTHON_CAPS, Capabilities
from hilrig.compare.tracebacks import HEADER, format_traceback, parse_traceback
from hilrig.errors import HilrigError
from hilrig.mpy.compiler import Compiler, select_compiler
from hilrig.pack import Pack
from hilrig.results import Outcome, RunResult, printed_skip
from hilrig.run.cpython_forker import CPythonForker, Finished
from hilrig.run.program import Program
from hilrig.run.runner import Runner
from hilrig.targets.spec import Wiring

log = logging.getLogger(__name__)


class Reference(Protocol):
    """Something that runs a program to say what it should print."""

    label: str
    caps: Capabilities

    def run(self, program: Program, timeout_s: float) -> RunResult:
        """The reference result for ``program``."""

    def close(self) -> None:
        """Stop whatever the reference started."""


class ResultCache:
    """RunResults stored as small JSON records in a pack (:mod:`hilrig.pack`), under a content
    hash. Threads that ask for the same key at once run it once: the others wait for that run
    and read its result."""

    def __init__(self, path: Path) -> None:
        self.pack = Pack(path)
        self.lock = threading.Lock()
        self.running: dict[str, threading.Event] = {}

    def get(self, key: str) -> RunResult | None:
        """A cached result, or None."""
        stored = self.pack.get(key)
        if stored is None:
            return None
        data = json.loads(stored)
        return RunResult(
            Outcome(data["outcome"]),
            base64.b64decode(data["stdout"]),
            base64.b64decode(data["traceback"]),
            data["duration_s"],
            data["truncated"],
            data["detail"],
        )

    def recall(self, key: str, run: Callable[[], RunResult]) -> RunResult:
        """The result stored under ``key``, else ``run()``'s, stored for next time."""
        while True:
            cached = self.get(key)
            if cached is not None:
                return cached
            with self.lock:
                other = self.running.get(key)
                if other is None:
                    mine = self.running[key] = threading.Event()
            if other is None:
                break
            other.wait()  # then read what it stored (a result that is not stored runs again)
        try:
            result = run()
            self.put(key, result)
            return result
        finally:
            with self.lock:
                del self.running[key]
            mine.set()

    def put(self, key: str, result: RunResult) -> None:
        """Store a finished result (concurrent writers write the same content)."""
        if not result.outcome.finished:
            return
        data = {
            "outcome": result.outcome.value,
            "stdout": base64.b64encode(result.stdout).decode(),
            "traceback": base64.b64encode(result.traceback).decode(),
            "duration_s": result.duration_s,
            "truncated": result.truncated,
            "detail": result.detail,
        }
        self.pack.put(key, json.dumps(data).encode())


def cache_key(*parts: bytes | str) -> str:
    """sha256 over the parts, each terminated so that boundaries count."""
    h = hashlib.sha256()
    for part in parts:
        h.update((part.encode() if isinstance(part, str) else part) + b"\0")
    return h.hexdigest()


class HostReference:
    """A separate host VM that runs the same program the same way as the board."""

    def __init__(
        self,
        cache_dir: Path,
        max_output: int,
        emit: str = "bytecode",
        command: list[str] | None = None,
        path: Sequence[Path] = (),
        wiring: Wiring | None = None,
    ) -> None:
        self.cache_dir = cache_dir
        self.path = tuple(path)
        self.wiring = wiring if wiring is not None else Wiring()
        self.max_output = max_output
        self.emit = emit
        self.command = command
        self.board: Board | None = None
        self.runner: Runner | None = None
        self.caps = CPYTHON_CAPS
        self.label = "host VM"
        self.results = ResultCache(cache_dir / "ref.pack")
        self.closed = False

    def start(self) -> None:
        """Start the reference VM now (so its identity is known before the first program)."""
        self._runner()

    def _runner(self) -> Runner:
        if self.closed:
            raise HilrigError(f"{self.label} was closed")
        if self.runner is None:
            vm = HostVM(host_vm_command(self.command), label="reference VM", path=self.path)
            self.board = Board(vm)
            self.caps = self.board.start()
            compiler = Compiler(select_compiler(self.caps, self.cache_dir), self.cache_dir)
            self.runner = Runner(
                self.board, self.caps, compiler, self.max_output, self.emit, role="reference VM"
            )
            self.runner.wiring = self.wiring
            self.label = f"host VM ({self.caps.banner})"
        return self.runner

    def run(self, program: Program, timeout_s: float) -> RunResult:
        """Run (or recall) the program on the reference VM."""
        runner = self._runner()
        prepared = runner.prepare(program)
        path = os.pathsep.join(str(p) for p in self.path)
        wiring = self.wiring.module_source() if program.wiring_needed is not None else ""
        key = cache_key(
            "host", self.caps.banner, prepared.payload, str(self.max_output), path, wiring
        )
        return self.results.recall(key, lambda: runner.run(program, prepared, timeout_s))

    def close(self) -> None:
        """Stop the reference VM, under a program it runs too (no recovery then)."""
        self.closed = True
        if self.board is not None:
            self.board.broken = f"{self.label} was closed"
            self.board.close()


class CPythonReference:
    """CPython running the program's source, as MicroPython's own test runner does.

    Each program runs as ``python -B -S program.py`` in its folder, with stdin ``/dev/null``:
    forked from a fork server where one works (Linux), else as a new process.
    """

    label = f"CPython {sys.version.split()[0]}"
    caps = CPYTHON_CAPS
    concurrent = True  # programs may run on several threads at once (each is its own process)

    def __init__(self, cache_dir: Path, max_output: int) -> None:
        self.results = ResultCache(cache_dir / "ref.pack")
        self.max_output = max_output
        self.forker: CPythonForker | None = None
        self.fork_programs = forkserver.usable()
        self.closed = False
        self.lock = threading.Lock()  # programs run on the session's and the prefetch's thread

    def run(self, program: Program, timeout_s: float) -> RunResult:
        """Run ``python -B -S program.py`` in the program's folder (or recall it)."""
        key = cache_key("cpython", sys.version, program.name, program.source)
        return self.results.recall(key, lambda: self._run(program, timeout_s))

    def _run(self, program: Program, timeout_s: float) -> RunResult:
        started = time.monotonic()
        finished = self._forked(program, timeout_s)
        if finished is None:
            finished = _spawned(program, timeout_s)
        if finished.returncode is None:
            detail = f"timeout after {timeout_s:g} s"
            return RunResult(Outcome.TIMEOUT, finished.stdout, detail=detail)
        tb = _board_named(finished.stderr, program)
        outcome = Outcome.EXCEPTION if finished.returncode != 0 and tb.strip() else Outcome.OK
        if outcome is Outcome.OK and printed_skip(finished.stdout):
            outcome = Outcome.SKIP  # run-tests.py runs CPython for no skip: the board decides
        return RunResult(
            outcome,
            finished.stdout[: self.max_output],
            tb if outcome is Outcome.EXCEPTION else b"",
            time.monotonic() - started,
            len(finished.stdout) > self.max_output,
        )

    def _forked(self, program: Program, timeout_s: float) -> Finished | None:
        """The run from the fork server; None where there is none or it failed."""
        with self.lock:
            if self.closed:
                raise HilrigError(f"{self.label} was closed before {program.name}")
            if not self.fork_programs:
                return None
            if self.forker is None:
                self.forker = CPythonForker()
            forker = self.forker
        try:
            return forker.run(program.path.parent, program.path.name, timeout_s)
        except OSError as exc:
            if self.closed:  # not a failure: ``close`` stopped the server under this run
                raise HilrigError(f"{self.label} was closed under {program.name}") from exc
            log.warning(
                "%s: the fork server failed (%s); running programs as processes", self.label, exc
            )
            with self.lock:
                self.fork_programs = False
                if self.forker is not None:
                    self.forker.close()
                    self.forker = None
            return None

    def close(self) -> None:
        """Stop the fork server."""
        with self.lock:
            self.closed = True
            if self.forker is not None:
                self.forker.close()
                self.forker = None


def _spawned(program: Program, timeout_s: float) -> Finished:
    """``python -B -S program.py`` as a new process."""
    try:
        proc = subprocess.run(
            [sys.executable, "-B", "-S", program.path.name],
            cwd=program.path.parent,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout_s,
            check=False,
            env=processes.environment(),  # references run on the prefetch thread too
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, bytes) else b""
        return Finished(None, out, b"")
    except OSError as exc:
        raise HilrigError(f"cannot run CPython ({sys.executable}): {exc.strerror}") from exc
    return Finished(proc.returncode, proc.stdout, proc.stderr)


def _board_named(stderr: bytes, program: Program) -> bytes:
    """CPython's traceback as the board prints it: frames name the program as the board does.

    CPython (3.9+) names the script by its absolute path, and 3.11 echoes each frame's source
    line with ``~~^^`` markers under it; the board names it ``program.name`` and echoes nothing.
    Text that does not parse as one traceback (warnings, the program's own stderr) is kept as is.
    """
    text = stderr.decode("utf-8", errors="backslashreplace")
    for spelling in {str(program.path.resolve()), str(program.path), program.path.name}:
        text = text.replace(f'File "{spelling}"', f'File "{program.name}"')
    tb = parse_traceback(text)
    if tb is None or not text.startswith(HEADER):
        return text.encode()
    return format_traceback(tb).encode()
