"""A pipeline one program deep: while the board runs program N, program N+1 is compiled and its
reference run (the reference is another process: CPython or a host VM), so that when its turn
comes only the board's part is left. Results are identical and in order: the prefetch only fills
the caches the session reads anyway (compiled ``.mpy`` files, reference results)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from hilrig.run.program import Program

log = logging.getLogger(__name__)


class Prefetcher:
    """One background worker that warms the caches for the next program."""

    def __init__(self, warm: Callable[[Program], None]) -> None:
        self.warm = warm
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hilrig-prefetch")
        self.pending: Future[None] | None = None

    def prefetch(self, program: Program) -> None:
        """Start warming ``program`` unless the one before is still being warmed."""
        if self.pending is not None and not self.pending.done():
            return
        self.pending = self.pool.submit(self._warm, program)

    def _warm(self, program: Program) -> None:
        try:
            self.warm(program)
        except Exception as exc:  # noqa: BLE001 - the program's own turn will meet it again
            log.debug("prefetching %s: %s", program.name, exc)

    def close(self) -> None:
        """Wait for the warm-up under way (it holds the reference) and stop."""
        self.pool.shutdown(wait=True, cancel_futures=True)
