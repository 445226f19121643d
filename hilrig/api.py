"""hilrig's public API for your own code: :func:`connect`, :class:`LeasedBoard` (what the
``board`` fixture gives a test) and :class:`~hilrig.errors.BoardException`.

``connect`` takes a board the same way a pytest run does: it finds the target (the project's
``targets/``, then the built-ins), leases one of its boards (waiting while other runs hold them
all), starts it with the capability probe, and stops and frees it when the ``with`` block ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hilrig.errors import BoardException
from hilrig.gate.lease import DEFAULT_LOCK_TIMEOUT_S
from hilrig.gate.policy import start_leased
from hilrig.run.live import LeasedBoard
from hilrig.run.session import Options
from hilrig.targets.find import find_rootdir
from hilrig.targets.load import load_target

__all__ = ["BoardException", "LeasedBoard", "connect"]


@contextmanager
def connect(
    target: str,
    *,
    rootdir: str | Path | None = None,
    lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
) -> Iterator[LeasedBoard]:
    """Lease and start a board of ``target`` for a script or notebook; released on exit.

    ``rootdir`` is where the project's ``targets/`` folder is (default: the nearest folder at
    or above the current one with a ``targets/`` folder or a ``pyproject.toml``).
    """
    root = Path(rootdir) if rootdir is not None else find_rootdir(Path.cwd())
    spec = load_target(target, root)
    session, lease = start_leased(spec, Options(rootdir=root), lock_timeout_s)
    try:
        board = LeasedBoard(session)
        board.begin(f"hilrig.connect({target!r})")
        yield board
    finally:
        session.close()
        lease.release()
