"""SLIP framing (RFC 1055) as the ESP ROM loader uses it: 0xC0 ends a frame, 0xDB escapes."""

from __future__ import annotations

END = 0xC0
ESC = 0xDB
ESC_END = 0xDC
ESC_ESC = 0xDD


def encode(payload: bytes) -> bytes:
    """One frame: 0xC0, the escaped payload, 0xC0."""
    body = payload.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
    return b"\xc0" + body + b"\xc0"


class Decoder:
    """Collects frames from a byte stream; bytes outside frames are returned as noise."""

    def __init__(self) -> None:
        self._frame: bytearray | None = None
        self._escaped = False
        self.bad_escapes = 0  # frames dropped because 0xDB was followed by something else

    def feed(self, data: bytes) -> list[bytes]:
        """The frames completed by ``data``, in order."""
        frames: list[bytes] = []
        for byte in data:
            if self._frame is None:
                if byte == END:
                    self._frame = bytearray()
                continue
            if self._escaped:
                self._escaped = False
                if byte in (ESC_END, ESC_ESC):
                    self._frame.append(END if byte == ESC_END else ESC)
                else:  # the ROM drops a frame with a broken escape
                    self.bad_escapes += 1
                    self._frame = None
                continue
            if byte == ESC:
                self._escaped = True
            elif byte == END:
                if self._frame:
                    frames.append(bytes(self._frame))
                    self._frame = None
                # an empty frame is the start of the next one (0xC0 0xC0 between frames)
            else:
                self._frame.append(byte)
        return frames

    def reset(self) -> None:
        """Forget a half-received frame (the chip was reset)."""
        self._frame = None
        self._escaped = False
