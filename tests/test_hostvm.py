"""The host VM as a board: fresh processes with a spare ready, SIGINT, and nothing left behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hilrig.boards.hostvm import INSTALL_HINT, HostVM, host_vm_command
from hilrig.deadline import Deadline
from hilrig.errors import ProgramTimeout, ToolMissing
from hilrig.transport.rawrepl import RAW_PROMPT, RawRepl

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def vm() -> Iterator[HostVM]:
    machine = HostVM(host_vm_command(), label="host VM")
    yield machine
    machine.close()


def at_prompt(vm: HostVM) -> RawRepl:
    repl = RawRepl(vm.open(Deadline.after(10)), pacing_s=0)
    repl.read_until(RAW_PROMPT, Deadline.after(10))  # open() already sent Ctrl-A
    return repl


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def test_command_override_and_default() -> None:
    assert host_vm_command(["/opt/mp", "-i"]) == ["/opt/mp", "-i"]
    assert host_vm_command()[-1] == "-i"  # the raw REPL needs the interactive VM


def test_missing_vm_names_the_install_command() -> None:
    vm = HostVM(["/nonexistent/micropython", "-i"])
    with pytest.raises(ToolMissing, match=INSTALL_HINT):
        vm.open(Deadline.after(5))
    vm.close()


def test_every_open_is_a_fresh_vm_and_the_spare_is_ready(vm: HostVM) -> None:
    repl = at_prompt(vm)
    assert vm.fresh_link_entered() and vm.soft_reset_restarts
    assert vm.current is not None and vm.spare is not None
    first, spare = vm.current.proc.pid, vm.spare.result(timeout=10).proc.pid
    repl.exec(b"leak = 1", Deadline.after(5))
    repl = at_prompt(vm)
    assert vm.current.proc.pid == spare
    stopped = time.monotonic() + 10  # the used VM is stopped on a background thread
    while alive(first) and time.monotonic() < stopped:
        time.sleep(0.01)
    assert not alive(first)
    reply = repl.exec(b"print('leak' in globals())", Deadline.after(5))
    assert reply.stdout == b"False\n"


def test_a_dead_spare_is_replaced(vm: HostVM) -> None:
    at_prompt(vm)
    assert vm.spare is not None
    dead = vm.spare.result(timeout=10).proc
    dead.kill()
    dead.wait(5)
    repl = at_prompt(vm)
    assert vm.current is not None and vm.current.proc.pid != dead.pid
    assert repl.exec(b"print(2)", Deadline.after(5)).stdout == b"2\n"


def test_vm_runs_in_a_neutral_folder(vm: HostVM) -> None:
    # The unix port puts '' on sys.path; a folder named like a module must not shadow it.
    repl = at_prompt(vm)
    reply = repl.exec(b"import os\nprint(os.getcwd())", Deadline.after(5))
    assert vm.workdir is not None and reply.stdout.decode().strip() == str(vm.workdir)
    workdir = vm.workdir
    vm.close()
    assert not workdir.exists()


def test_interrupt_is_sigint(vm: HostVM) -> None:
    repl = at_prompt(vm)
    with pytest.raises(ProgramTimeout):
        repl.exec(b"while True:\n    pass\n", Deadline.after(0.3))
    vm.interrupt(
        repl.link
    )  # Ctrl-C bytes do nothing here: the pty is raw and raw-paste ignores them
    assert b"KeyboardInterrupt" in repl.read_until(b"\x04>", Deadline.after(5))
    assert repl.exec(b"print(5)", Deadline.after(5)).stdout == b"5\n"


def test_close_stops_current_and_spare(vm: HostVM) -> None:
    at_prompt(vm)
    assert vm.current is not None and vm.spare is not None
    pids = [vm.current.proc.pid, vm.spare.result(timeout=10).proc.pid]
    vm.close()
    assert not any(alive(pid) for pid in pids)
    vm.close()  # twice is fine


@pytest.mark.parametrize("end", ["killed", "exits"])
def test_no_vm_outlives_its_python(end: str) -> None:
    # SIGKILL leaves no atexit hook to run: the children's parent-death signal must do it.
    script = textwrap.dedent(f"""
        import os, signal, sys
        from hilrig.deadline import Deadline
        from hilrig.boards.hostvm import HostVM, host_vm_command
        vm = HostVM(host_vm_command())
        vm.open(Deadline.after(10))
        print(vm.current.proc.pid, vm.spare.result(timeout=10).proc.pid, flush=True)
        if {end == "killed"!r}:
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, cwd=ROOT
    )
    assert proc.returncode == (-signal.SIGKILL if end == "killed" else 0), proc.stderr
    pids = [int(p) for p in proc.stdout.split()]
    deadline = Deadline.after(5)
    while any(alive(pid) for pid in pids) and not deadline.expired():
        time.sleep(0.02)
    assert not any(alive(pid) for pid in pids)
