"""Board leases: one run (or one xdist worker) per board, across processes, through ``flock``.

Each board of a target has a lock file in a shared folder (``$HILRIG_LOCK_DIR``, else
``$XDG_RUNTIME_DIR/hilrig-locks``, else ``/tmp/hilrig-locks-<uid>``). A run tries the boards in
turn and takes the first free one; when every board is taken it waits, polling, and raises
:class:`~hilrig.errors.LeaseTimeout` naming the holders once its deadline passes. The holder
writes its pid, host, start time and command line into the lock file so a waiting run can say who
it waits for. The kernel drops an ``flock`` when its process dies, so a killed run never leaves a
board locked; the stale holder text is simply overwritten by the next one.

A labgrid target's lease is not a file: it is the acquisition of a place at the coordinator
(:mod:`hilrig.gate.farm_lease`), which every machine sharing the farm sees.

A serial board is locked by what identifies the hardware (its port, probe or USB serial), so two
target files naming the same board still exclude each other. A QEMU or host-VM "board" is a slot
(``<target>-<index>``): the target's ``instances`` bounds how many run at once.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from hilrig.deadline import Deadline
from hilrig.errors import ConfigError, LeaseTimeout
from hilrig.targets.spec import Kind, TargetSpec

if TYPE_CHECKING:
    from hilrig.boards.labgrid_place import HeldPlace

log = logging.getLogger(__name__)

DEFAULT_LOCK_TIMEOUT_S = 300.0
POLL_S = 0.25
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Holder:
    """Who holds a board, as written into its lock file."""

    pid: int
    host: str
    since: str  # local time, ISO 8601
    command: str

    def describe(self) -> str:
        """'pid 123 on host since 2025-01-01T12:00:00 (pytest --target=x)'."""
        return f"pid {self.pid} on {self.host} since {self.since} ({self.command})"


@dataclass(frozen=True)
class Slot:
    """One board of a target as far as locking is concerned."""

    index: int
    key: str  # lock file name without suffix
    label: str  # for messages


class Held(Protocol):
    """A leased board: a lock file here, or an acquired labgrid place."""

    @property
    def index(self) -> int:
        """Which board of the target (for a labgrid target: which fitting place)."""

    @property
    def place(self) -> HeldPlace | None:
        """The labgrid place the lease holds, None for other targets."""

    def release(self) -> None:
        """Give the board back; safe to call twice."""

    def __enter__(self) -> Held: ...

    def __exit__(self, *exc: object) -> None: ...


class Lease:
    """A held board; ``release`` (or leaving the ``with`` block) frees it."""

    place: HeldPlace | None = None

    def __init__(self, target: str, slot: Slot, path: Path, fd: int) -> None:
        self.target = target
        self.slot = slot
        self.path = path
        self._fd: int | None = fd

    @property
    def index(self) -> int:
        """The board's index in the target (``[[boards]]`` order, or QEMU/VM instance)."""
        return self.slot.index

    def release(self) -> None:
        """Unlock and close; safe to call twice."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_dir() -> Path:
    """The shared folder of lock files (see the module docstring)."""
    explicit = os.environ.get("HILRIG_LOCK_DIR")
    if explicit:
        return Path(explicit)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "hilrig-locks"
    return Path("/tmp") / f"hilrig-locks-{os.getuid()}"


def slots(spec: TargetSpec) -> tuple[Slot, ...]:
    """Every board of a target, in order."""
    if spec.kind is Kind.SERIAL:
        return tuple(
            Slot(i, "serial-" + _safe(b.label()), f"board {i} ({b.label()})")
            for i, b in enumerate(spec.boards)
        )
    return tuple(
        Slot(i, f"{_safe(spec.name)}-{i}", f"{spec.name} #{i}") for i in range(spec.board_count())
    )


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_") or "board"


def acquire(
    spec: TargetSpec,
    timeout_s: float,
    *,
    first: int = 0,
    folder: Path | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Held:
    """Lease a free board of ``spec``, trying from board ``first``; wait up to ``timeout_s``."""
    if spec.kind is Kind.LABGRID:
        from hilrig.gate.farm_lease import acquire_place

        return acquire_place(spec, timeout_s, first=first, on_wait=on_wait)
    return acquire_file_lock(spec, timeout_s, first=first, folder=folder, on_wait=on_wait)


def acquire_file_lock(
    spec: TargetSpec,
    timeout_s: float,
    *,
    first: int = 0,
    folder: Path | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Lease:
    """Lock a free board's lock file, trying from board ``first``; wait up to ``timeout_s``."""
    folder = folder if folder is not None else lock_dir()
    _make_folder(folder)
    order = _rotated(slots(spec), first)
    deadline = Deadline.after(timeout_s)
    told = False
    while True:
        for slot in order:
            lease = _try(spec.name, slot, folder)
            if lease is not None:
                log.info("leased %s (%s)", slot.label, lease.path)
                return lease
        if deadline.expired():
            raise LeaseTimeout(_busy_message(spec, order, folder, timeout_s))
        if not told:
            told = True
            message = _waiting_message(spec, order, folder, timeout_s)
            log.warning("%s", message)
            if on_wait is not None:
                on_wait(message)
        time.sleep(min(POLL_S, deadline.remaining()))


def _rotated(all_slots: tuple[Slot, ...], first: int) -> tuple[Slot, ...]:
    if not all_slots:
        return all_slots
    start = first % len(all_slots)
    return all_slots[start:] + all_slots[:start]


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the board lock folder {folder}: {exc.strerror}; "
            f"set HILRIG_LOCK_DIR to a writable folder shared by all runs on this machine."
        ) from exc


def _try(target: str, slot: Slot, folder: Path) -> Lease | None:
    path = folder / f"{slot.key}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot open the board lock file {path}: {exc.strerror}.") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    _write_holder(fd, target, slot)
    return Lease(target, slot, path, fd)


def _write_holder(fd: int, target: str, slot: Slot) -> None:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "command": " ".join(sys.argv)[:300],
        "target": target,
        "board": slot.label,
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)


def read_holder(path: Path) -> Holder | None:
    """Who last took the lock at ``path`` (None if unknown); the lock itself says if it is held."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Holder(int(data["pid"]), str(data["host"]), str(data["since"]), str(data["command"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _holders(order: tuple[Slot, ...], folder: Path) -> str:
    parts = []
    for slot in order:
        holder = read_holder(folder / f"{slot.key}.lock")
        who = holder.describe() if holder is not None else "an unknown process"
        parts.append(f"{slot.label} is held by {who}")
    return "; ".join(parts)


def _waiting_message(spec: TargetSpec, order: tuple[Slot, ...], folder: Path, t: float) -> str:
    return (
        f"waiting up to {t:g} s for a board of target {spec.name}: "
        f"{_holders(order, folder)} (lock files in {folder})"
    )


def _busy_message(spec: TargetSpec, order: tuple[Slot, ...], folder: Path, t: float) -> str:
    return (
        f"no board of target {spec.name} became free within {t:g} s: "
        f"{_holders(order, folder)}. Wait for that run to finish, or raise --hil-lock-timeout "
        f"(lock files in {folder})."
    )
