"""Real esptool (its Python API and its command line) and hilrig against the simulated ESP32.

The simulator (hilrig.sim) models the chip at its serial port: the DevKitC's DTR/RTS reset
circuit, the ROM loader and flasher-stub protocol, the flash, and a MicroPython (the host VM)
booted from a valid image. Every test waits on events with deadlines, never on sleeps.

Time goes into esptool's sessions, not into the simulator: pyserial's RFC 2217 client renegotiates
the port settings whenever esptool changes its read timeout, which esptool does around every
command (about 0.2 s each), and ``attach_flash`` alone sends some 60 register commands. So each
test opens as few esptool sessions as its claim needs, and images compress into one block.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from hilrig import processes
from hilrig.cli.board_cmd import running_identity
from hilrig.deadline import Deadline
from hilrig.errors import ConfigError, FlashError, WrongBoard
from hilrig.flash import FlashRecords, Progress, Stage, board_key, flash_board
from hilrig.flash.esptool_backend import EspHardReset
from hilrig.sim import chip as chip_module
from hilrig.sim import slip
from hilrig.sim.chip import Esp32Chip, Mode
from hilrig.sim.esp32 import DEFAULT_MAC, Esp32Sim, SimConfig, parse_mac
from hilrig.sim.flashmem import SimFlash
from hilrig.sim.image import check_image
from hilrig.sim.loader import Hooks, Loader
from hilrig.sim.protocol import Op, checksum
from hilrig.sim.regs import ChipIdentity, Registers
from hilrig.targets.find import BUILTIN_DIR
from hilrig.targets.load import load_target
from hilrig.transport.link import SerialLink

ROOT = Path(__file__).resolve().parents[1]
OFFSET = 0x1000
ESPTOOL_S = 180.0  # one esptool session: about 20 s here, far longer on a loaded machine
BOOT_S = 15.0


def make_image(path: Path, fill: bytes, size: int = 40000) -> Path:
    """A valid ESP32 app image built by esptool's own image writer."""
    from esptool.bin_image import ELFSection, ESP32FirmwareImage

    image = ESP32FirmwareImage()
    image.entrypoint = 0x40080000
    image.segments.append(ELFSection(b".dram0.data", 0x3FFB0000, b"\x01\x02" * 512, 0))
    body = (fill * (size // len(fill) + 1))[:size]
    image.segments.append(ELFSection(b".iram0.text", 0x40080000, body, 0))
    image.save(str(path))
    return path


@pytest.fixture
def sim() -> Iterator[Esp32Sim]:
    """A fresh simulated board; afterwards no host VM and no simulator thread may remain."""
    with Esp32Sim(SimConfig()) as board:
        yield board
    assert not processes._LIVE, f"host VMs left running: {processes._LIVE}"
    left = [t.name for t in threading.enumerate() if t.name.startswith("esp32-sim")]
    assert not left, f"simulator threads left running: {left}"


@pytest.fixture
def firmware(tmp_path: Path) -> Path:
    return make_image(tmp_path / "firmware.bin", b"MicroPython on a simulated ESP32. ")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HILRIG_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def target_file(tmp_path: Path, url: str, mac: str = DEFAULT_MAC) -> Path:
    """The shipped esp32-sim target, with this simulator's URL and the given MAC."""
    text = (BUILTIN_DIR / "esp32-sim.toml").read_text()
    text = text.replace("${HILRIG_ESP32_SIM_URL}", url).replace(DEFAULT_MAC, mac)
    path = tmp_path / f"esp32-sim-{mac.replace(':', '')}.toml"
    path.write_text(text)
    return path


def esptool(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "esptool", "--port", url, *args],
        capture_output=True,
        text=True,
        timeout=ESPTOOL_S,
    )


def hilrig(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hilrig.cli", *args],
        capture_output=True,
        text=True,
        timeout=ESPTOOL_S,
        env=dict(env, PYTHONPATH=str(ROOT)),
        cwd=cwd,
    )


def banner_of(url: str) -> str:
    """The friendly REPL's banner line, after Ctrl-C and Ctrl-B on a freshly opened port."""
    link = SerialLink(url).open()
    try:
        link.write(b"\r\x03\r\x02")
        got = b""
        deadline = Deadline.after(BOOT_S)
        while b">>> " not in got or b"ESP32 sim" not in got:
            got += link.read_some(deadline)
    finally:
        link.close()
    return next(ln for ln in got.decode().splitlines() if ln.startswith("MicroPython"))


# -- the protocol without a network ------------------------------------------------------------
class Wire:
    """Loader hooks that collect the frames the chip sends."""

    def __init__(self) -> None:
        self.decoder = slip.Decoder()
        self.frames: list[bytes] = []

    def hooks(self) -> Hooks:
        return Hooks(self.send, lambda baud: None, lambda: None)

    def send(self, data: bytes) -> None:
        self.frames += self.decoder.feed(data)


def request(op: int, data: bytes, chk: int = 0) -> bytes:
    return slip.encode(struct.pack("<BBHI", 0, op, len(data), chk) + data)


def status(frame: bytes) -> tuple[int, int]:
    body = frame[8:]
    return body[-4], body[-3]  # ROM: status, error, two reserved bytes


def test_slip_round_trip_escapes_both_special_bytes() -> None:
    payload = bytes(range(256)) * 3
    assert slip.Decoder().feed(slip.encode(payload) + slip.encode(b"\xc0\xdb")) == [
        payload,
        b"\xc0\xdb",
    ]


def test_rom_answers_sync_eight_times_and_reads_the_mac_efuse() -> None:
    wire = Wire()
    regs = Registers(ChipIdentity(parse_mac("24:0a:c4:12:34:56"), 4 << 20))
    loader = Loader(SimFlash(4 << 20), regs, wire.hooks())
    loader.feed(request(Op.SYNC, b"\x07\x07\x12\x20" + b"\x55" * 32))
    assert len(wire.frames) == 8 and all(f[1] == Op.SYNC for f in wire.frames)
    words = []
    for n in (2, 1):
        loader.feed(request(Op.READ_REG, struct.pack("<I", 0x3FF5A000 + 4 * n)))
        words.append(struct.unpack_from("<I", wire.frames[-1], 4)[0])
    assert struct.pack(">II", *words)[2:] == bytes.fromhex("240ac4123456")


def test_bad_checksum_and_unknown_command_get_rom_status_codes() -> None:
    wire = Wire()
    flash = SimFlash(4 << 20)
    loader = Loader(flash, Registers(ChipIdentity(b"\0" * 6, 4 << 20)), wire.hooks())
    loader.feed(request(Op.FLASH_BEGIN, struct.pack("<IIII", 0x1000, 1, 0x1000, 0x10000)))
    assert status(wire.frames[-1]) == (0, 0)
    block = b"\x5a" * 0x1000
    header = struct.pack("<IIII", len(block), 0, 0, 0)
    loader.feed(request(Op.FLASH_DATA, header + block, checksum(block) ^ 1))
    assert status(wire.frames[-1]) == (1, 0x07)  # invalid CRC
    assert flash.read(0x10000, 4) == b"\xff" * 4
    loader.feed(request(0x14, b""))  # GET_SECURITY_INFO: ESP32-S2 and later only
    assert status(wire.frames[-1]) == (1, 0x05) and loader.unknown == [0x14]
    loader.feed(request(Op.FLASH_DATA, header + block, checksum(block)))
    assert status(wire.frames[-1]) == (0, 0) and flash.read(0x10000, 4) == b"\x5a" * 4


def test_image_check_tells_a_valid_image_from_a_damaged_one(firmware: Path) -> None:
    data = bytearray(firmware.read_bytes())
    flash = SimFlash(4 << 20)
    flash.program(OFFSET, bytes(data))
    good = check_image(flash.read, OFFSET, flash.size)
    assert good.valid and good.size == len(data)
    data[len(data) // 2] ^= 0xFF  # one byte of a segment: checksum and SHA-256 both break
    flash.erase(OFFSET, len(data))
    flash.program(OFFSET, bytes(data))
    bad = check_image(flash.read, OFFSET, flash.size)
    assert not bad.valid and "checksum" in bad.reason
    assert not check_image(flash.read, 0x200000, flash.size).valid  # erased flash


def test_flash_file_survives_a_restart_and_a_wrong_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "flash.bin"
    with SimFlash(2 << 20, path) as flash:
        flash.erase(0, 0x1000)
        flash.program(0x10, b"kept")
    with SimFlash(2 << 20, path) as flash:
        assert flash.read(0x10, 4) == b"kept"
    with pytest.raises(ConfigError, match=r"flash\.bin holds 2097152 bytes"):
        SimFlash(4 << 20, path).open()


def test_deflated_write_inflates_into_flash() -> None:
    wire = Wire()
    flash = SimFlash(4 << 20)
    loader = Loader(flash, Registers(ChipIdentity(b"\0" * 6, 4 << 20)), wire.hooks())
    loader.stub = True
    plain = b"deflate me " * 1000
    packed = zlib.compress(plain, 9)
    begin = struct.pack("<IIIII", len(plain), 1, 0x4000, 0x20000, 0)
    loader.feed(request(Op.FLASH_DEFL_BEGIN, begin))
    block = struct.pack("<IIII", len(packed), 0, 0, 0) + packed
    loader.feed(request(Op.FLASH_DEFL_DATA, block, checksum(packed)))
    loader.feed(request(Op.SPI_FLASH_MD5, struct.pack("<IIII", 0x20000, len(plain), 0, 0)))
    assert wire.frames[-1][8:24] == hashlib.md5(plain).digest()


# -- the reset circuit, driven line by line as the RFC 2217 server drives it -------------------
@pytest.fixture
def chip() -> Iterator[Esp32Chip]:
    """A chip with erased flash (it boot-loops, so no host VM is started) and no server."""
    board = Esp32Chip(SimFlash(1 << 20), ChipIdentity(b"\0" * 6, 1 << 20), ["false"])
    board.power_on()
    try:
        yield board
    finally:
        board.shutdown()


def boots_after(board: Esp32Chip, steps: list[tuple[bool, bool, float]]) -> list[Mode]:
    """Apply (DTR, RTS, then wait) steps and return the boots they caused."""
    before = len(board.boots)
    for dtr, rts, wait_s in steps:
        board.set_lines(dtr, rts)
        time.sleep(wait_s)
    return board.boots[before:]


# esptool's classic reset: IO0 high, EN low; wait 0.1 s; DTR on, RTS off (two RFC 2217 changes);
# wait 0.05 s; IO0 released. The gap between the two changes is the client's acknowledgement
# wait: 50-100 ms on a quiet machine; 0.6 s stands for a loaded one.
@pytest.mark.parametrize("gap_s", [0.0, 0.6])
def test_classic_reset_enters_download_mode_however_late_rts_follows(
    chip: Esp32Chip, gap_s: float
) -> None:
    steps = [(False, False, 0.0), (False, True, 0.1), (True, True, gap_s), (True, False, 0.05)]
    assert boots_after(chip, [*steps, (False, False, 0.0)]) == [Mode.DOWNLOAD]
    assert chip.mode is Mode.DOWNLOAD


def test_rts_pulse_boots_the_flash_at_once_and_opening_the_port_resets_nothing(
    chip: Esp32Chip,
) -> None:
    assert chip.boots == [Mode.BOOT_LOOP]  # power-on with erased flash
    assert boots_after(chip, [(False, True, 0.0), (False, False, 0.0)]) == [Mode.BOOT_LOOP]
    # pyserial opens with DTR, then RTS asserted; a terminal may later drop both.
    assert boots_after(chip, [(True, False, 0.0), (True, True, 0.0), (False, False, 0.0)]) == []


def test_both_lines_held_past_the_window_boot_the_flash(
    chip: Esp32Chip, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chip_module, "STRAP_WINDOW_S", 0.05)
    before = len(chip.boots)
    chip.set_lines(False, True)
    chip.set_lines(True, True)  # EN released with IO0 high; RTS never follows
    assert chip.wait_boot(before, BOOT_S) is Mode.BOOT_LOOP


# -- real esptool, real hilrig ------------------------------------------------------------------
def test_esptool_cli_writes_verifies_and_the_board_boots_the_image(
    sim: Esp32Sim, firmware: Path
) -> None:
    written = esptool(sim.url, "--baud", "460800", "write-flash", hex(OFFSET), str(firmware))
    assert written.returncode == 0, written.stdout + written.stderr
    assert "Chip type:          ESP32-D0WD-V3" in written.stdout
    assert f"MAC:                {DEFAULT_MAC}" in written.stdout
    assert "Changed." in written.stdout  # the stub's baud change to 460800
    assert "Hash of data verified." in written.stdout  # the stub's MD5, as 16 raw bytes
    verified = esptool(sim.url, "--no-stub", "verify-flash", hex(OFFSET), str(firmware))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "digest matched" in verified.stdout  # the ROM's MD5, as 32 hex digits
    assert sim.chip is not None and sim.chip.image is not None
    sha8 = sim.chip.image.sha256[:8]
    assert sha8 == hashlib.sha256(firmware.read_bytes()).hexdigest()[:8]
    assert f"-sim-{sha8} on " in banner_of(sim.url)


def test_esptool_api_writes_reads_back_erases_and_sees_a_mismatch(
    sim: Esp32Sim, capsys: pytest.CaptureFixture[str]
) -> None:
    from esptool import cmds
    from esptool.util import FatalError

    data = os.urandom(0x3000)
    with cmds.detect_chip(sim.url, connect_mode="default-reset") as rom:
        assert rom.CHIP_NAME == "ESP32"
        esp = cmds.run_stub(rom)
        esp.flash_spi_attach(0)  # what attach_flash ends with; the rest is covered above
        cmds.write_flash(esp, [(0x100000, data)])
        assert esp.read_flash(0x100000, len(data)) == data
        with pytest.raises(FatalError, match="Verification failed"):
            cmds.verify_flash(esp, [(0x100000, os.urandom(0x1000))])
        assert "digest mismatch" in capsys.readouterr().out
        esp.erase_region(0x100000, 0x1000)
        assert esp.read_flash(0x100000, 0x10) == b"\xff" * 0x10
        assert esp.read_flash(0x101000, 0x10) == data[0x1000:0x1010]
        assert sim.chip is not None
        boots = len(sim.chip.boots)
        cmds.reset_chip(esp, "hard-reset")
    assert sim.chip.wait_boot(boots, BOOT_S) is Mode.BOOT_LOOP  # erased at 0x1000


def test_a_board_whose_mac_differs_is_refused(
    sim: Esp32Sim, firmware: Path, tmp_path: Path
) -> None:
    spec = load_target(str(target_file(tmp_path, sim.url, "24:0a:c4:00:00:99")), ROOT)
    with pytest.raises(WrongBoard, match=f"has {DEFAULT_MAC}; nothing was written"):
        flash_board(spec, spec.boards[0], firmware, timeout_s=ESPTOOL_S)
    assert sim.flash is not None and sim.flash.read(OFFSET, 4) == b"\xff" * 4


def test_a_dropped_flash_then_hilrig_flash_then_a_second_run_and_pytest_skip_it(
    sim: Esp32Sim, firmware: Path, cache: Path, tmp_path: Path
) -> None:
    """The whole life of a board: a cable pulled mid-write leaves a torn image that does not
    boot; ``hilrig flash`` writes the image and records what the booted board says; the same
    command again, and ``pytest --hil-firmware``, see that identity and write nothing."""
    target = target_file(tmp_path, sim.url)
    spec = load_target(str(target), ROOT)
    assert sim.server is not None and sim.chip is not None and sim.flash is not None
    torn = make_image(tmp_path / "torn.bin", os.urandom(40_000), 40_000)  # three 16 KiB blocks
    server = sim.server

    def pull_cable(report: Progress) -> None:
        if report.stage is Stage.WRITE and report.fraction and report.fraction < 1.0:
            server.drop_client()

    # Usually "the serial port went away (Broken pipe)"; if pyserial's reader thread has not yet
    # seen the socket close when esptool reads, esptool times out waiting for the answer instead.
    failing = f"flashing {re.escape(str(torn))} onto .* failed: "
    with pytest.raises(FlashError, match=failing) as failed:
        flash_board(spec, spec.boards[0], torn, progress=pull_cable, timeout_s=ESPTOOL_S)
    assert "Traceback" not in str(failed.value)
    boots = len(sim.chip.boots)
    EspHardReset(spec, spec.boards[0]).reset(timeout_s=BOOT_S)
    assert sim.chip.wait_boot(boots, BOOT_S) is Mode.BOOT_LOOP  # a torn image does not boot

    env = dict(os.environ, HILRIG_CACHE_DIR=str(cache))
    first = hilrig("flash", "--target", str(target), str(firmware), cwd=ROOT, env=env)
    assert first.returncode == 0, first.stderr
    sha8 = hashlib.sha256(firmware.read_bytes()).hexdigest()[:8]
    assert first.stdout.startswith("Flashed ") and f"-sim-{sha8} on " in first.stdout
    downloads = sim.chip.boots.count(Mode.DOWNLOAD)
    again = hilrig("flash", "--target", str(target), str(firmware), cwd=ROOT, env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Skipped ") and f"-sim-{sha8} on " in again.stdout
    assert sim.chip.boots.count(Mode.DOWNLOAD) == downloads  # no esptool session

    suite = tmp_path / "suites"  # hilrig_suites defaults to suites/ under the rootdir
    suite.mkdir()
    (suite / "squares.py").write_text("for i in range(5):\n    print(i, i * i)\n")
    (suite / "raises.py").write_text("def f(x):\n    raise ValueError('bad %d' % x)\n\nf(3)\n")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--target", str(target),
         "--hil-firmware", str(firmware), str(suite), "-q", "--rootdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=ESPTOOL_S,
        env=env,
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "2 passed" in run.stdout
    assert sim.chip.boots.count(Mode.DOWNLOAD) == downloads  # skipped again

    # Somebody writes another image by hand: the record still names this file, but the board's
    # banner now carries the other image's hash, so the record is not confirmed (hilrig flashes).
    other = make_image(tmp_path / "other.bin", b"another build ").read_bytes()
    sim.flash.erase(OFFSET, len(other))
    sim.flash.program(OFFSET, other)
    EspHardReset(spec, spec.boards[0]).reset(timeout_s=BOOT_S)
    sha = hashlib.sha256(firmware.read_bytes()).hexdigest()
    records = FlashRecords(cache / "flash")
    assert (
        records.confirmed(board_key(spec.boards[0]), sha, running_identity(spec, spec.boards[0]))
        is None
    )


def test_hard_reset_through_rts_reboots_and_opening_the_port_does_not(
    sim: Esp32Sim, tmp_path: Path
) -> None:
    spec = load_target(str(target_file(tmp_path, sim.url)), ROOT)
    assert sim.chip is not None and sim.chip.boots == [Mode.BOOT_LOOP]  # power-on, erased flash
    link = SerialLink(sim.url).open()  # opening asserts DTR, then RTS: no reset
    try:
        seen = b""
        deadline = Deadline.after(BOOT_S)
        while seen.count(b"invalid header: 0xffffffff") < 2:  # erased flash loops
            seen += link.read_some(deadline)
    finally:
        link.close()
    assert b"rst:0x1 (POWERON_RESET)" not in seen and sim.chip.boots == [Mode.BOOT_LOOP]
    EspHardReset(spec, spec.boards[0]).reset(timeout_s=BOOT_S)
    assert sim.chip.wait_boot(1, BOOT_S) is Mode.BOOT_LOOP  # EN pulsed, IO0 high: flash


def test_sim_cli_serves_esptool_chip_id_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hilrig.cli", "sim", "esp32", "--flash-file",
         str(tmp_path / "flash.bin"), "--mac", "02:00:00:00:00:07"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("rfc2217://127.0.0.1:")
        chip_id = esptool(url, "chip-id")
        assert chip_id.returncode == 0, chip_id.stdout + chip_id.stderr
        assert "Chip type:          ESP32-D0WD-V3" in chip_id.stdout
        assert "MAC:                02:00:00:00:00:07" in chip_id.stdout
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    finally:
        processes.stop(proc)  # type: ignore[arg-type]
    assert (tmp_path / "flash.bin").stat().st_size == 4 << 20
    bad = subprocess.run(
        [sys.executable, "-m", "hilrig.cli", "sim", "esp32", "--mac", "nope"],
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert bad.returncode == 1 and "MAC 'nope' is not six hex bytes" in bad.stderr
    assert "Traceback" not in bad.stderr
