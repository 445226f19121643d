"""Multi-board programs (MicroPython's run-multitests convention) with pytester, on host VMs."""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET

import pytest
from projects import hil_project
from real_targets import MICROBIT, microbit_spec

from hilrig.boards.hostvm import host_vm_command
from hilrig.run.multitest import instance_count, merged, script
from hilrig.targets.find import BUILTIN_DIR

pytest_plugins = ["pytester"]

TCP = """\
import socket

PORT = 8471


def instance0():
    multitest.globals(IP=multitest.get_network_ip())
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(socket.getaddrinfo("0.0.0.0", PORT)[0][-1])
    s.listen(1)
    multitest.next()
    conn, _ = s.accept()
    data = conn.recv(100)
    print("server got", data)
    conn.send(data.upper())
    conn.close()
    s.close()


def instance1():
    multitest.next()
    s = socket.socket()
    s.connect(socket.getaddrinfo(IP, PORT)[0][-1])
    s.send(b"hello")
    print("client got", s.recv(100))
    s.close()
"""

UDP = """\
import socket

PORT = 8472


def instance0():
    multitest.globals(IP=multitest.get_network_ip())
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(socket.getaddrinfo("0.0.0.0", PORT)[0][-1])
    multitest.next()
    for i in range(3):
        data, peer = s.recvfrom(100)
        print("got", data)
        s.sendto(b"ack " + data, peer)
    s.close()


def instance1():
    multitest.next()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server = socket.getaddrinfo(IP, PORT)[0][-1]
    for i in range(3):
        s.sendto(b"n%d" % i, server)
        print("reply", s.recvfrom(100)[0])
    s.close()
"""

BROADCAST = """\
def instance0():
    multitest.next()
    multitest.wait("ready")
    print("instance0 saw ready")
    multitest.output_metric("round trips 1")


def instance1():
    print("instance1 starts")
    multitest.next()
    multitest.broadcast("ready")
    print("instance1 done")
"""

SKIPS = """\
def instance0():
    multitest.skip()


def instance1():
    multitest.next()
"""

HEAP = """\
import gc


def instance0():
    print("instance0 fine")
    multitest.next()


def instance1():
    multitest.next()
    print("big heap", gc.mem_free() + gc.mem_alloc() > 1000000)
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A user project with the built-in unix target (four VMs) and an empty suites folder."""
    hil_project(pytester, "unix")
    return pytester


def program(pytester: pytest.Pytester, name: str, text: str) -> None:
    """Write a suite program; its fixed port becomes one free now (xdist runs this file's
    tests side by side, and two servers on one port collide)."""
    for fixed in ("PORT = 8471", "PORT = 8472"):
        text = text.replace(fixed, f"PORT = {_free_port()}")
    (pytester.path / "suites" / name).write_text(text)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_instances_are_counted_and_the_script_calls_one() -> None:
    assert instance_count(TCP.encode()) == 2
    assert instance_count(b"def instance2():\n    pass\n") == 3
    assert instance_count(b"print(1)\n") == 0
    copy = script(b"x = 1\n", "IP = '127.0.0.1'\n", "instance1")
    assert copy.startswith(b"x = 1\n") and copy.endswith(
        b"IP = '127.0.0.1'\n\ninstance1()\nmultitest.flush()\n"
    )
    assert merged([["a", "b"], []]) == "--- instance0 ---\na\nb\n--- instance1 ---\n\n"


@pytest.mark.parametrize("name, text", [("net_tcp.py", TCP), ("net_udp.py", UDP)])
def test_an_exchange_between_two_host_vms_passes(
    project: pytest.Pytester, name: str, text: str
) -> None:
    program(project, name, text)
    result = project.runpytest("--target=unix", "-v", "--hil-lock-timeout=5")
    result.assert_outcomes(passed=1)


def test_broadcast_wait_and_metrics(project: pytest.Pytester) -> None:
    program(project, "bcast.py", BROADCAST)
    (project.path / "suites" / "bcast.py.exp").write_text(
        "--- instance0 ---\ninstance0 saw ready\n--- instance1 ---\ninstance1 starts\n"
        "instance1 done\n"
    )
    result = project.runpytest("--target=unix", "--junitxml=out.xml", "--hil-lock-timeout=5")
    result.assert_outcomes(passed=1)
    props = ET.parse(project.path / "out.xml").getroot().iter("property")
    assert ("hilrig_metric", "round trips 1") in [(p.get("name"), p.get("value")) for p in props]


def test_a_program_that_calls_skip_is_skipped(project: pytest.Pytester) -> None:
    program(project, "skips.py", SKIPS)
    result = project.runpytest("--target=unix", "-rs", "--hil-lock-timeout=5")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*instance0 called multitest.skip()*"])


def test_a_wrong_answer_from_one_instance_fails_against_the_exp_file(
    project: pytest.Pytester,
) -> None:
    program(project, "net_tcp.py", TCP.replace("data.upper()", "data.lower()"))
    (project.path / "suites" / "net_tcp.py.exp").write_text(
        "--- instance0 ---\nserver got b'hello'\n--- instance1 ---\nclient got b'HELLO'\n"
    )
    result = project.runpytest("--target=unix", "--hil-lock-timeout=5")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the boards' merged output differs from the reference*",
            "-client got b'HELLO'",
            "+client got b'hello'",
            "*transcript: *net_tcp.py.instance1.txt",
        ]
    )


def test_a_wrong_answer_from_one_instance_fails_against_host_vms(
    project: pytest.Pytester,
) -> None:
    # instance1 runs on a VM with a small heap (--target=unix,small); the reference VMs do not.
    small = [*host_vm_command()[:-1], "-X", "heapsize=256k", "-i"]
    (project.path / "targets" / "small.toml").write_text(
        f'kind = "hostvm"\n[hostvm]\ncommand = {json.dumps(small)}\n'
    )
    program(project, "heap.py", HEAP)
    result = project.runpytest("--target=unix,small", "--hil-lock-timeout=5")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*multi-board instances also on small*", "-big heap True", "+big heap False"]
    )
    result = project.runpytest("--target=unix", "--hil-lock-timeout=5")
    result.assert_outcomes(passed=1)


def test_an_instance_that_never_ends_times_out(project: pytest.Pytester) -> None:
    program(
        project,
        "hang.py",
        "# hilrig: timeout_s=1\ndef instance0():\n    multitest.next()\n"
        "    while True:\n        pass\n\ndef instance1():\n    print('done')\n",
    )
    (project.path / "suites" / "after.py").write_text("print('the board is clean')\n")
    result = project.runpytest("--target=unix", "-p", "no:randomly", "--hil-lock-timeout=5")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*the instances did not finish within 1 s*", "TIMEOUT"])


def test_too_few_boards_is_a_failure_naming_the_lease(project: pytest.Pytester) -> None:
    text = (BUILTIN_DIR / "unix.toml").read_text().replace("instances = 8", "instances = 1")
    (project.path / "targets" / "unix.toml").write_text(text)
    program(project, "net_tcp.py", TCP)
    result = project.runpytest("--target=unix", "--hil-lock-timeout=0")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*2 boards needed, not available: no board of target unix*"])


REBOOT = """\
def instance0():
    print("before reboot")
    multitest.next()
    multitest.expect_reboot("instance0_back")
    import machine
    machine.reset()


def instance0_back():
    print("after reboot")


def instance1():
    multitest.next()
    print("instance1 here")
"""


@pytest.mark.parametrize("targets", [MICROBIT, f"{MICROBIT},unix"])
def test_expect_reboot_resumes_on_the_emulated_microbit(
    project: pytest.Pytester, targets: str
) -> None:
    microbit_spec()  # skips (fails under CI) without QEMU
    text = (BUILTIN_DIR / f"{MICROBIT}.toml").read_text()
    (project.path / "targets" / f"{MICROBIT}.toml").write_text(text)
    program(project, "reboot.py", REBOOT)
    (project.path / "suites" / "reboot.py.exp").write_text(
        "--- instance0 ---\nbefore reboot\nWAIT_FOR_REBOOT instance0_back 0\nafter reboot\n"
        "--- instance1 ---\ninstance1 here\n"
    )
    result = project.runpytest(f"--target={targets}", "--hil-lock-timeout=5")
    result.assert_outcomes(passed=1)
    program(
        project, "reboot.py", REBOOT.replace('    multitest.expect_reboot("instance0_back")\n', "")
    )
    result = project.runpytest(f"--target={targets}", "--hil-lock-timeout=5")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*instance0's board rebooted (microbit-qemu #0)*"])
