"""Transcripts: every byte to and from a board, timestamped, kept per program.

A :class:`RecordingLink` wraps any Link and appends what passes through to the current
:class:`Transcript`. The runner starts a fresh transcript for each program; the plugin writes it
to disk for failures (and for passes with ``--hil-keep-transcripts``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from hilrig.deadline import Deadline
from hilrig.link import Link


@dataclass
class Transcript:
    """Timestamped chunks: ``(seconds since start, ">" host-to-board | "<" board-to-host, bytes)``."""

    title: str = ""
    started: float = field(default_factory=time.monotonic)
    chunks: list[tuple[float, str, bytes]] = field(default_factory=list)
    notes: list[tuple[float, str]] = field(default_factory=list)

    def add(self, direction: str, data: bytes) -> None:
        """Record bytes travelling in ``direction``."""
        self.chunks.append((time.monotonic() - self.started, direction, data))

    def note(self, text: str) -> None:
        """Record what hilrig decided (recovery steps, timeouts) between the bytes."""
        self.notes.append((time.monotonic() - self.started, text))

    def render(self) -> str:
        """Readable text: one line per chunk, bytes shown as a Python bytes literal."""
        events: list[tuple[float, str]] = [
            (t, f"{d} {data!r}") for t, d, data in self.chunks
        ]
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
