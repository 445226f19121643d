"""Reading and rewriting a cache pack's records by its format (docs/caches.md), to damage or
tamper with one the way a disk or a person would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hilrig.pack import HEADER_SIZE, MARK, RECORD, record_digest


def records(path: Path) -> list[tuple[int, bytes]]:
    """Every whole record in the pack at ``path``: (offset, payload)."""
    data = path.read_bytes()
    found, at = [], HEADER_SIZE
    while at + RECORD.size <= len(data):
        mark, _, length, _ = RECORD.unpack_from(data, at)
        assert mark == MARK, f"no record at byte {at}"
        found.append((at, data[at + RECORD.size : at + RECORD.size + length]))
        at += RECORD.size + length
    return found


def rewrite(path: Path, change: Callable[[bytes], bytes]) -> None:
    """Pass every payload through ``change`` and write the records back with their digests."""
    data = path.read_bytes()
    out = bytearray(data[:HEADER_SIZE])
    for at, payload in records(path):
        _, key, _, _ = RECORD.unpack_from(data, at)
        new = change(payload)
        out += RECORD.pack(MARK, key, len(new), record_digest(key, len(new), new)) + new
    path.write_bytes(bytes(out))
