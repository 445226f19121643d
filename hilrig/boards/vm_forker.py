"""A fork server for the host VM: fresh VMs at the cost of a fork, not of a CPython start.

The PyPI unix port is an extension module inside CPython, so every VM used to be a new CPython
process: about 10 ms of CPU per program before MicroPython's own start, on a machine whose two
cores are the limit. The fork server is one CPython process that has loaded the extension (and
never run it); for each VM it is handed a pseudo-terminal over a Unix socket and forks a child that
makes that terminal its stdin, stdout and stderr and enters ``micropython -i``. The child starts
from the same untouched state a new process would, in its own session, and dies with the server,
which dies with hilrig (``PR_SET_PDEATHSIG``). Children are reaped by the kernel (``SIGCHLD``
ignored), and hilrig follows each one through a pidfd (Linux 5.3): poll, kill, wait.

Where the server cannot be used (not Linux, no pidfd, a ``command`` given in the target file, a
``micropython`` executable rather than the extension), VMs are started as processes as before.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import struct
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from hilrig import processes

# The server's own code, run with ``python -S -E -c``: argv is [site dir, control fd, VM args].
_SERVER = r"""
import ctypes, os, signal, socket, struct, sys
sys.path.insert(0, sys.argv[1])
import micropython_run
ctl = socket.socket(fileno=int(sys.argv[2]))
vm_argv = ['micropython'] + sys.argv[3:]
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
while True:
    try:
        msg, fds, _, _ = socket.recv_fds(ctl, 16, 1)
    except OSError:
        break
    if not msg or not fds:
        break
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ctl.close()
            os.setsid()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)
            for std in (0, 1, 2):
                os.dup2(fds[0], std)
            os.close(fds[0])
            code = micropython_run.run_main(vm_argv)
        finally:
            os._exit(code if isinstance(code, int) else 1)
    os.close(fds[0])
    ctl.sendall(struct.pack('<i', pid))
"""


class ForkedVM:
    """A VM forked by the server: ``pid``, ``poll`` (None while it runs) and ``stop``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        try:
            self.pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:  # already gone (and reaped)
            self.pidfd = None

    def poll(self) -> int | None:
        """None while the VM runs, 0 once it has ended (0 whatever its exit status was)."""
        if self.pidfd is None:
            return 0
        readable, _, _ = select.select([self.pidfd], [], [], 0)
        return 0 if readable else None

    def kill(self) -> None:
        """SIGKILL the VM (as ``subprocess.Popen.kill``)."""
        if self.pidfd is not None:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float) -> None:
        """Wait until the VM has ended; ``subprocess.TimeoutExpired`` if it has not by then.
        Its exit status is not known here (the server's kernel reaps it); hilrig needs none."""
        if self.pidfd is not None:
            readable, _, _ = select.select([self.pidfd], [], [], timeout)
            if not readable:
                raise subprocess.TimeoutExpired(f"host VM (pid {self.pid})", timeout)

    def stop(self) -> None:
        """Kill the VM's process group, wait until it is gone, and let go of the pidfd."""
        if self.pidfd is None:
            return
        if self.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.kill()
            select.select([self.pidfd], [], [], 5.0)
        os.close(self.pidfd)
        self.pidfd = None


class VMForker:
    """The fork server of one host VM connection (one module path, one working folder)."""

    def __init__(self, site: str, vm_args: Sequence[str], cwd: Path, env: dict[str, str] | None):
        self.site = site
        self.vm_args = list(vm_args)
        self.cwd = cwd
        self.env = env
        self.server: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None

    @staticmethod
    def usable() -> bool:
        """True where fork servers work: Linux with pidfds."""
        return sys.platform.startswith("linux") and hasattr(os, "pidfd_open")

    def fork(self, terminal: int) -> ForkedVM:
        """A new VM on ``terminal`` (the pty's child side; the caller closes its copy).

        OSError if the server cannot be started or has died and cannot be restarted.
        """
        for attempt in (1, 2):
            if self.control is None:
                self._start()
            assert self.control is not None
            try:
                socket.send_fds(self.control, [b"f"], [terminal])
                reply = self._read_pid()
            except OSError:
                if attempt == 2:
                    raise
                self.close()  # the server died (killed from outside): start another once
                continue
            return ForkedVM(reply)
        raise AssertionError("unreachable")

    def _read_pid(self) -> int:
        assert self.control is not None
        data = b""
        while len(data) < 4:
            chunk = self.control.recv(4 - len(data))
            if not chunk:
                raise OSError("the host VM's fork server ended")
            data += chunk
        pid: int = struct.unpack("<i", data)[0]
        return pid

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.server = processes.spawn(
                [sys.executable, "-S", "-E", "-c", _SERVER, self.site, str(theirs.fileno())]
                + self.vm_args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=self.cwd,
                env=self.env,
                pass_fds=(theirs.fileno(),),
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.control = ours

    def close(self) -> None:
        """Stop the server (VMs it forked die with it)."""
        if self.control is not None:
            self.control.close()
            self.control = None
        processes.stop(self.server)
        self.server = None
