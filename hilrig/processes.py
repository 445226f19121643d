"""Child processes that must never outlive hilrig: the host VM and QEMU.

Every child runs in its own session (so a whole process group can be killed), dies with its parent
through ``PR_SET_PDEATHSIG`` on Linux (a SIGKILLed pytest leaves nothing behind), and is listed in
a registry that an ``atexit`` hook empties as the last line of defence.
"""

from __future__ import annotations

import atexit
import errno
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

_LIVE: set[subprocess.Popen[bytes]] = set()


# On Linux a child is started through this short CPython program, which sets PR_SET_PDEATHSIG
# (dies with the thread that started it) and then becomes the real program (execvp: same pid,
# same exit status). It replaces a preexec_fn: that runs Python between fork and exec, which can
# deadlock when another of hilrig's threads (prefetch, run-ahead, VM starter) held a lock at the
# fork — seen as an interrupted run that never exited.
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None).prctl(1, signal.SIGKILL)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    os._exit(1)\n"  # the parent ended before the prctl took effect
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def _dying_with_us(argv: Sequence[str]) -> list[str]:
    """``argv`` started so that it dies with us; FileNotFoundError if its program is absent."""
    program = str(argv[0])
    if shutil.which(program) is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
    if not sys.platform.startswith("linux"):
        return list(argv)
    return [sys.executable, "-I", "-S", "-c", _DIE_WITH_PARENT, str(os.getpid()), *argv]


def environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env``, or a copy of ours: pass it to every child started off the main thread.

    Without one a child inherits the C ``environ`` while it is being exec'd, and pytest sets
    ``PYTEST_CURRENT_TEST`` on the main thread at every test phase: a child exec'd at that moment
    can fail with EFAULT ("Bad address"), seen with mpy-cross started by the prefetch thread.
    """
    return dict(os.environ) if env is None else env


def spawn(
    argv: Sequence[str],
    *,
    stdin: int | IO[Any] | None,
    stdout: int | IO[Any] | None,
    stderr: int | IO[Any] | None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    pass_fds: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """Start a child in its own session that dies with us; FileNotFoundError if it is absent.

    ``pass_fds`` stay open in the child under the same numbers.
    """
    proc = subprocess.Popen(
        _dying_with_us(argv),
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        cwd=cwd,
        env=environment(env),
        start_new_session=True,
        close_fds=True,
        pass_fds=tuple(pass_fds),
    )
    _LIVE.add(proc)
    return proc


def stop(proc: subprocess.Popen[bytes] | None, grace_s: float = 0.0) -> None:
    """Kill a child and its process group and reap it; safe on an already-dead child."""
    if proc is None:
        return
    if proc.poll() is None:
        if grace_s > 0:
            _signal_group(proc, signal.SIGTERM)
            try:
                proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                pass
        _signal_group(proc, signal.SIGKILL)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass
    _LIVE.discard(proc)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def stop_all() -> None:
    """Kill every child still registered (atexit, and the plugin's session end)."""
    for proc in list(_LIVE):
        stop(proc)


atexit.register(stop_all)
