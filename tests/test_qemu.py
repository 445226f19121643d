"""QEMU machines: the command line, missing tools, boot, restart, death and cleanup."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import pytest
from real_targets import MICROBIT, microbit_machine, microbit_spec

from hilrig.boards.qemu import (
    INPUT_IN_FLIGHT,
    MUX_ESCAPE,
    QemuMachine,
    check_installed,
    qemu_command,
)
from hilrig.deadline import Deadline
from hilrig.errors import LinkError, ToolMissing
from hilrig.targets.spec import QemuSpec
from hilrig.transport.rawrepl import RAW_PROMPT, RawRepl

SPEC = QemuSpec(
    binary="qemu-system-arm",
    machine="microbit",
    firmware=Path("/fw/firmware.hex"),
    loader="device",
    install_hint="apt-get install qemu-system-arm firmware-microbit-micropython",
)


def test_command_keeps_ctrl_a_away_from_the_monitor() -> None:
    argv = qemu_command(SPEC, "/tmp/s.sock")
    assert argv[:3] == ["qemu-system-arm", "-M", "microbit"]
    assert "-nographic" not in argv  # its mux would swallow the raw REPL's Ctrl-A
    assert argv[argv.index("-monitor") + 1] == "none"
    assert argv[argv.index("-serial") + 1] == "unix:/tmp/s.sock,server=on,wait=on"
    assert "-chardev" not in argv and "-echr" not in argv  # paced input: a plain socket
    assert "loader,file=/fw/firmware.hex" in argv
    kernel = qemu_command(dataclasses.replace(SPEC, loader="kernel", args=("-icount", "0")), "s")
    assert kernel[kernel.index("-kernel") + 1] == "/fw/firmware.hex"
    assert kernel[-2:] == ["-icount", "0"]


def test_lossless_input_goes_through_the_multiplexer_with_nul_as_its_escape() -> None:
    argv = qemu_command(dataclasses.replace(SPEC, lossless_input=True), "/tmp/s.sock")
    chardev = argv[argv.index("-chardev") + 1]
    assert chardev == "socket,id=hilrig-serial,path=/tmp/s.sock,server=on,wait=on,mux=on"
    assert argv[argv.index("-serial") + 1] == "chardev:hilrig-serial"
    assert argv[argv.index("-echr") + 1] == "0"  # not Ctrl-A, which the raw REPL needs
    assert argv[argv.index("-monitor") + 1] == "none" and "-nographic" not in argv


def test_missing_emulator_or_firmware_names_it_and_the_install_command(tmp_path: Path) -> None:
    with pytest.raises(ToolMissing, match=r"needs qemu-system-nope.*apt-get install qemu-system"):
        check_installed(dataclasses.replace(SPEC, binary="qemu-system-nope"), MICROBIT)
    microbit_spec()  # skips without QEMU: the firmware is only checked once the emulator is there
    with pytest.raises(ToolMissing, match=r"firmware file /fw/firmware.hex, which is missing"):
        check_installed(SPEC, MICROBIT)


def booted(machine: QemuMachine) -> RawRepl:
    repl = RawRepl(machine.open(Deadline.after(15)), pacing_s=0)
    repl.enter(Deadline.after(15))
    return repl


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_boot_restart_and_close_leave_nothing_behind() -> None:
    machine = microbit_machine()
    try:
        started = time.monotonic()
        repl = booted(machine)
        boot_s = time.monotonic() - started
        assert machine.proc is not None and machine.workdir is not None
        first, workdir = machine.proc.pid, machine.workdir
        assert repl.exec(b"print(1+1)", Deadline.after(5)).stdout == b"2\r\n"
        # A -serial pty took a second before the guest saw input; the socket takes ~0.1 s.
        assert boot_s < 0.8, f"boot to the raw prompt took {boot_s:.2f} s"

        repl = RawRepl(machine.restart(Deadline.after(15)), pacing_s=0)
        repl.enter(Deadline.after(15))
        assert machine.proc.pid != first and gone(first) and not workdir.exists()
        assert repl.exec(b"print(3)", Deadline.after(5)).stdout == b"3\r\n"
        second, workdir = machine.proc.pid, machine.workdir
    finally:
        machine.close()
    assert gone(second) and workdir is not None and not workdir.exists()
    assert machine.proc is None and machine.link is None
    machine.close()  # twice is fine


@pytest.mark.parametrize("lossless", [False, True])
def test_input_is_paced_unless_the_firmware_loses_nothing(lossless: bool) -> None:
    spec = dataclasses.replace(microbit_spec(), lossless_input=lossless)
    machine = QemuMachine(spec, MICROBIT, label="QEMU micro:bit")
    try:
        machine.open(Deadline.after(15))
        assert machine.lossless_input is lossless and machine.link is not None
        # paced: a piece at a time, each once QEMU has read the one before; else one write,
        # through QEMU's multiplexer, NUL (its escape) sent twice
        assert machine.link.in_flight == (None if lossless else INPUT_IN_FLIGHT)
        assert machine.link.doubled == (MUX_ESCAPE if lossless else None)
    finally:
        machine.close()


def test_the_multiplexer_passes_every_byte_on_and_obeys_none() -> None:
    """Behind QEMU's multiplexer a NUL followed by 'x' would stop QEMU, 'h' print its help and
    'c' move the serial port away; sent twice, NUL is one NUL to the firmware."""
    spec = dataclasses.replace(microbit_spec(), lossless_input=True)
    machine = QemuMachine(spec, MICROBIT, label="QEMU micro:bit")
    try:
        repl = booted(machine)
        # real NULs, each before a mux command letter, and bytes above 127 (this 2017 firmware
        # raised KeyboardInterrupt for a first program after boot with a NUL in it, behind the
        # multiplexer or not; hilrig's own payloads escape NUL). Each program stays well under
        # the 64 bytes of this firmware's input ring: unpaced, a longer one can lose bytes.
        assert repl.exec(b"print(1)", Deadline.after(5)).stdout == b"1\r\n"
        high = (bytes(range(0x80, 0xC0, 3)), bytes(range(0xC0, 0x100, 3)))
        for sent in (b"x\0h\0c", b"\0t\0x\0\0", *high):
            result = repl.exec(b"b=b'%s'\nprint(list(b))" % sent, Deadline.after(10))
            assert result.stdout == str(list(sent)).encode() + b"\r\n", result
        assert machine.alive()
        assert repl.exec(b"print(2)", Deadline.after(5)).stdout == b"2\r\n"
    finally:
        machine.close()


def test_killed_emulator_is_a_link_error_and_restart_brings_it_back() -> None:
    machine = microbit_machine()
    try:
        repl = booted(machine)
        assert machine.proc is not None and machine.alive()
        machine.proc.kill()
        machine.proc.wait(5)
        assert not machine.alive()
        with pytest.raises(LinkError):
            repl.exec(b"print(1)", Deadline.after(2))
        repl = RawRepl(machine.restart(Deadline.after(15)), pacing_s=0)
        repl.enter(Deadline.after(15))
        assert repl.exec(b"print(4)", Deadline.after(5)).stdout == b"4\r\n"
    finally:
        machine.close()


def test_emulator_that_exits_at_start_says_why() -> None:
    spec = dataclasses.replace(microbit_spec(), machine="no-such-machine")
    machine = QemuMachine(spec, MICROBIT)
    try:
        with pytest.raises(LinkError, match=r"exited with code 1 .*unsupported machine type"):
            machine.open(Deadline.after(15))
    finally:
        machine.close()


def test_interrupt_is_ctrl_c_on_the_serial_line() -> None:
    machine = microbit_machine()
    try:
        repl = booted(machine)
        repl.link.write(b"while True:\n    pass\n\x04")
        assert repl.read_exactly(2, Deadline.after(5)) == b"OK"
        time.sleep(0.2)  # a Ctrl-C that comes while the board still compiles is not seen
        assert machine.link is not None
        machine.interrupt(machine.link)
        said = repl.read_until(b"\x04>", Deadline.after(5))
        assert b"KeyboardInterrupt" in said
        assert not machine.fresh_link_entered()
        repl.link.write(b"\r\x01")
        repl.read_until(RAW_PROMPT, Deadline.after(5))
    finally:
        machine.close()
