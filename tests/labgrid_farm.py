"""A labgrid board farm on 127.0.0.1 for the tests: ``labgrid-coordinator``, a
``labgrid-exporter`` exporting two QEMU micro:bits (``-serial pty``) as ``RawSerialPort``s
(it starts Debian's ser2net for each when its place is acquired), and two places, ``mb-0`` and
``mb-1``, tagged ``board=microbit``. Random free ports, a temporary folder, and nothing left
running afterwards: :meth:`Farm.stop` kills every process group it started and checks.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from local_services import free_port, require

from hilrig import processes

FIRMWARE = Path("/usr/share/firmware-microbit-micropython/firmware.hex")
SER2NET = shutil.which("ser2net") or "/usr/sbin/ser2net"
INSTALL = (
    "pip install -c constraints.txt -e '.[dev,labgrid]' and "
    "apt-get install ser2net qemu-system-arm firmware-microbit-micropython"
)
PLACES = ("mb-0", "mb-1")


def labgrid_tool(name: str) -> str | None:
    """A labgrid command from this interpreter's environment (or PATH)."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


def require_farm() -> None:
    """Skip (fail in CI) unless labgrid, ser2net, QEMU and the micro:bit firmware are here."""
    tools = (
        ("labgrid", importlib.util.find_spec("labgrid") is not None),
        ("labgrid-coordinator", labgrid_tool("labgrid-coordinator") is not None),
        ("ser2net", os.access(SER2NET, os.X_OK)),
        ("qemu-system-arm", shutil.which("qemu-system-arm") is not None),
        (str(FIRMWARE), FIRMWARE.is_file()),
    )
    require(tools, INSTALL)


def wait_for(
    what: str, check: Callable[[], object], proc: subprocess.Popen[bytes], log: Path
) -> str:
    """Poll ``check`` for up to 20 s; fail with the process's log if it exits or times out."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = check()
        if found:
            return str(found)
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}: {log.read_text(errors='replace')}")
        time.sleep(0.05)
    pytest.fail(f"{what} did not come up in 20 s: {log.read_text(errors='replace')}")


class Farm:
    """The running farm: its coordinator address and a labgrid-client to drive it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.address = f"127.0.0.1:{free_port()}"
        self.started: list[subprocess.Popen[bytes]] = []

    def spawn(self, name: str, argv: list[str], cwd: Path | None = None) -> subprocess.Popen[bytes]:
        """Start a process in its own group, output into ``<name>.log``."""
        log = self.folder / f"{name}.log"
        with log.open("wb") as out:
            proc = processes.spawn(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=cwd
            )
        self.started.append(proc)
        return proc

    def start(self) -> Farm:
        """QEMU boards, the coordinator, the exporter, then the places."""
        ptys = [self._qemu(i) for i in range(len(PLACES))]
        coordinator = labgrid_tool("labgrid-coordinator")
        assert coordinator is not None
        (self.folder / "coordinator").mkdir()
        proc = self.spawn(
            "coordinator", [coordinator, "-l", self.address], cwd=self.folder / "coordinator"
        )
        host, port = self.address.split(":")
        wait_for(
            "labgrid-coordinator",
            lambda: _listening(host, int(port)),
            proc,
            self._log("coordinator"),
        )
        self._exporter(ptys)
        for i, place in enumerate(PLACES):
            self.client("-p", place, "create")
            self.client("-p", place, "add-match", f"farm-exporter/mb{i}/*")
            self.client("-p", place, "set-tags", "board=microbit")
        return self

    def _log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def _qemu(self, index: int) -> str:
        argv = ["qemu-system-arm", "-M", "microbit", "-device", f"loader,file={FIRMWARE}"]
        argv += ["-serial", "pty", "-monitor", "none", "-display", "none"]
        name = f"qemu{index}"
        proc = self.spawn(name, argv)

        def pty() -> str | None:
            found = re.search(r"redirected to (/dev/pts/\d+)", self._log(name).read_text())
            return found.group(1) if found else None

        return wait_for("QEMU", pty, proc, self._log(name))

    def _exporter(self, ptys: list[str]) -> None:
        config = self.folder / "exporter.yaml"
        config.write_text(
            "".join(
                f"mb{i}:\n  RawSerialPort:\n    port: {pty}\n    speed: 115200\n"
                for i, pty in enumerate(ptys)
            )
        )
        exporter = labgrid_tool("labgrid-exporter")
        assert exporter is not None
        argv = [exporter, "-c", self.address, "--name", "farm-exporter"]
        proc = self.spawn("exporter", [*argv, "--hostname", "127.0.0.1", str(config)])

        def exported() -> bool:
            out = self.client("resources", check=False)
            return all(f"farm-exporter/mb{i}/" in out for i in range(len(ptys)))

        wait_for("labgrid-exporter", exported, proc, self._log("exporter"))

    def client(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
        """Run labgrid-client against the farm; its output (fail on an error when ``check``)."""
        tool = labgrid_tool("labgrid-client")
        assert tool is not None
        done = subprocess.run(
            [tool, "-x", self.address, *args],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, **(env or {})},
        )
        if check and done.returncode != 0:
            pytest.fail(f"labgrid-client {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout + done.stderr

    def holders(self) -> dict[str, str | None]:
        """Who holds each place, as labgrid-client reads it."""
        out = self.client("-v", "places")
        found: dict[str, str | None] = {}
        for block in out.split("Place '")[1:]:
            name = block.split("'", 1)[0]
            holder = re.search(r"acquired: (\S+)", block)
            found[name] = None if holder is None or holder.group(1) == "None" else holder.group(1)
        return found

    def release_all(self) -> None:
        """Release every place, whoever holds it (between tests)."""
        for place, holder in self.holders().items():
            if holder is not None:
                self.client("-p", place, "release", "--kick", check=False)

    def stop(self) -> None:
        """SIGTERM each group (the exporter stops its ser2net), then SIGKILL what is left."""
        groups = [proc.pid for proc in self.started]
        for proc in reversed(self.started):
            processes.stop(proc, grace_s=3.0)
        for group in groups:
            try:
                os.killpg(group, signal.SIGKILL)  # a ser2net whose exporter already ended
            except ProcessLookupError:
                pass
        time.sleep(0.1)
        left = [pid for pid in _group_members(groups)]
        assert not left, f"still running after the farm stopped: {left}"


def _listening(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.2).close()
    except OSError:
        return False
    return True


def _group_members(groups: list[int]) -> list[str]:
    """Live processes (not zombies) in the given process groups, as 'pid command'."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) in groups:
            found.append(f"{entry.name} {stat[stat.index('(') : stat.rindex(')') + 1]}")
    return found
