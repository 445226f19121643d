"""Which reference judges a program, and running it: ``--hil-reference`` (``auto``: CPython for
MicroPython's own tests, as run-tests.py does, unless the program needs MicroPython; the host VM
for everything else), each kind started on first use, or one pinned for every program (a bundle's
recorded run). The session's thread and the prefetch threads share them: a reference runs one
program at a time unless it says it may run more at once (CPython: each program is its own
process).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable

from hilrig.results import RunResult
from hilrig.run.program import Program
from hilrig.run.reference import Reference

log = logging.getLogger(__name__)

_MICROPYTHON_ONLY = re.compile(
    rb"^\s*(?:import micropython|from micropython import)|\bconst\(|@micropython\.", re.MULTILINE
)


def micropython_only(source: bytes) -> bool:
    """The program uses what CPython lacks: ``const``, the ``micropython`` module, native code."""
    return bool(_MICROPYTHON_ONLY.search(source))


class References:
    """The run's references by kind; ``make`` starts one of a kind (None: that kind has none)."""

    def __init__(self, choice: str, make: Callable[[str], Reference | None]) -> None:
        self.choice = choice  # --hil-reference
        self.make = make
        self.started: dict[str, Reference | None] = {}
        self.pinned: Reference | None = None  # one reference for every program (repro)
        self.lock = threading.Lock()

    def main(self) -> Reference | None:
        """The reference the run is named by (the host VM under ``auto``), started now."""
        return self._kind("host" if self.choice == "auto" else self.choice)

    def pick(self, program: Program) -> tuple[str, Reference | None]:
        """The kind of reference that judges ``program``, and that reference."""
        if self.pinned is not None:
            return self.choice, self.pinned
        kind = self.choice
        if kind == "auto":
            official = program.tree is not None and not micropython_only(program.source)
            kind = "cpython" if official else "host"
        return kind, self._kind(kind)

    def _kind(self, kind: str) -> Reference | None:
        with self.lock:
            if kind not in self.started:
                self.started[kind] = self.make(kind)
            return self.started[kind]

    def run(self, reference: Reference, program: Program, timeout_s: float) -> RunResult:
        """``reference``'s run of ``program``."""
        concurrent = getattr(reference, "concurrent", False)
        with contextlib.nullcontext() if concurrent else self.lock:
            return reference.run(program, timeout_s)

    def close(self) -> None:
        """Stop every reference started; never raises."""
        for reference in self.started.values():
            if reference is not None:
                try:
                    reference.close()
                except Exception as exc:  # noqa: BLE001 - shutting down must finish
                    log.warning("closing %s: %s", reference.label, exc)
