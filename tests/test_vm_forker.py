"""The host VM's fork server: VMs forked from one loaded extension, fresh every time, never left
behind, and a fall-back to processes when the server cannot serve."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_hostvm import alive, at_prompt

from hilrig.boards.hostvm import HostVM, host_vm_command, with_heap
from hilrig.boards.vm_forker import VMForker
from hilrig.deadline import Deadline
from hilrig.forkserver import ForkedChild, ForkServer

pytestmark = pytest.mark.skipif(not VMForker.usable(), reason="fork servers need Linux pidfds")


@pytest.fixture
def vm() -> Iterator[HostVM]:
    machine = HostVM(host_vm_command(), label="host VM")
    yield machine
    machine.close()


def server_pid(vm: HostVM) -> int:
    assert vm.forker is not None and vm.forker.server.process is not None
    return vm.forker.server.process.pid


def test_vms_are_forked_by_one_server_and_each_is_fresh(vm: HostVM) -> None:
    repl = at_prompt(vm)
    assert vm.current is not None and isinstance(vm.current.proc, ForkedChild)
    server = server_pid(vm)
    first = vm.current.proc.pid
    parent = int(Path(f"/proc/{first}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert parent == server  # forked by the server, not started by hilrig
    repl.exec(b"import sys\nleak = 1\nsys.modules['leaked'] = sys", Deadline.after(5))
    repl = at_prompt(vm)
    reply = repl.exec(
        b"import sys\nprint('leak' in globals(), 'leaked' in sys.modules)", Deadline.after(5)
    )
    assert reply.stdout == b"False False\n"
    assert vm.current.proc.pid != first and server_pid(vm) == server


def test_a_forked_vm_keeps_the_heap_option_and_the_module_path(tmp_path: Path) -> None:
    lib = tmp_path
    (lib / "onpath.py").write_text("VALUE = 41 + 1\n")
    machine = HostVM(with_heap(host_vm_command(), 64 * 1024), path=[lib])
    try:
        repl = at_prompt(machine)
        assert machine.current is not None and isinstance(machine.current.proc, ForkedChild)
        code = b"import gc, onpath\ngc.collect()\nprint(onpath.VALUE, gc.mem_free() < 64 * 1024)"
        assert repl.exec(code, Deadline.after(5)).stdout == b"42 True\n"
    finally:
        machine.close()


def test_a_killed_server_is_restarted_and_its_vms_die_with_it(vm: HostVM) -> None:
    at_prompt(vm)
    assert vm.current is not None and vm.spare is not None
    orphans = [vm.current.proc.pid, vm.spare.result(timeout=10).proc.pid]
    os.kill(server_pid(vm), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in orphans) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(alive(pid) for pid in orphans)  # no VM outlives its server
    # The spares died with it; the next VMs come from a new server.
    for _ in range(3):
        repl = at_prompt(vm)
        assert repl.exec(b"print(6 * 7)", Deadline.after(5)).stdout == b"42\n"
    assert vm.current is not None and isinstance(vm.current.proc, ForkedChild)


def test_a_server_that_cannot_start_falls_back_to_processes(
    vm: HostVM, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: ForkServer) -> socket.socket:
        raise OSError("no server today")

    monkeypatch.setattr(ForkServer, "start", broken)
    repl = at_prompt(vm)
    assert vm.current is not None and isinstance(vm.current.proc, subprocess.Popen)
    assert repl.exec(b"print(1 + 1)", Deadline.after(5)).stdout == b"2\n"
    assert vm.forker is None and not vm.fork_vms


def test_an_executable_vm_is_started_as_a_process() -> None:
    exe = shutil.which("micropython")
    if exe is None:
        pytest.skip("no micropython executable on PATH")
    machine = HostVM([exe, "-i"])
    try:
        repl = at_prompt(machine)
        assert machine.current is not None
        assert isinstance(machine.current.proc, subprocess.Popen) and machine.forker is None
        assert repl.exec(b"print(3)", Deadline.after(5)).stdout == b"3\n"
    finally:
        machine.close()


def test_close_leaves_no_server_and_no_vm() -> None:
    machine = HostVM(host_vm_command())
    at_prompt(machine)
    assert machine.current is not None and machine.spare is not None
    pids = [server_pid(machine), machine.current.proc.pid, machine.spare.result(10).proc.pid]
    machine.close()
    assert not any(alive(pid) for pid in pids)
