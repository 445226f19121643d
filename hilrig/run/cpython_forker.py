"""A fork server for CPython references: ``python -B -S prog.py`` at the cost of a fork.

A new CPython costs about 7.5 ms of CPU before the program's first line; with hundreds of
programs in a cold run that dominates. The server is one ``python -B -S -c <server>`` that has
done that start once; for each program it forks a child that becomes, as far as the program can
tell, ``python -B -S prog.py`` started in the program's folder:

- stdout and stderr are pipes of their own, stdin is ``/dev/null`` (the server's), cwd is the
  program's folder, the child is in its own session and dies with the server;
- ``sys.argv`` is ``[name]``, ``sys.orig_argv`` the command line, ``sys.path[0]`` the script's
  real folder (as CPython computes it), ``os.environ`` hilrig's environment at the time of the run;
- ``__main__`` is a new module with the globals a fresh CPython's has, and the program is run by
  the very C function ``python prog.py`` runs it with (``PyRun_SimpleFileExFlags``, through
  ctypes): the same source decoding, compile warnings, ``__file__``, traceback printing,
  ``SystemExit`` handling and interpreter shutdown (atexit, flushing), so no frame of the server
  appears in a traceback and nothing needs stripping;
- the server imports ``_socket`` and ``ctypes`` (which brings ``_ctypes``, ``ctypes._endian``,
  ``struct``, ``_struct``, ``types``, ``os``, ``os.path``/``posixpath``, ``genericpath``, ``stat``,
  ``_stat``, ``_collections_abc``); the child removes from ``sys.modules`` every module a fresh
  ``python -S`` has not imported, so the program imports them anew, as it would.

What differs: the program's module frame has the server's frame as ``f_back`` (a fresh CPython
has none), its parent is the server (``os.getppid``, ``/proc/self/cmdline`` show the server),
and every child shares the server's string hash seed (each fresh CPython draws its own; both are
seeds CPython could have drawn). The server's objects are frozen
(``gc.freeze()``) before each fork, so the child's collector, at exit above all, never walks
them: that walk touched every page the child shares with the server and made the kernel copy it
(about 1.3 ms of the 4.4 a child cost). They are alive and reachable anyway; a program sees
the difference only in ``gc.get_freeze_count()`` and in what ``gc.get_objects()`` lists. A
server started under other ``PYTHON*``, locale or ``TZ`` variables than hilrig now has is
restarted: CPython reads those while it starts.

The child shuts its interpreter down in full (``Py_FinalizeEx``), as ``python prog.py`` does:
that is most of its cost, about half of a new process's (``os._exit`` would skip atexit, and
``__del__`` at exit). Its exit status comes from the server, the only process that can reap it:
hilrig asks for it once the child's pidfd says it has ended.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from hilrig import processes
from hilrig.deadline import Deadline
from hilrig.forkserver import ForkedChild, ForkServer

# The server, run as ``python -B -S -c`` with argv [control fd]. Requests are SEQPACKET messages
# of NUL-separated fields: ``f folder name KEY=value...`` with the fds [stdout, stderr, ready]
# (answered with the child's pid), or ``w pid`` (answered with its exit code once reaped).
_SERVER = r"""
fresh_main = dict(globals())
import sys
fresh_modules = set(sys.modules)
if not sys.flags.safe_path:
    del sys.path[0]
import _socket, ctypes, gc, os
ctl = _socket.socket(fileno=int(sys.argv[1]))
room = _socket.CMSG_SPACE(3 * 4)
libc = ctypes.CDLL(None, use_errno=True)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
run_file = ctypes.pythonapi.PyRun_SimpleFileExFlags
run_file.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
server = os.getpid()
while True:
    try:
        msg, ancillary, _, _ = ctl.recvmsg(1 << 18, room)
    except OSError:
        sys.exit(0)
    if not msg:
        sys.exit(0)
    fds = [
        int.from_bytes(data[i:i + 4], sys.byteorder)
        for level, kind, data in ancillary
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS
        for i in range(0, len(data) - 3, 4)
    ]
    fields = msg.split(b'\0')
    if fields[0] == b'w':
        try:
            _, status = os.waitpid(int(fields[1]), 0)
            ctl.send(str(os.waitstatus_to_exitcode(status)).encode())
        except ChildProcessError:
            ctl.send(b'?')
        continue
    if fields[0] != b'f' or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        ctl.send(b'?')
        continue
    gc.freeze()
    pid = os.fork()
    if pid == 0:
        break
    for fd in fds:
        os.close(fd)
    ctl.send(str(pid).encode())
try:
    ctl.close()
    os.setsid()
    libc.prctl(1, 9)
    if os.getppid() != server:
        raise OSError('the fork server ended')
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    os.close(fds[0])
    os.close(fds[1])
    os.chdir(fields[1])
    name = os.fsdecode(fields[2])
    path = os.path.join(os.getcwd(), name)
    env = dict(entry.split(b'=', 1) for entry in fields[3:] if b'=' in entry)
    if env != sys.modules['posix'].environ:
        for key in set(os.environb) - set(env):
            os.unsetenv(key)
        for key, value in env.items():
            os.putenv(key, value)
        sys.modules['posix'].environ.clear()  # what a fresh os.environ is made from
        sys.modules['posix'].environ.update(env)
    sys.argv[:] = [name]
    sys.orig_argv[:] = [sys.executable, '-B', '-S', name]
    if not sys.flags.safe_path:
        sys.path.insert(0, os.path.dirname(os.path.realpath(path)))
    main = type(sys)('__main__')
    vars(main).update(fresh_main)
    if '__annotations__' in fresh_main:
        main.__annotations__ = {}
    for module in set(sys.modules) - fresh_modules:
        del sys.modules[module]
    sys.modules['__main__'] = main
    fp = libc.fopen(os.fsencode(path), b'rb')
    errno = ctypes.get_errno()
except BaseException as exc:
    os.write(fds[2], repr(exc).encode() or b'?')
    os._exit(127)
os.close(fds[2])
del fresh_main, fresh_modules, main, env, msg, fields, fds
if not fp:
    message = f"{sys.executable}: can't open file {path!r}: [Errno {errno}] {os.strerror(errno)}"
    os.write(2, message.encode() + b'\n')
    sys.exit(2)
sys.exit(0 if run_file(fp, os.fsencode(path), 1, None) == 0 else 1)
"""

# Variables CPython reads while it starts (flags, hash seed, encodings, time zone): a server
# started under other values is not the interpreter a new process would be.
_START_PREFIXES = (b"PYTHON", b"LC_", b"LANG", b"TZ")


@dataclass(frozen=True)
class Finished:
    """How a CPython run ended: its exit code (None: killed at the deadline) and its output."""

    returncode: int | None
    stdout: bytes
    stderr: bytes


class CPythonForker:
    """The fork server of one CPython reference; ``run`` is safe from several threads."""

    def __init__(self) -> None:
        # The server's stdout and stderr are a pipe (it never writes), so that the children's
        # sys.stdout is made for a pipe, as a new process's is (not seekable, block-buffered).
        self.server = ForkServer(
            _SERVER,
            flags=("-B", "-S"),
            cwd=Path("/"),
            kind=socket.SOCK_SEQPACKET,
            output=subprocess.PIPE,
        )
        self.started_env: dict[bytes, bytes] = {}
        self.lock = threading.Lock()

    def run(self, folder: Path, name: str, timeout_s: float) -> Finished:
        """Run ``name`` in ``folder`` as ``python -B -S name`` would; OSError if the server
        cannot (it could not be started, or died under the run: its result is unknown)."""
        deadline = Deadline.after(timeout_s)
        pipes = [os.pipe() for _ in range(3)]  # stdout, stderr, ready
        try:
            child, control = self._fork(folder, name, [w for _, w in pipes])
        except BaseException:
            for read, _ in pipes:
                os.close(read)
            raise
        finally:
            for _, write in pipes:
                os.close(write)
        try:
            return self._follow(child, control, [r for r, _ in pipes], deadline)
        except BaseException:
            child.stop()
            with contextlib.suppress(OSError):
                self._reap(control, child.pid)
            raise
        finally:
            for read, _ in pipes:
                os.close(read)
            child.stop()

    def _fork(self, folder: Path, name: str, fds: list[int]) -> tuple[ForkedChild, socket.socket]:
        where = folder if folder.is_absolute() else Path(os.getcwd(), folder)
        env = {os.fsencode(k): os.fsencode(v) for k, v in processes.environment().items()}
        request = b"\0".join(
            [b"f", os.fsencode(where), os.fsencode(name)]
            + [key + b"=" + value for key, value in env.items()]
        )
        with self.lock:
            if _started_differently(env, self.started_env):
                self.server.close()
            for attempt in (1, 2):
                if self.server.control is None:
                    self.started_env = env
                control = self.server.start()
                control.settimeout(10.0)
                try:
                    socket.send_fds(control, [request], fds)
                    pid = int(_answer(control, b"?"))
                except OSError:
                    if attempt == 2:
                        raise
                    self.server.close()  # the server died (killed from outside): start another
                    continue
                return ForkedChild(pid, "CPython reference"), control
        raise AssertionError("unreachable")

    def _follow(
        self, child: ForkedChild, control: socket.socket, reads: list[int], deadline: Deadline
    ) -> Finished:
        out_fd, err_fd, ready_fd = reads
        problem, _ = _drain([ready_fd], deadline)
        if problem[0]:
            raise OSError(f"the fork server could not start the program: {problem[0].decode()}")
        (stdout, stderr), ended = _drain([out_fd, err_fd], deadline)
        if ended:
            try:
                child.wait(deadline.remaining())
            except subprocess.TimeoutExpired:
                ended = False
        if not ended:
            child.stop()
        code = self._reap(control, child.pid)
        return Finished(code if ended else None, stdout, stderr)

    def _reap(self, control: socket.socket, pid: int) -> int:
        with self.lock:
            control.send(b"w\0%d" % pid)
            return int(_answer(control, b"?"))

    def close(self) -> None:
        """Stop the server (and with it any child still running)."""
        with self.lock:
            self.server.close()


def _answer(control: socket.socket, refusal: bytes) -> bytes:
    answer = control.recv(64)
    if not answer:
        raise OSError("the CPython fork server ended")
    if answer == refusal:
        raise OSError("the CPython fork server refused the request")
    return answer


def _started_differently(env: dict[bytes, bytes], started: dict[bytes, bytes]) -> bool:
    keys = {k for k in env.keys() | started.keys() if k.startswith(_START_PREFIXES)}
    return bool(started) and any(env.get(k) != started.get(k) for k in keys)


def _drain(fds: list[int], deadline: Deadline) -> tuple[list[bytes], bool]:
    """Everything written to the pipes ``fds`` until all are closed (True) or the deadline."""
    chunks: dict[int, list[bytes]] = {fd: [] for fd in fds}
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    open_fds = set(fds)
    while open_fds:
        remaining = deadline.remaining()
        if remaining <= 0:
            break
        for fd, _ in poller.poll(remaining * 1000):
            data = os.read(fd, 65536)
            if data:
                chunks[fd].append(data)
            else:
                poller.unregister(fd)
                open_fds.discard(fd)
    return [b"".join(chunks[fd]) for fd in fds], not open_fds
