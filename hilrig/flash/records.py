"""Flash records: what hilrig last wrote onto each board, so a run does not reflash needlessly.

A record holds the firmware's sha256 and the identity the board reported after that flash
(``sys.version``, ``sys.implementation._build``, the .mpy ABI and the REPL banner line). A
board is flashed again when there is no record, the file differs, or the board now reports
another identity (somebody flashed it by hand since). Records live in
``$HILRIG_CACHE_DIR/flash/`` (default ``~/.cache/hilrig/flash/``), one JSON file per board,
replaced atomically.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hilrig.capabilities import Capabilities
from hilrig.errors import FlashError
from hilrig.targets.spec import BoardSpec

log = logging.getLogger(__name__)

RECORD_VERSION = 1


@dataclass(frozen=True)
class RunningIdentity:
    """What the running firmware says it is; equal identities mean the same build."""

    sys_version: str
    build: str
    mpy: int | None
    # The banner names the board as well as the build ("... with ESP32"), and is where a build
    # that keeps sys.version (the ESP32 simulator's bridged host VM) says which image it booted.
    banner: str = ""

    @classmethod
    def from_capabilities(cls, caps: Capabilities) -> RunningIdentity:
        """The identity part of a capability probe's answer."""
        return cls(
            sys_version=caps.sys_version or caps.banner,
            build=caps.build,
            mpy=caps.mpy,
            banner=caps.banner,
        )


IdentityFn = Callable[[], RunningIdentity | None]


@dataclass(frozen=True)
class FlashRecord:
    """One board's last successful flash."""

    board_key: str
    firmware_sha256: str
    firmware_path: str
    identity: RunningIdentity | None  # None: nobody asked the board after flashing (hilrig flash)
    target: str = ""
    flashed_at: str = ""  # ISO 8601, UTC


def cache_dir() -> Path:
    """``$HILRIG_CACHE_DIR``, else ``$XDG_CACHE_HOME/hilrig``, else ``~/.cache/hilrig``."""
    explicit = os.environ.get("HILRIG_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "hilrig"


def board_key(board: BoardSpec) -> str:
    """A file-name-safe key for a physical board, from its most specific identifier."""
    for prefix, value in (
        ("probe", board.probe_id),
        ("usb", board.usb_serial),
        ("mac", board.mac),
        ("port", board.port),
        ("vidpid", board.vid_pid),
    ):
        if value:
            return f"{prefix}-" + re.sub(r"[^A-Za-z0-9._-]+", "_", value.lower()).strip("_")
    return "board"


class FlashRecords:
    """The record files in one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def default(cls) -> FlashRecords:
        """Records under :func:`cache_dir`."""
        return cls(cache_dir() / "flash")

    def path_for(self, key: str) -> Path:
        """Where the record of ``key`` lives."""
        return self.directory / f"{key}.json"

    def load(self, key: str) -> FlashRecord | None:
        """The record of a board, or None if there is none or it cannot be read."""
        path = self.path_for(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return _from_json(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable flash record %s: %s", path, exc)
            return None

    def needs_flash(self, key: str, firmware_sha: str, running_identity: IdentityFn) -> bool:
        """True unless the record matches the file and the board still reports that identity.

        ``running_identity`` is called only when the record matches the file, so an up-to-date
        board is asked once and a stale one not at all; None means the board could not say.
        """
        return self.confirmed(key, firmware_sha, running_identity) is None

    def confirmed(
        self, key: str, firmware_sha: str, running_identity: IdentityFn
    ) -> RunningIdentity | None:
        """The recorded identity if the board runs the recorded build of this file, else None."""
        record = self.load(key)
        if record is None or record.firmware_sha256 != firmware_sha or record.identity is None:
            return None
        running = running_identity()
        if running != record.identity:
            log.info(
                "%s: running firmware %s differs from the recorded %s",
                key,
                running,
                record.identity,
            )
            return None
        return record.identity

    def record_flash(self, record: FlashRecord) -> Path:
        """Write a record atomically (temp file + rename in the same directory)."""
        stamped = record if record.flashed_at else _stamped(record)
        path = self.path_for(record.board_key)
        text = json.dumps({"version": RECORD_VERSION, **asdict(stamped)}, indent=2) + "\n"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{record.board_key}.", dir=self.directory)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except OSError as exc:
            raise FlashError(
                f"cannot write the flash record {path} ({exc.strerror}); set HILRIG_CACHE_DIR "
                f"to a writable directory."
            ) from exc
        return path

    def forget(self, key: str) -> None:
        """Remove a board's record, so that a failed flash never leaves a stale one behind."""
        try:
            self.path_for(key).unlink(missing_ok=True)
        except OSError as exc:
            raise FlashError(
                f"cannot remove the flash record {self.path_for(key)} ({exc.strerror}); set "
                f"HILRIG_CACHE_DIR to a writable directory."
            ) from exc


def _stamped(record: FlashRecord) -> FlashRecord:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return FlashRecord(
        record.board_key,
        record.firmware_sha256,
        record.firmware_path,
        record.identity,
        record.target,
        now,
    )


def _from_json(data: Mapping[str, Any]) -> FlashRecord:
    if data.get("version", RECORD_VERSION) != RECORD_VERSION:
        raise ValueError(f"record version {data.get('version')!r} is not {RECORD_VERSION}")
    ident = data["identity"]
    identity = (
        None
        if ident is None
        else RunningIdentity(
            sys_version=str(ident["sys_version"]),
            build=str(ident["build"]),
            mpy=None if ident["mpy"] is None else int(ident["mpy"]),
            banner=str(ident.get("banner", "")),  # records written before the banner was kept
        )
    )
    return FlashRecord(
        board_key=str(data["board_key"]),
        firmware_sha256=str(data["firmware_sha256"]),
        firmware_path=str(data["firmware_path"]),
        identity=identity,
        target=str(data.get("target", "")),
        flashed_at=str(data.get("flashed_at", "")),
    )
