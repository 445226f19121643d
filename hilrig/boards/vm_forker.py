"""A fork server for the host VM: fresh VMs at the cost of a fork, not of a CPython start.

The PyPI unix port is an extension module inside CPython, so every VM used to be a new CPython
process: about 10 ms of CPU per program before MicroPython's own start, on a machine whose two
cores are the limit. The fork server is one CPython process that has loaded the extension (and
never run it); for each VM it is handed a pseudo-terminal over a Unix socket and forks a child that
makes that terminal its stdin, stdout and stderr and enters ``micropython -i``. The child starts
from the same untouched state a new process would, in its own session, and dies with the server,
which dies with hilrig (``PR_SET_PDEATHSIG``). Children are reaped by the kernel (``SIGCHLD``
ignored), and hilrig follows each one through a pidfd (``hilrig.forkserver.ForkedChild``).

Where the server cannot be used (not Linux, no pidfd, a ``command`` given in the target file, a
``micropython`` executable rather than the extension), VMs are started as processes as before.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Sequence
from pathlib import Path

from hilrig import forkserver
from hilrig.forkserver import ForkedChild, ForkServer

# The server's own code, run with ``python -S -E -c``: argv is [control fd, site dir, VM args].
_SERVER = r"""
import ctypes, os, signal, socket, struct, sys
sys.path.insert(0, sys.argv[2])
import micropython_run
ctl = socket.socket(fileno=int(sys.argv[1]))
vm_argv = ['micropython'] + sys.argv[3:]
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
server = os.getpid()
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
            if os.getppid() != server:  # the server died before prctl: nothing would kill us
                os._exit(1)
            for std in (0, 1, 2):
                os.dup2(fds[0], std)
            os.close(fds[0])
            code = micropython_run.run_main(vm_argv)
        finally:
            os._exit(code if isinstance(code, int) else 1)
    os.close(fds[0])
    ctl.sendall(struct.pack('<i', pid))
"""


class VMForker:
    """The fork server of one host VM connection (one module path, one working folder)."""

    def __init__(self, site: str, vm_args: Sequence[str], cwd: Path, env: dict[str, str] | None):
        self.server = ForkServer(_SERVER, [site, *vm_args], cwd=cwd, env=env)

    @staticmethod
    def usable() -> bool:
        """True where fork servers work: Linux with pidfds."""
        return forkserver.usable()

    def fork(self, terminal: int) -> ForkedChild:
        """A new VM on ``terminal`` (the pty's child side; the caller closes its copy).

        OSError if the server cannot be started or has died and cannot be restarted.
        """
        for attempt in (1, 2):
            control = self.server.start()
            try:
                socket.send_fds(control, [b"f"], [terminal])
                reply = _read_pid(control)
            except OSError:
                if attempt == 2:
                    raise
                self.close()  # the server died (killed from outside): start another once
                continue
            return ForkedChild(reply, "host VM")
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Stop the server (VMs it forked die with it)."""
        self.server.close()


def _read_pid(control: socket.socket) -> int:
    data = b""
    while len(data) < 4:
        chunk = control.recv(4 - len(data))
        if not chunk:
            raise OSError("the host VM's fork server ended")
        data += chunk
    pid: int = struct.unpack("<i", data)[0]
    return pid
