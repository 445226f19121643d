"""The ESP32 serial download protocol: the ROM loader, and the flasher stub once uploaded.

A request is a SLIP frame ``00 op len16 chk32 data``; the answer is ``01 op len16 val32 data``
whose data ends in status bytes: ``status, error`` (+2 reserved bytes from the ROM). The ROM
answers SYNC eight times, detects nothing else about the host, and has no ERASE/READ_FLASH
commands. After MEM_END with an entry point the uploaded code "runs": the simulator assumes it
is esptool's flasher stub, greets with ``OHAI`` and from then on answers as the stub does
(two status bytes, stub error codes, raw 16-byte MD5s, flow-controlled READ_FLASH, deflate).
"""

from __future__ import annotations

import hashlib
import logging
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from hilrig.sim import slip
from hilrig.sim.flashmem import SimFlash
from hilrig.sim.protocol import (
    GET_SECURITY_INFO,
    ROM_ONLY,
    ROM_SYNC_VALUE,
    STUB_ONLY,
    SYNC_PAYLOAD,
    CommandFailed,
    Failure,
    Op,
    block_payload,
    unpack,
)
from hilrig.sim.regs import Registers

log = logging.getLogger(__name__)


@dataclass
class _Write:
    """A FLASH_BEGIN or FLASH_DEFL_BEGIN in progress."""

    offset: int
    size: int
    block_size: int
    blocks: int
    inflate: zlib._Decompress | None = None
    seq: int = 0
    written: int = 0

    @property
    def limit(self) -> int:
        """Bytes this write may store: plain blocks arrive padded to the block size."""
        return (
            self.size if self.inflate is not None else max(self.size, self.blocks * self.block_size)
        )


@dataclass
class _Read:
    """A stub READ_FLASH in progress: packets out, acknowledgements in."""

    data: bytes
    packet: int
    in_flight: int
    sent: int = 0
    acked: int = 0
    pending: list[bytes] = field(default_factory=list)


@dataclass(frozen=True)
class Hooks:
    """What the loader asks of the chip around it."""

    send: Callable[[bytes], None]  # bytes onto the UART
    set_baud: Callable[[int], None]  # after CHANGE_BAUDRATE's answer has left
    run_flash: Callable[[], None]  # FLASH_END/DEFL_END with reboot, RUN_USER_CODE


class Loader:
    """One download-mode session, from ROM entry until the chip leaves it."""

    def __init__(self, flash: SimFlash, regs: Registers, hooks: Hooks) -> None:
        self.flash = flash
        self.regs = regs
        self.hooks = hooks
        self.stub = False
        self.decoder = slip.Decoder()
        self.write: _Write | None = None
        self.mem_seq: int | None = None
        self.reading: _Read | None = None
        self.unknown: list[int] = []  # opcodes answered as unknown, for tests and logs

    def feed(self, data: bytes) -> None:
        """Bytes from the host."""
        for frame in self.decoder.feed(data):
            if self.reading is not None:
                self._ack(frame)
            else:
                self._request(frame)

    def _request(self, frame: bytes) -> None:
        if len(frame) < 8 or frame[0] != 0x00:
            log.info("ignoring a frame that is not a request: %s", frame[:16].hex())
            return
        _, op, length, chk = struct.unpack_from("<BBHI", frame)
        data = frame[8:]
        try:
            if length != len(data):
                raise CommandFailed(Failure.BAD_LENGTH, f"length {length} but {len(data)} bytes")
            value, payload, after = self._dispatch(op, data, chk)
        except CommandFailed as exc:
            log.info("op %#04x failed: %s", op, exc)
            rom, stub = exc.failure.value
            # The ROM answers status 1 and the reason; the stub puts its code in the status byte.
            self._answer(op, 0, b"", *((stub, 0) if self.stub else (1, rom)))
            return
        self._answer(op, value, payload)
        if after is not None:
            after()

    def _answer(self, op: int, value: int, payload: bytes, status: int = 0, error: int = 0) -> None:
        tail = bytes([status, error]) + (b"" if self.stub else b"\0\0")
        body = payload + tail
        self.hooks.send(slip.encode(struct.pack("<BBHI", 1, op, len(body), value) + body))

    def _dispatch(
        self, op: int, data: bytes, chk: int
    ) -> tuple[int, bytes, Callable[[], None] | None]:
        if op not in Op.__members__.values() or (op in ROM_ONLY and self.stub):
            return self._unknown(op)
        if op in STUB_ONLY and not self.stub:
            return self._unknown(op)
        handler = _HANDLERS[Op(op)]
        return handler(self, data, chk)

    def _unknown(self, op: int) -> tuple[int, bytes, Callable[[], None] | None]:
        self.unknown.append(op)
        # esptool asks every chip for GET_SECURITY_INFO first; the ESP32's ROM has no such command.
        level = logging.INFO if op == GET_SECURITY_INFO else logging.WARNING
        log.log(level, "unknown command %#04x answered as the %s would", op, self._who())
        raise CommandFailed(Failure.NOT_IMPLEMENTED if self.stub else Failure.INVALID, "unknown")

    def _who(self) -> str:
        return "stub" if self.stub else "ROM"

    # -- handlers ------------------------------------------------------------------------------
    def _sync(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        if data != SYNC_PAYLOAD:
            raise CommandFailed(Failure.INVALID, "not the SYNC pattern")
        value = 0 if self.stub else ROM_SYNC_VALUE

        def echoes() -> None:  # the ROM answers one SYNC eight times
            for _ in range(7):
                self._answer(Op.SYNC, value, b"")

        return value, b"", echoes

    def _read_reg(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        (addr,) = unpack("<I", data)
        return self.regs.read(addr), b"", None

    def _write_reg(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        if not data or len(data) % 16:
            raise CommandFailed(Failure.BAD_LENGTH, "WRITE_REG takes 16-byte entries")
        for i in range(0, len(data), 16):
            addr, value, mask, _delay = struct.unpack_from("<IIII", data, i)
            self.regs.write(addr, value, mask)
        return 0, b"", None

    def _mem_begin(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        unpack("<IIII", data)
        self.mem_seq = 0
        return 0, b"", None

    def _mem_data(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        if self.mem_seq is None:
            raise CommandFailed(Failure.FAILED, "MEM_DATA without MEM_BEGIN")
        block = block_payload(data, chk, self.mem_seq)
        log.debug("RAM block %d: %d bytes", self.mem_seq, len(block))
        self.mem_seq += 1
        return 0, b"", None

    def _mem_end(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        no_entry, entry = unpack("<II", data)
        self.mem_seq = None
        if no_entry or self.stub:
            return 0, b"", None
        log.info("jumping to the uploaded code at %#010x: the flasher stub", entry)

        def start_stub() -> None:
            self.stub = True
            self.hooks.send(slip.encode(b"OHAI"))

        return 0, b"", start_stub

    def _spi_attach(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        if len(data) not in (4, 8):
            raise CommandFailed(Failure.BAD_LENGTH, "SPI_ATTACH takes 4 or 8 bytes")
        return 0, b"", None

    def _spi_params(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        _fid, total, _block, _sector, _page, _mask = unpack("<IIIIII", data)
        if total > self.flash.size:
            log.info("host says the flash has %d bytes; it has %d", total, self.flash.size)
        return 0, b"", None

    def _change_baud(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        new, _old = unpack("<II", data)
        if not 300 <= new <= 5_000_000:
            raise CommandFailed(Failure.INVALID, f"baud rate {new}")
        return 0, b"", lambda: self.hooks.set_baud(new)

    def _flash_begin(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        return self._begin(data, inflate=False)

    def _defl_begin(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        return self._begin(data, inflate=True)

    def _begin(self, data: bytes, inflate: bool) -> tuple[int, bytes, Callable[[], None] | None]:
        # The ESP32 ROM takes 16 bytes; the stub (and later ROMs) add an "encrypted" word.
        if len(data) not in ((20,) if self.stub else (16,)):
            raise CommandFailed(Failure.BAD_LENGTH, f"FLASH_BEGIN with {len(data)} bytes")
        size, blocks, block_size, offset = struct.unpack_from("<IIII", data)
        if not self.flash.contains(offset, size):
            raise CommandFailed(Failure.TOO_MUCH, f"{size} bytes at {offset:#x} overrun flash")
        self.flash.erase(offset, size)
        decomp = zlib.decompressobj() if inflate else None
        self.write = _Write(offset, size, block_size, blocks, decomp)
        return 0, b"", None

    def _flash_data(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        job = self._job(inflate=False)
        block = block_payload(data, chk, job.seq)
        self._store(job, block)
        return 0, b"", None

    def _defl_data(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        job = self._job(inflate=True)
        block = block_payload(data, chk, job.seq)
        assert job.inflate is not None
        try:
            plain = job.inflate.decompress(block)
        except zlib.error as exc:
            self.write = None
            raise CommandFailed(Failure.INFLATE, str(exc)) from exc
        self._store(job, plain)
        return 0, b"", None

    def _job(self, inflate: bool) -> _Write:
        if self.write is None or (self.write.inflate is not None) != inflate:
            raise CommandFailed(Failure.NOT_IN_FLASH_MODE, "data without a matching BEGIN")
        return self.write

    def _store(self, job: _Write, plain: bytes) -> None:
        if job.written + len(plain) > job.limit:
            raise CommandFailed(Failure.TOO_MUCH, "more data than FLASH_BEGIN announced")
        if not self.flash.contains(job.offset + job.written, len(plain)):
            raise CommandFailed(Failure.TOO_MUCH, "data past the end of flash")
        self.flash.program(job.offset + job.written, plain)
        job.written += len(plain)
        job.seq += 1

    def _flash_end(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        (stay,) = unpack("<I", data)
        self.write = None
        return 0, b"", (None if stay else self.hooks.run_flash)

    def _run_user_code(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        return 0, b"", self.hooks.run_flash

    def _md5(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        addr, size, _, _ = unpack("<IIII", data)
        if not self.flash.contains(addr, size):
            raise CommandFailed(Failure.FAILED, f"MD5 of {size} bytes at {addr:#x}")
        digest = self.flash.md5(addr, size)
        return 0, (digest if self.stub else digest.hex().encode()), None

    def _erase_flash(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        self.flash.erase_all()
        return 0, b"", None

    def _erase_region(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        offset, size = unpack("<II", data)
        if offset % 0x1000 or size % 0x1000 or not self.flash.contains(offset, size):
            raise CommandFailed(Failure.BAD_LENGTH, f"erase {size:#x} at {offset:#x}")
        self.flash.erase(offset, size)
        return 0, b"", None

    def _read_slow(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        offset, size = unpack("<II", data)
        if size > 64 or not self.flash.contains(offset, size):
            raise CommandFailed(Failure.INVALID, f"read {size} bytes at {offset:#x}")
        return 0, self.flash.read(offset, size).ljust(64, b"\0"), None

    def _read_flash(self, data: bytes, chk: int) -> tuple[int, bytes, Callable[[], None] | None]:
        offset, size, packet, in_flight = unpack("<IIII", data)
        if not self.flash.contains(offset, size) or packet == 0 or in_flight == 0:
            raise CommandFailed(Failure.BAD_LENGTH, f"read {size} bytes at {offset:#x}")
        job = _Read(self.flash.read(offset, size), packet, in_flight)

        def start() -> None:
            self.reading = job
            self._send_packets()

        return 0, b"", start

    # -- stub READ_FLASH flow control ----------------------------------------------------------
    def _send_packets(self) -> None:
        job = self.reading
        assert job is not None
        while job.sent < len(job.data) and job.sent - job.acked < job.packet * job.in_flight:
            chunk = job.data[job.sent : job.sent + job.packet]
            job.sent += len(chunk)
            self.hooks.send(slip.encode(chunk))

    def _ack(self, frame: bytes) -> None:
        job = self.reading
        assert job is not None
        if len(frame) != 4:
            log.info("READ_FLASH: expected a 4-byte acknowledgement, got %d bytes", len(frame))
            return
        job.acked = max(job.acked, int.from_bytes(frame, "little"))
        if job.acked >= len(job.data):
            self.reading = None
            self.hooks.send(slip.encode(hashlib.md5(job.data).digest()))
        else:
            self._send_packets()


Handler = Callable[[Loader, bytes, int], tuple[int, bytes, Callable[[], None] | None]]
_HANDLERS: dict[Op, Handler] = {
    Op.SYNC: Loader._sync,
    Op.READ_REG: Loader._read_reg,
    Op.WRITE_REG: Loader._write_reg,
    Op.MEM_BEGIN: Loader._mem_begin,
    Op.MEM_DATA: Loader._mem_data,
    Op.MEM_END: Loader._mem_end,
    Op.SPI_ATTACH: Loader._spi_attach,
    Op.SPI_SET_PARAMS: Loader._spi_params,
    Op.CHANGE_BAUDRATE: Loader._change_baud,
    Op.FLASH_BEGIN: Loader._flash_begin,
    Op.FLASH_DATA: Loader._flash_data,
    Op.FLASH_END: Loader._flash_end,
    Op.FLASH_DEFL_BEGIN: Loader._defl_begin,
    Op.FLASH_DEFL_DATA: Loader._defl_data,
    Op.FLASH_DEFL_END: Loader._flash_end,
    Op.SPI_FLASH_MD5: Loader._md5,
    Op.ERASE_FLASH: Loader._erase_flash,
    Op.ERASE_REGION: Loader._erase_region,
    Op.READ_FLASH_SLOW: Loader._read_slow,
    Op.READ_FLASH: Loader._read_flash,
    Op.RUN_USER_CODE: Loader._run_user_code,
}
