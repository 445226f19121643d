"""The cache pack: what it stores comes back byte for byte, across threads, processes and
runs; anything damaged, cut or stale is a miss (the work is done again), never other bytes."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from packs import records, rewrite

from hilrig.pack import HEADER_SIZE, RECORD, Pack


def test_a_stored_payload_comes_back_in_this_and_a_later_process(tmp_path: Path) -> None:
    pack = Pack(tmp_path / "c.pack")
    assert pack.get("a") is None
    pack.put("a", b"\x00first\xff")
    pack.put("b", b"")
    assert pack.get("a") == b"\x00first\xff" and pack.get("b") == b""
    later = Pack(tmp_path / "c.pack")  # a new run: reads the file from its start
    assert later.get("a") == b"\x00first\xff" and later.get("b") == b"" and later.count() == 2


def test_the_last_record_of_a_key_wins(tmp_path: Path) -> None:
    pack = Pack(tmp_path / "c.pack")
    pack.put("k", b"old")
    pack.put("k", b"new")
    assert pack.get("k") == b"new" and Pack(tmp_path / "c.pack").get("k") == b"new"


def test_what_another_process_appends_is_found(tmp_path: Path) -> None:
    """xdist workers warm programs for each other: a miss looks at what was appended since."""
    pack = Pack(tmp_path / "c.pack")
    pack.put("mine", b"1")
    assert pack.get("theirs") is None
    _in_another_process(tmp_path / "c.pack", "pack.put('theirs', b'2' * 5000)")
    assert pack.get("theirs") == b"2" * 5000 and pack.get("mine") == b"1"


_WRITER = """
import sys
from pathlib import Path
from hilrig.pack import Pack
pack = Pack(Path(sys.argv[1]))
name = sys.argv[2]
for i in range(300):
    pack.put(f"{name}-{i}", (f"{name}-{i}:" * (i % 50 + 1)).encode())
"""


def test_processes_and_threads_appending_at_once_lose_and_mix_nothing(tmp_path: Path) -> None:
    path = tmp_path / "c.pack"
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), f"p{n}"], env=_env())
        for n in range(3)
    ]
    pack = Pack(path)

    def write(name: str) -> None:
        for i in range(300):
            pack.put(f"{name}-{i}", (f"{name}-{i}:" * (i % 50 + 1)).encode())

    threads = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [proc.wait(60) for proc in procs] == [0, 0, 0]
    fresh = Pack(path)
    for name in ("p0", "p1", "p2", "t0", "t1"):
        for i in range(300):
            expected = (f"{name}-{i}:" * (i % 50 + 1)).encode()
            assert fresh.get(f"{name}-{i}") == expected and pack.get(f"{name}-{i}") == expected
    assert len(records(path)) == 1500


def test_a_damaged_payload_is_a_miss_and_storing_again_mends_it(tmp_path: Path) -> None:
    path = tmp_path / "c.pack"
    Pack(path).put("k", b"the right bytes")
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01  # one bit, as a disk would
    path.write_bytes(bytes(data))
    pack = Pack(path)
    assert pack.get("k") is None
    pack.put("k", b"the right bytes")
    assert pack.get("k") == b"the right bytes" and Pack(path).get("k") == b"the right bytes"


def test_a_record_cut_short_is_cut_off_and_appending_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A writer killed in the middle of a record (or a full disk) leaves half of it."""
    path = tmp_path / "c.pack"
    first = Pack(path)
    first.put("a", b"A" * 100)
    whole = path.stat().st_size
    first.put("b", b"B" * 100)
    os.truncate(path, whole + RECORD.size + 40)
    Pack(path).put("c", b"C" * 10)  # appended after the half record
    pack = Pack(path)
    with caplog.at_level(logging.WARNING):
        assert pack.get("a") == b"A" * 100
        assert pack.get("b") is None and pack.get("c") is None  # after the damage: gone
    assert "damaged record" in caplog.text and path.stat().st_size == whole
    pack.put("c", b"C" * 10)
    assert Pack(path).get("c") == b"C" * 10 and Pack(path).get("a") == b"A" * 100


def test_a_file_of_another_format_or_too_big_starts_over(tmp_path: Path) -> None:
    path = tmp_path / "c.pack"
    path.write_bytes(b'{"outcome": "ok"}')  # not a pack
    pack = Pack(path)
    assert pack.get("k") is None
    pack.put("k", b"v")
    assert Pack(path).get("k") == b"v"
    big = Pack(path, limit_bytes=200)
    big.put("x", b"x" * 300)
    assert Pack(path, limit_bytes=200).get("k") is None  # over the limit: started over
    assert Pack(path).count() == 0


def test_an_index_made_stale_by_starting_over_is_never_read_as_another_key(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.pack"
    old = Pack(path)
    old.put("a", b"a" * 64)
    assert old.get("a") == b"a" * 64
    restart = Pack(path, limit_bytes=10)  # another process starts the pack over
    restart.put("b", b"b" * 64)  # at the offset "a" had
    assert records(path)[0][0] == HEADER_SIZE
    assert old.get("a") is None and old.get("b") == b"b" * 64


def test_tampered_records_with_good_digests_are_what_is_read(tmp_path: Path) -> None:
    """The digest guards against damage, not against a person: the pack holds what it holds."""
    path = tmp_path / "c.pack"
    Pack(path).put("k", b"before")
    rewrite(path, lambda payload: payload.replace(b"before", b"after!"))
    assert Pack(path).get("k") == b"after!"


def test_an_unwritable_folder_turns_the_cache_off_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    pack = Pack(blocked / "c.pack")  # its folder is a file
    with caplog.at_level(logging.WARNING):
        pack.put("k", b"v")
        assert pack.get("k") is None
    assert caplog.text.count("is off") == 1 and str(blocked / "c.pack") in caplog.text


def _env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}


def _in_another_process(path: Path, code: str) -> None:
    opening = "from pathlib import Path\nfrom hilrig.pack import Pack\n"
    script = f"{opening}pack = Pack(Path({str(path)!r}))\n{code}\n"
    subprocess.run([sys.executable, "-c", script], env=_env(), check=True, timeout=60)
