"""``hilrig targets`` and the availability checks behind it: sources, shadowing, verdicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hilrig.cli import main
from hilrig.cli.availability import Finding, Status, Surroundings, check_target
from hilrig.flash.pyocd_backend import ProbeInfo
from hilrig.targets.find import BUILTIN_DIR
from hilrig.targets.load import load_target

REPO = Path(__file__).resolve().parents[1]
SERIAL = 'kind = "serial"\n[flash]\ntool = "pyocd"\ntarget_type = "nrf51"\n[[boards]]\n'


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with its own targets: one shadowing a built-in, one broken, one missing its VM."""
    (tmp_path / "pyproject.toml").write_text("")
    targets = tmp_path / "targets"
    targets.mkdir()
    (targets / "unix.toml").write_text('kind = "hostvm"\ntimeout_s = 3\n')
    (targets / "broken.toml").write_text('kind = "hostvm"\ntimout_s = 3\n')
    (targets / "novm.toml").write_text('kind = "hostvm"\n[hostvm]\ncommand = ["no-such-vm-x"]\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, list[dict[str, Any]]]:
    assert main(["targets", "--json", *args]) == 0
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in json.loads(capsys.readouterr().out):
        rows.setdefault(row["name"], []).append(row)
    return rows


def test_lists_project_targets_then_builtins_with_their_sources(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = run_json(capsys)
    assert {"unix", "microbit-qemu", "stm32", "esp32", "esp32s3", "microbit"} <= set(rows)
    own, builtin = rows["unix"]
    assert own["source"] == "targets/unix.toml" and own["status"] == "usable"
    assert builtin["source"] == "built-in" and builtin["status"] == "shadowed"
    assert builtin["findings"] == [f"{project / 'targets' / 'unix.toml'} is used instead"]
    assert rows["stm32"][0]["path"] == str(BUILTIN_DIR / "stm32.toml")


def test_a_broken_file_or_missing_vm_is_a_sentence_not_a_traceback(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = run_json(capsys)
    broken = rows["broken"][0]
    assert broken["status"] == "invalid"
    assert broken["findings"] == [
        f"{project / 'targets' / 'broken.toml'}: unknown field timout_s; check its spelling "
        "(the fields are listed in README.md, 'Target files')."
    ]
    assert rows["novm"][0]["status"] == "missing"
    assert rows["novm"][0]["findings"] == ["host VM command no-such-vm-x is not on PATH"]


def test_text_output_has_a_line_per_target_and_its_findings(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["targets"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"Targets in {project / 'targets'}, then built into hilrig ({BUILTIN_DIR}):")
    novm = out.index(next(line for line in out if line.split()[:1] == ["novm"]))
    assert out[novm].split() == ["novm", "missing", "hostvm", "targets/novm.toml"]
    assert out[novm + 1].strip() == "- host VM command no-such-vm-x is not on PATH"


def test_microbit_qemu_is_usable_when_qemu_and_firmware_are_installed(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = load_target("microbit-qemu", project)
    assert spec.qemu is not None
    found = check_target(spec, Surroundings(ports=[]))
    firmware = spec.qemu.firmware
    installed = Path("/usr/bin/qemu-system-arm").exists()
    if installed and firmware is not None and firmware.is_file():
        assert found.status is Status.OK
        assert str(spec.qemu.firmware) in found.findings[0].text
    else:
        assert found.status is Status.MISSING
        assert "apt-get install" in found.findings[0].text
    missing = check_target(spec, Surroundings(ports=[], firmware=project / "none.hex"))
    assert missing.findings[0].text == f"firmware file {project / 'none.hex'} does not exist"


def test_serial_ports_by_path_url_and_usb_id(tmp_path: Path, pty_port: str) -> None:
    text = SERIAL + f'port = "{pty_port}"\n[[boards]]\nport = "rfc2217://localhost:2217"\n'
    text += '[[boards]]\nvid_pid = "0D28:0204"\n'
    spec = load_target(_write(tmp_path, text), tmp_path)
    found = check_target(spec, Surroundings(ports=[])).findings
    assert found[0] == Finding(Status.OK, f"board 0 ({pty_port}): serial port present")
    assert found[1].status is Status.UNCHECKED and "network port" in found[1].text
    assert found[2] == Finding(
        Status.MISSING, "board 2 (0D28:0204): no serial port with USB ID 0D28:0204 attached"
    )


def test_debug_probes_are_checked_only_when_listed(tmp_path: Path, pty_port: str) -> None:
    text = SERIAL + f'port = "{pty_port}"\nprobe_id = "AB12"\n'
    spec = load_target(_write(tmp_path, text), tmp_path)
    unlisted = check_target(spec, Surroundings(ports=[]))
    assert unlisted.status is Status.UNCHECKED
    assert unlisted.findings[-1].text.endswith("debug probes not listed (add --probes)")
    other = check_target(spec, Surroundings(ports=[], probes=[ProbeInfo("CD34", "DAPLink")]))
    assert other.status is Status.MISSING
    assert other.findings[-1].text.endswith("debug probe AB12 is not attached (attached: CD34)")
    mine = check_target(spec, Surroundings(ports=[], probes=[ProbeInfo("ab12", "DAPLink")]))
    assert mine.status is Status.OK


def test_listing_targets_imports_no_flashing_tool(project: Path) -> None:
    code = (
        "import sys\nfrom hilrig.cli import main\nmain(['targets'])\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'pyocd', 'esptool', 'esp_pylib'}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=project, check=True
    )
    assert result.stdout.splitlines()[-1] == "[]"
    assert "microbit-qemu" in result.stdout


def _write(folder: Path, text: str) -> str:
    path = folder / "board.toml"
    path.write_text(text)
    return str(path)


def test_the_simulated_esp32_is_missing_until_its_url_is_set(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HILRIG_ESP32_SIM_URL", raising=False)
    sim = run_json(capsys)["esp32-sim"][0]
    assert sim["status"] == "missing"
    assert "HILRIG_ESP32_SIM_URL is not set; start `hilrig sim esp32`" in sim["findings"][0]
    monkeypatch.setenv("HILRIG_ESP32_SIM_URL", "rfc2217://127.0.0.1:2217")
    sim = run_json(capsys)["esp32-sim"][0]
    assert sim["status"] == "not checked" and sim["kind"] == "serial"
