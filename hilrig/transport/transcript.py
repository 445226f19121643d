"""Transcripts: every byte to and from a board, timestamped, kept per program.

A :class:`RecordingLink` wraps any Link and appends what passes through to the current
:class:`Transcript`. The runner starts a fresh transcript for each program; the session writes it
to disk for failures (and for passes with ``--hil-keep-transcripts``).

Bytes travelling the same way within a few milliseconds share one line (QEMU's serial socket
delivers its output a byte at a time). A program printing megabytes must not fill memory or the
disk, so a transcript keeps the first ``KEEP_BYTES`` and the last ``TAIL_BYTES`` and says how
many bytes in between it left out; the end is where the framing went wrong, if it did.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from hilrig.deadline import Deadline
from hilrig.transport.link import Link

MERGE_S = 0.005  # bytes in one direction closer together than this share a line
MAX_LINE_BYTES = 64 * 1024
KEEP_BYTES = 256 * 1024
TAIL_BYTES = 4 * 1024

Chunk = tuple[float, str, bytes]  # (seconds since start, ">" to the board | "<" from it, bytes)


@dataclass
class Transcript:
    """Timestamped chunks of traffic and hilrig's notes between them."""

    title: str = ""
    started: float = field(default_factory=time.monotonic)
    notes: list[tuple[float, str]] = field(default_factory=list)
    dropped: int = 0  # bytes left out between the kept head and tail
    _head: list[Chunk] = field(default_factory=list, repr=False)
    _tail: deque[Chunk] = field(default_factory=deque, repr=False)
    _head_bytes: int = 0
    _tail_bytes: int = 0
    _open: tuple[float, str] | None = None  # time and direction of the line being filled
    _buffer: bytearray = field(default_factory=bytearray, repr=False)

    def add(self, direction: str, data: bytes) -> None:
        """Record bytes travelling in ``direction`` (">" to the board, "<" from it)."""
        now = time.monotonic() - self.started
        line = self._open
        if line is None or line[1] != direction or now - line[0] >= MERGE_S:
            self._flush()
            self._open = (now, direction)
        self._buffer += data
        if len(self._buffer) >= MAX_LINE_BYTES:
            self._flush()

    def note(self, text: str) -> None:
        """Record what hilrig decided (recovery steps, timeouts) between the bytes."""
        self._flush()
        self.notes.append((time.monotonic() - self.started, text))

    @property
    def chunks(self) -> list[Chunk]:
        """The kept chunks in order (head, then tail)."""
        self._flush()
        return self._head + list(self._tail)

    def _flush(self) -> None:
        if self._open is None:
            return
        t, direction = self._open
        data = bytes(self._buffer)
        self._open = None
        self._buffer.clear()
        room = KEEP_BYTES - self._head_bytes
        if room > 0:
            self._head.append((t, direction, data[:room]))
            self._head_bytes += min(room, len(data))
            data = data[room:]
        if data:
            self._keep_tail((t, direction, data))

    def _keep_tail(self, chunk: Chunk) -> None:
        self._tail.append(chunk)
        self._tail_bytes += len(chunk[2])
        while self._tail_bytes > TAIL_BYTES:
            t, direction, data = self._tail.popleft()
            excess = self._tail_bytes - TAIL_BYTES
            if excess < len(data):  # keep the end of this chunk
                self._tail.appendleft((t, direction, data[excess:]))
                self._tail_bytes -= excess
                self.dropped += excess
            else:
                self._tail_bytes -= len(data)
                self.dropped += len(data)

    def render(self) -> str:
        """Readable text: one line per chunk, bytes shown as a Python bytes literal."""
        self._flush()
        events = [(t, f"{d} {data!r}") for t, d, data in self._head]
        if self.dropped:
            when = self._tail[0][0] if self._tail else 0.0
            gap = f"# ... {self.dropped} bytes left out (kept: the first {KEEP_BYTES}, the last "
            events.append((when, gap + f"{TAIL_BYTES})"))
        events += [(t, f"{d} {data!r}") for t, d, data in self._tail]
        events += [(t, f"# {text}") for t, text in self.notes]
        events.sort(key=lambda e: e[0])
        head = f"# hilrig transcript: {self.title}\n# seconds  direction  bytes ('>' to board)\n"
        return head + "".join(f"{t:9.4f} {line}\n" for t, line in events)

    def save(self, path: Path) -> Path:
        """Write the transcript to ``path`` (parents created) and return it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render(), encoding="utf-8")
        return path


class RecordingLink:
    """A Link that copies all traffic into the current transcript."""

    def __init__(self, inner: Link) -> None:
        self.inner = inner
        self.label = inner.label
        self.transcript = Transcript(title=inner.label)

    def begin(self, title: str) -> Transcript:
        """Start a new transcript (one per program) and return it."""
        self.transcript = Transcript(title=title)
        return self.transcript

    def write(self, data: bytes) -> None:
        """Record, then write."""
        self.transcript.add(">", data)
        self.inner.write(data)

    def read_some(self, deadline: Deadline) -> bytes:
        """Read, then record."""
        data = self.inner.read_some(deadline)
        self.transcript.add("<", data)
        return data

    def close(self) -> None:
        """Close the wrapped link."""
        self.inner.close()

    def flow_controlled(self) -> None:
        """Tell the wrapped link."""
        self.inner.flow_controlled()

    def caught_up(self) -> None:
        """Tell the wrapped link."""
        self.inner.caught_up()
