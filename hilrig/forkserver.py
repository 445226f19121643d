"""What hilrig's fork servers share: starting and stopping a server, and following its children.

A fork server is one CPython process, started once, that forks a child for each request it reads
from a Unix socket (the host VM's in ``boards/vm_forker.py``, CPython references' in
``run/cpython_forker.py``). hilrig is not the children's parent, so it follows each one through a
pidfd (Linux 5.3): poll, kill, wait. Servers die with hilrig and children with their server
(``PR_SET_PDEATHSIG``), so nothing outlives a SIGKILLed pytest.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hilrig import processes

# PR_SET_PDEATHSIG fires when the *thread* that started a child ends (prctl(2)), not the process:
# a server started from the prefetch thread or a test's thread died with it, under a run. Servers
# are started from this one thread, which lives as long as hilrig does.
_STARTER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hilrig-forkserver")


def usable() -> bool:
    """True where fork servers work: Linux with pidfds."""
    return sys.platform.startswith("linux") and hasattr(os, "pidfd_open")


class ForkedChild:
    """A child forked by a server: ``pid``, ``poll`` (None while it runs), ``kill``, ``stop``."""

    def __init__(self, pid: int, label: str = "child") -> None:
        self.pid = pid
        self.label = label
        try:
            self.pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:  # already gone (and reaped)
            self.pidfd = None

    def poll(self) -> int | None:
        """None while the child runs, 0 once it has ended (0 whatever its exit status was)."""
        if self.pidfd is None:
            return 0
        readable, _, _ = select.select([self.pidfd], [], [], 0)
        return 0 if readable else None

    def kill(self) -> None:
        """SIGKILL the child (as ``subprocess.Popen.kill``)."""
        if self.pidfd is not None:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float) -> None:
        """Wait until the child has ended; ``subprocess.TimeoutExpired`` if it has not by then.
        Its exit status is known only to its parent, the server."""
        if self.pidfd is not None:
            readable, _, _ = select.select([self.pidfd], [], [], timeout)
            if not readable:
                raise subprocess.TimeoutExpired(f"{self.label} (pid {self.pid})", timeout)

    def stop(self) -> None:
        """Kill the child's process group, wait until it is gone, and let go of the pidfd."""
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


class ForkServer:
    """One server process: ``python <flags> -c code <control fd> <args>``, started by ``start``.

    ``kind`` is the control socket's type (``SOCK_SEQPACKET`` keeps each message whole). The
    server's standard output and error are ``/dev/null``, or with ``output=subprocess.PIPE`` a
    pipe that nobody reads (for a server whose children must find ``sys.stdout`` made for a pipe).
    """

    def __init__(
        self,
        code: str,
        args: Sequence[str] = (),
        *,
        flags: Sequence[str] = ("-S", "-E"),
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        kind: socket.SocketKind = socket.SOCK_STREAM,
        output: int = subprocess.DEVNULL,
    ) -> None:
        self.argv = [sys.executable, *flags, "-c", code]
        self.args = list(args)
        self.cwd = cwd
        self.env = env
        self.kind = kind
        self.output = output
        self.process: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None

    def start(self) -> socket.socket:
        """Start the server (if it is not running) and return its control socket."""
        if self.control is not None:
            return self.control
        ours, theirs = socket.socketpair(socket.AF_UNIX, self.kind)
        output = self.output
        if output == subprocess.PIPE:
            unread, output = os.pipe()
            os.close(unread)
        try:
            self.process = _STARTER.submit(
                processes.spawn,
                [*self.argv, str(theirs.fileno()), *self.args],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                cwd=self.cwd,
                env=self.env,
                pass_fds=(theirs.fileno(),),
            ).result(timeout=30)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
            if output != self.output:
                os.close(output)
        self.control = ours
        return ours

    def close(self) -> None:
        """Stop the server (the children it forked die with it)."""
        if self.control is not None:
            self.control.close()
            self.control = None
        processes.stop(self.process)
        self.process = None
