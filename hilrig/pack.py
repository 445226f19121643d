"""A cache in one file: byte strings stored under string keys, appended to a pack that the
threads and processes of a run (xdist workers) and later runs share.

A cold run stores two things a program (its ``.mpy`` and its reference's result). As a file each,
those were hundreds of file creations a run, and on a filesystem that searches past recently
deleted inodes when it creates one (ext4 without a journal: about 0.4 ms a file soon after many
deletions, against 0.05) that was a tenth of a cold run. A pack is created once.

The format is in docs/caches.md. In short: a 24-byte header, then records, each a marker, the
sha256 of the key, the payload's length, a blake2b digest of all three and the payload, then
the payload. A record is checked (marker, length, digest) when it is indexed, and read whole and
checked again (with its key) every time it is used: a damaged, cut or stale record is a miss, so
the work is done again; it is never another key's bytes.

Appends hold an exclusive ``flock`` on the file, and reading what other processes appended holds
a shared one, so nobody reads half a record. Where indexing meets a record that is not whole (a
writer killed in the middle, a damaged disk), the file is cut back to the last whole record
before it, under the exclusive lock, and appending goes on from there. A pack over
``limit_bytes`` starts over empty when a process first opens it. Where the file cannot be
opened or locked (a read-only folder, a filesystem without locks), the cache is off with one
warning: every lookup misses.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import struct
import threading
import weakref
from pathlib import Path

log = logging.getLogger(__name__)

MAGIC = b"hilrig pack 1\n\0\0"  # a file that does not start so starts over
HEADER_SIZE = len(MAGIC) + 8  # then 8 random bytes, new each time the pack starts over
MARK = b"HPR1"
RECORD = struct.Struct("<4s32sI16s")  # marker, sha256(key), payload length, digest
LIMIT_BYTES = 64 * 1024 * 1024


def record_digest(key: bytes, length: int, payload: bytes) -> bytes:
    """A record's check: BLAKE2b-128 over the key's hash, the length's 4 bytes and the payload."""
    return hashlib.blake2b(key + length.to_bytes(4, "little") + payload, digest_size=16).digest()


def _record_end(data: bytes, at: int) -> int | None:
    """Where the record starting at ``data[at]`` ends, or None where it is not whole: a bad
    marker, a length that runs past the data, or a digest that does not match."""
    if at + RECORD.size > len(data):
        return None
    mark, key, length, check = RECORD.unpack_from(data, at)
    end = at + RECORD.size + length
    if mark != MARK or end > len(data):
        return None
    return end if record_digest(key, length, data[at + RECORD.size : end]) == check else None


class Pack:
    """One pack file; thread-safe, and shared with other processes through flock."""

    def __init__(self, path: Path, limit_bytes: int = LIMIT_BYTES) -> None:
        self.path = path
        self.limit_bytes = limit_bytes
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._off = False  # could not open or lock: every lookup misses
        self._index: dict[bytes, tuple[int, int]] = {}  # sha256(key) -> (record offset, length)
        self._header = b""  # the header the index was built under
        self._end = HEADER_SIZE  # the file is indexed up to here

    def get(self, key: str) -> bytes | None:
        """The payload stored under ``key``, or None."""
        digest = hashlib.sha256(key.encode()).digest()
        with self._lock:
            fd = self._open()
            if fd is None:
                return None
            try:
                where = self._index.get(digest)
                if where is None:
                    self._refresh(fd)
                    where = self._index.get(digest)
                return None if where is None else self._read(fd, digest, *where)
            except OSError as exc:
                log.warning("cannot read the cache %s: %s", self.path, exc.strerror or exc)
                return None

    def put(self, key: str, payload: bytes) -> None:
        """Append ``payload`` under ``key`` (a later record of a key wins over an earlier)."""
        digest = hashlib.sha256(key.encode()).digest()
        length = len(payload)
        record = RECORD.pack(MARK, digest, length, record_digest(digest, length, payload)) + payload
        with self._lock:
            fd = self._open()
            if fd is None:
                return
            try:
                with _Locked(fd, fcntl.LOCK_EX):
                    at = os.fstat(fd).st_size
                    try:
                        _write_all(fd, record)
                    except OSError:
                        os.ftruncate(fd, at)  # no half record (a full disk)
                        raise
            except OSError as exc:
                log.warning("cannot add to the cache %s: %s", self.path, exc.strerror or exc)
                return
            self._index[digest] = (at, length)

    def count(self) -> int:
        """How many keys the pack holds (for tests and reports)."""
        with self._lock:
            fd = self._open()
            if fd is None:
                return 0
            self._refresh(fd)
            found = (self._read(fd, key, *where) for key, where in self._index.items())
            return sum(1 for payload in found if payload is not None)

    def _open(self) -> int | None:
        if self._fd is not None or self._off:
            return self._fd
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            self._turn_off(exc)
            return None
        weakref.finalize(self, os.close, fd)
        try:
            with _Locked(fd, fcntl.LOCK_EX):
                size = os.fstat(fd).st_size
                header = os.pread(fd, HEADER_SIZE, 0)
                if size > self.limit_bytes or len(header) != HEADER_SIZE or header[:16] != MAGIC:
                    os.ftruncate(fd, 0)  # too big, empty, or not a pack of this format
                    header = MAGIC + os.urandom(8)
                    _write_all(fd, header)
        except OSError as exc:
            self._turn_off(exc)
            return None
        self._fd, self._header = fd, header
        return fd

    def _turn_off(self, exc: OSError) -> None:
        log.warning(
            "cache %s is off (%s): programs are compiled and references run again",
            self.path,
            exc.strerror or exc,
        )
        self._off = True

    def _refresh(self, fd: int) -> None:
        """Index what was appended since the last look (by any process)."""
        if os.fstat(fd).st_size == self._end:
            return
        with _Locked(fd, fcntl.LOCK_SH):
            size = os.fstat(fd).st_size
            header = os.pread(fd, HEADER_SIZE, 0)
            if header != self._header or size < self._end:  # started over, or cut back
                self._index.clear()
                self._header, self._end = header, HEADER_SIZE
            data = os.pread(fd, size - self._end, self._end)
        at = self._index_records(data, self._end)
        if at < size:
            self._cut(fd, at)

    def _index_records(self, data: bytes, base: int) -> int:
        """Index the whole records in ``data`` (read from offset ``base``); where they end."""
        at = 0
        while at < len(data):
            end = _record_end(data, at)
            if end is None:
                break
            _, digest, length, _ = RECORD.unpack_from(data, at)
            self._index[digest] = (base + at, length)
            at = end
        self._end = base + at
        return self._end

    def _cut(self, fd: int, at: int) -> None:
        """Cut the file back to ``at``, where a record is not whole (under the exclusive lock,
        and only if it still is not: another process may have cut it and appended since)."""
        with _Locked(fd, fcntl.LOCK_EX):
            size = os.fstat(fd).st_size
            if size <= at or os.pread(fd, HEADER_SIZE, 0) != self._header:
                return
            if _record_end(os.pread(fd, size - at, at), 0) is None:
                log.warning("cache %s: a damaged record at byte %d; cut back there", self.path, at)
                os.ftruncate(fd, at)

    @staticmethod
    def _read(fd: int, digest: bytes, at: int, length: int) -> bytes | None:
        data = os.pread(fd, RECORD.size + length, at)
        if len(data) != RECORD.size + length:
            return None
        mark, key, stored_length, check = RECORD.unpack_from(data)
        payload = data[RECORD.size :]
        if (mark, key, stored_length) != (MARK, digest, length):
            return None  # the file was cut and written again since this was indexed
        return payload if record_digest(key, length, payload) == check else None


class _Locked:
    """``with _Locked(fd, fcntl.LOCK_EX):`` holds a flock for the block."""

    def __init__(self, fd: int, how: int) -> None:
        self.fd, self.how = fd, how

    def __enter__(self) -> None:
        fcntl.flock(self.fd, self.how)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
