"""The CPython reference's fork server: every program's result is the one ``python -B -S prog.py``
gives as a new process (both computed here, field by field), nothing outlives ``close``, and a
server that dies or cannot start is restarted or replaced by processes."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_hostvm import alive

from hilrig.errors import HilrigError
from hilrig.forkserver import ForkServer, usable
from hilrig.results import RunResult
from hilrig.run.cpython_forker import CPythonForker
from hilrig.run.program import Program, read_program
from hilrig.run.reference import CPythonReference, _spawned

pytestmark = pytest.mark.skipif(not usable(), reason="fork servers need Linux pidfds")

MAX_OUTPUT = 10_000

TRICKY = {
    "interleaved": (
        "import sys\n"
        "print('out 1')\n"
        "print('err 1', file=sys.stderr)\n"
        "sys.stdout.write('out 2\\n'); sys.stdout.flush()\n"
        "sys.stderr.write('err 2\\n')\n"
        "print('out 3', end='')\n"
    ),
    "nested": (
        "def inner(x):\n    return {}[x]\n\n"
        "def middle(x):\n    try:\n        inner(x)\n    except KeyError as exc:\n"
        "        raise ValueError('wrapped') from exc\n\n"
        "def outer():\n    middle('k')\n\nprint('before')\nouter()\n"
    ),
    "exit_int": "print('a')\nimport sys\nsys.exit(3)\n",
    "exit_message": "import sys\nprint('a')\nsys.exit('goodbye')\n",
    "exit_bare": "print('a')\nraise SystemExit\n",
    "exit_zero": "raise SystemExit(0)\n",
    "exit_none": "import sys\nsys.exit(None)\n",
    "exit_in_function": "def f():\n    raise SystemExit(7)\n\nf()\n",
    "os_exit": "import os\nprint('lost in the buffer')\nos._exit(5)\n",
    "main_module": (
        "import __main__, sys\n"
        "print(__name__, __main__.__name__, __main__ is sys.modules['__main__'])\n"
        "print(sorted(globals()), __main__.__spec__, __main__.__package__, __doc__)\n"
        "print(type(__loader__).__name__, __loader__.name, __cached__, __annotations__)\n"
    ),
    "where": (
        "import os, sys\n"
        "print(__file__, sys.argv, sys.path[0], os.getcwd())\n"
        "print(sys.orig_argv[1:], sys.flags.no_site, sys.flags.dont_write_bytecode)\n"
        "print(sys.stdin.isatty(), sys.stdout.isatty(), sys.stdout.seekable())\n"
        "print(sys.stdout.line_buffering, sys.stderr.line_buffering, sys.stdout.encoding)\n"
        "print(sys.path[1:] == [p for p in sys.path[1:] if p], os.getpid() != os.getppid())\n"
    ),
    "modules": "import sys\nprint(sorted(sys.modules))\nimport os\nprint(sorted(sys.modules))\n",
    "syntax_error": "print('never')\nx = = 1\n",
    "indentation_error": "if True:\nprint('x')\n",
    "stdin": "import sys\nprint(repr(sys.stdin.read()))\nprint(input())\n",
    "warnings": (
        "import warnings\n"
        "x = 1 is 1\n"
        "warnings.warn('old', DeprecationWarning)\n"
        "warnings.warn('careful')\n"
        "s = '\\d'\n"
        "print('done')\n"
    ),
    "at_exit": (
        "import atexit, sys\n"
        "class Noisy:\n    def __del__(self):\n        print('deleted', file=sys.stderr)\n"
        "keep = Noisy()\n"
        "atexit.register(lambda: print('at exit'))\n"
        "print('main done')\n"
    ),
    "thread": (
        "import threading, time\n"
        "def late():\n    time.sleep(0.05)\n    print('thread done')\n"
        "threading.Thread(target=late).start()\nprint('main done')\n"
    ),
    "latin1": "# -*- coding: latin-1 -*-\nprint('caf\xe9')\n",
    "not_utf8": "print('caf\xe9')\n",
    "skip": "print('SKIP')\nraise SystemExit\n",
    "huge": "for i in range(2000):\n    print('line', i, 'x' * 20)\n",
}

SOURCES = {name: text.encode("latin-1") for name, text in TRICKY.items()}


@pytest.fixture
def reference(tmp_path: Path) -> Iterator[CPythonReference]:
    ref = CPythonReference(tmp_path / "cache", MAX_OUTPUT)
    yield ref
    ref.close()


def write(folder: Path, name: str, source: bytes) -> Program:
    (folder / "suite").mkdir(exist_ok=True)
    path = folder / "suite" / f"{name}.py"
    path.write_bytes(source)
    return read_program(path, folder)


def fields(result: RunResult) -> tuple[object, ...]:
    return result.outcome, result.stdout, result.traceback, result.truncated, result.detail


def as_process(program: Program, timeout_s: float) -> RunResult:
    plain = CPythonReference(Path("/nonexistent"), MAX_OUTPUT)
    plain.fork_programs = False
    return plain._run(program, timeout_s)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_a_forked_run_is_the_run_of_a_new_process(
    name: str, tmp_path: Path, reference: CPythonReference
) -> None:
    program = write(tmp_path, name, SOURCES[name])
    forked = reference._run(program, 10)
    assert reference.forker is not None and reference.fork_programs  # it was forked
    assert fields(forked) == fields(as_process(program, 10))
    # The raw exit code and stderr too, not only what the reference makes of them.
    raw = reference.forker.run(program.path.parent, program.path.name, 10)
    assert raw == _spawned(program, 10)


def test_a_timeout_kills_the_child_and_keeps_the_output(
    tmp_path: Path, reference: CPythonReference
) -> None:
    source = b"import os\nprint(os.getpid(), flush=True)\nwhile True:\n    pass\n"
    program = write(tmp_path, "forever", source)
    forked = reference._run(program, 0.5)
    pid = int(forked.stdout)
    assert not alive(pid)
    plain = as_process(program, 0.5)
    assert fields(forked)[0] == fields(plain)[0] and forked.detail == plain.detail
    assert forked.stdout.strip().isdigit() and plain.stdout.strip().isdigit()


def test_output_beyond_the_limit_is_cut_as_a_process_run_is(
    tmp_path: Path, reference: CPythonReference
) -> None:
    program = write(tmp_path, "flood", b"import sys\nsys.stdout.write('y' * 3_000_000)\n")
    forked = reference._run(program, 20)
    assert forked.truncated and len(forked.stdout) == MAX_OUTPUT
    assert fields(forked) == fields(as_process(program, 20))


def test_the_environment_of_the_moment_is_the_programs(
    tmp_path: Path, reference: CPythonReference, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = b"import os\nprint(os.environ.get('HILRIG_PROBE'), os.getenv('HILRIG_PROBE'))\n"
    program = write(tmp_path, "env", source)
    assert reference._run(program, 10).stdout == b"None None\n"
    server = server_pid(reference)
    monkeypatch.setenv("HILRIG_PROBE", "set later")
    assert fields(reference._run(program, 10)) == fields(as_process(program, 10))
    assert server_pid(reference) == server  # no restart for a variable CPython's start ignores
    monkeypatch.setenv("PYTHONHASHSEED", "123")
    hashed = write(tmp_path, "hash", b"print(hash('hilrig'))\n")
    assert fields(reference._run(hashed, 10)) == fields(as_process(hashed, 10))
    assert server_pid(reference) != server  # restarted: the seed is read at start


def server_pid(reference: CPythonReference) -> int:
    assert reference.forker is not None and reference.forker.server.process is not None
    return reference.forker.server.process.pid


def test_close_leaves_no_server_and_no_child(tmp_path: Path) -> None:
    reference = CPythonReference(tmp_path / "cache", MAX_OUTPUT)
    pids = []
    for n in range(3):
        program = write(tmp_path, f"pid{n}", b"import os\nprint(os.getpid())\n")
        pids.append(int(reference._run(program, 10).stdout))
    server = server_pid(reference)
    sleeper = write(
        tmp_path, "sleeper", b"import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)\n"
    )
    failures: list[Exception] = []
    running = threading.Thread(target=run_catching, args=(reference, sleeper, failures))
    running.start()
    deadline = time.monotonic() + 10
    while len(children(server)) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    sleeping = children(server)
    assert len(sleeping) == 1
    reference.close()
    running.join(30)
    assert not alive(server) and not any(alive(pid) for pid in [*pids, *sleeping])
    # The run under way ends with an error; it is not run again as a process after close.
    assert [str(e) for e in failures] == [f"{reference.label} was closed under suite/sleeper.py"]


def run_catching(reference: CPythonReference, program: Program, failures: list[Exception]) -> None:
    try:
        reference._run(program, 30)
    except HilrigError as exc:
        failures.append(exc)


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def test_a_killed_server_is_restarted(tmp_path: Path, reference: CPythonReference) -> None:
    program = write(tmp_path, "nested", SOURCES["nested"])
    expected = fields(as_process(program, 10))
    assert fields(reference._run(program, 10)) == expected
    first = server_pid(reference)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(first) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fields(reference._run(program, 10)) == expected
    assert reference.fork_programs and server_pid(reference) != first


def test_a_server_killed_under_a_run_gives_way_to_processes(
    tmp_path: Path, reference: CPythonReference, caplog: pytest.LogCaptureFixture
) -> None:
    source = b"import time\nprint('start', flush=True)\ntime.sleep(0.5)\nprint('end')\n"
    program = write(tmp_path, "slow", source)
    reference._run(write(tmp_path, "warm", b"pass\n"), 10)
    killer = threading.Timer(0.2, os.kill, (server_pid(reference), signal.SIGKILL))
    killer.start()
    with caplog.at_level(logging.WARNING):
        result = reference._run(program, 10)
    killer.join()
    assert result.stdout == b"start\nend\n"  # the whole run again, as a process
    assert not reference.fork_programs and reference.forker is None
    assert "the fork server failed" in caplog.text


def test_a_server_that_cannot_start_falls_back_to_processes(
    tmp_path: Path,
    reference: CPythonReference,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(self: ForkServer) -> socket.socket:
        raise OSError("no server today")

    monkeypatch.setattr(ForkServer, "start", broken)
    program = write(tmp_path, "where", SOURCES["where"])
    with caplog.at_level(logging.WARNING):
        assert fields(reference._run(program, 10)) == fields(as_process(program, 10))
    assert not reference.fork_programs and reference.forker is None
    assert "no server today" in caplog.text


def test_two_threads_share_one_server(tmp_path: Path, reference: CPythonReference) -> None:
    names = ["interleaved", "nested", "exit_message", "where", "warnings", "thread"]
    programs = [write(tmp_path, name, SOURCES[name]) for name in names]
    expected = {p.name: fields(as_process(p, 10)) for p in programs}
    got: dict[str, list[tuple[object, ...]]] = {p.name: [] for p in programs}

    def work() -> None:
        for _ in range(3):
            for program in programs:
                got[program.name].append(fields(reference._run(program, 10)))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert reference.fork_programs and reference.forker is not None
    assert got == {name: [want] * 6 for name, want in expected.items()}


def test_a_folder_that_vanished_is_reported_not_run(tmp_path: Path) -> None:
    forker = CPythonForker()
    try:
        with pytest.raises(OSError, match="could not start the program"):
            forker.run(tmp_path / "gone", "prog.py", 10)
        # The server still serves.
        program = write(tmp_path, "fine", b"print('fine')\n")
        assert forker.run(program.path.parent, program.path.name, 10).stdout == b"fine\n"
    finally:
        forker.close()
