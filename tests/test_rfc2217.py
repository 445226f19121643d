"""A remote board: the QEMU micro:bit's serial pty exported by Debian's ser2net over RFC2217 on
127.0.0.1, used through a ``kind = "serial"`` target whose port is ``rfc2217://127.0.0.1:PORT``."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_services import free_port, require

from hilrig import processes

pytest_plugins = ["pytester"]

FIRMWARE = Path("/usr/share/firmware-microbit-micropython/firmware.hex")
INSTALL = "apt-get install ser2net qemu-system-arm firmware-microbit-micropython"
SER2NET = shutil.which("ser2net") or "/usr/sbin/ser2net"
PROGRAMS = {
    "squares.py": "for i in range(5):\n    print(i, i * i)\n",
    "raises.py": "def f(x):\n    raise ValueError('bad %d' % x)\n\nprint('before')\nf(3)\n",
    "long.py": "for i in range(40):\n    print(i, 'x' * 50)\n",
}


def _require_tools() -> None:
    tools = (
        ("ser2net", os.access(SER2NET, os.X_OK)),
        ("qemu-system-arm", shutil.which("qemu-system-arm") is not None),
        (str(FIRMWARE), FIRMWARE.is_file()),
    )
    require(tools, INSTALL)


def _wait_for(what: str, check: object, proc: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = check()  # type: ignore[operator]
        if found:
            return str(found)
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}: {log.read_text(errors='replace')}")
        time.sleep(0.02)
    pytest.fail(f"{what} did not come up in 10 s: {log.read_text(errors='replace')}")


def _start_qemu(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    log = tmp / "qemu.log"
    argv = ["qemu-system-arm", "-M", "microbit", "-device", f"loader,file={FIRMWARE}"]
    argv += ["-serial", "pty", "-monitor", "none", "-display", "none"]
    with log.open("wb") as out:
        proc = processes.spawn(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

    def pty() -> str | None:
        match = re.search(r"redirected to (/dev/pts/\d+)", log.read_text(errors="replace"))
        return match.group(1) if match else None

    return proc, _wait_for("QEMU", pty, proc, log)


def _start_ser2net(tmp: Path, pty: str, port: int) -> subprocess.Popen[bytes]:
    """ser2net as labgrid's exporter starts it (an RFC 2217 accepter), bound to loopback only."""
    log = tmp / "ser2net.log"
    argv = [
        SER2NET, "-d", "-n",
        "-Y", f"connection: &con01#  accepter: telnet(rfc2217,mode=server),tcp,127.0.0.1,{port}",
        "-Y", f"  connector: serialdev(nouucplock=true),{pty},115200n81,local",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = processes.spawn(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return False
        return True

    _wait_for("ser2net", listening, proc, log)
    return proc


@pytest.fixture
def remote_port(tmp_path: Path) -> Iterator[int]:
    """A QEMU micro:bit behind ser2net on 127.0.0.1; both are gone after the test."""
    _require_tools()
    started: list[subprocess.Popen[bytes]] = []
    try:
        qemu, pty = _start_qemu(tmp_path)
        started.append(qemu)
        port = free_port()
        started.append(_start_ser2net(tmp_path, pty, port))
        yield port
    finally:
        for proc in reversed(started):
            processes.stop(proc, grace_s=1.0)
        assert all(proc.poll() is not None for proc in started)


def test_suite_programs_run_on_a_board_behind_ser2net(
    pytester: pytest.Pytester, remote_port: int
) -> None:
    pytester.makeconftest('pytest_plugins = ["hilrig.plugin"]\n')
    (pytester.path / "targets").mkdir()
    url = f"rfc2217://127.0.0.1:{remote_port}"
    target = 'kind = "serial"\ntimeout_s = 10\n\n[serial]\nbaud = 115200\n\n[[boards]]\n'
    (pytester.path / "targets" / "remote.toml").write_text(target + f'port = "{url}"\n')
    (pytester.path / "suites").mkdir()
    for name, text in PROGRAMS.items():
        (pytester.path / "suites" / name).write_text(text)
    result = pytester.runpytest_subprocess("--target=remote", "--junitxml=out.xml")
    result.assert_outcomes(passed=len(PROGRAMS))
    result.stdout.fnmatch_lines(["*firmware: MicroPython v1.9.2*micro:bit*"])
    root = ET.parse(pytester.path / "out.xml").getroot()
    boards = {p.get("value") for p in root.iter("property") if p.get("name") == "hilrig_board"}
    assert boards == {f"remote on {url}"}
