"""The boards a multi-board program needs beyond the run's own, each taken with a lease.

Instance 0 runs on the run's own board; instance ``i`` on a board of the ``i``-th target named
(``--target=a,b``), and past the last target named, on more boards of that last one. The pool
leases and starts them at the first program that needs them and keeps them until the run ends,
so a run holds its extra boards from its first multi-board program on.
"""

from __future__ import annotations

from collections.abc import Sequence

from hilrig.boards.board import Board
from hilrig.gate.lease import Held, acquire
from hilrig.run.connect import make_board
from hilrig.targets.spec import TargetSpec


class BoardPool:
    """Extra leased, started boards for instances 1, 2, …"""

    def __init__(self, specs: Sequence[TargetSpec], lock_timeout_s: float) -> None:
        self.specs = tuple(specs)  # the targets named, in order; specs[0] is the run's own
        self.lock_timeout_s = lock_timeout_s
        self.held: list[tuple[Board, Held]] = []

    def spec_for(self, instance: int) -> TargetSpec:
        """The target instance ``instance`` runs on."""
        return self.specs[min(instance, len(self.specs) - 1)]

    def boards(self, count: int) -> list[Board]:
        """``count`` extra boards (for instances 1 … count), leased and started on first use."""
        while len(self.held) < count:
            spec = self.spec_for(len(self.held) + 1)
            lease = acquire(spec, self.lock_timeout_s)
            board = make_board(spec, lease.index, place=lease.place)
            try:
                board.start()
            except BaseException:
                board.close()
                lease.release()
                raise
            self.held.append((board, lease))
        return [board for board, _ in self.held[:count]]

    def close(self) -> None:
        """Stop every board, then give its lease back."""
        for board, lease in self.held:
            board.close()
            lease.release()
        self.held.clear()
