"""What a run of one program produced: frozen data and an outcome enum, shared by every step."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path


class Outcome(enum.Enum):
    """How a program run ended."""

    OK = "ok"  # ran to the end, no uncaught exception
    EXCEPTION = "exception"  # ended with an uncaught exception (traceback captured)
    TIMEOUT = "timeout"  # passed its wall-clock deadline and was stopped
    CRASH = "crash"  # the board or VM died, the link broke, or the framing was lost
    SKIP = "skip"  # the program skipped itself (printed only SKIP) or needs what the board lacks
    BROKEN = "broken"  # the board was already out of the run; the program never started

    @property
    def finished(self) -> bool:
        """False when the run did not reach its end: it timed out, crashed or never started."""
        return self not in (Outcome.TIMEOUT, Outcome.CRASH, Outcome.BROKEN)


TOO_LARGE = "program printed SKIP-TOO-LARGE"
_SKIPS = {
    b"SKIP\n": "program printed SKIP",
    b"SKIP-TOO-LARGE\n": f"too large for the target ({TOO_LARGE})",
}


def printed_skip(stdout: bytes) -> str | None:
    """Why the program skipped itself, when its whole output is the line ``SKIP`` or
    ``SKIP-TOO-LARGE`` (run-tests.py's conventions); None otherwise. ``SKIP`` among other output
    is output like any other, as run-tests.py compares it."""
    return _SKIPS.get(stdout.replace(b"\r", b""))


@dataclass(frozen=True)
class RunResult:
    """Output of one run: stdout and the uncaught-exception text, kept apart, as raw bytes."""

    outcome: Outcome
    stdout: bytes = b""
    traceback: bytes = b""  # the uncaught exception as the VM printed it; b"" if none
    duration_s: float = 0.0
    truncated: bool = False  # stdout passed the target's max_output_bytes and was cut there
    detail: str = ""  # one sentence for TIMEOUT / CRASH / SKIP / BROKEN
    transcript: Path | None = None

    def text(self) -> str:
        """stdout decoded for display (undecodable bytes shown as escapes)."""
        return self.stdout.decode("utf-8", errors="backslashreplace")

    def traceback_text(self) -> str:
        """The traceback decoded for display."""
        return self.traceback.decode("utf-8", errors="backslashreplace")
