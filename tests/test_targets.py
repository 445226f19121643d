"""Target files: every shipped one loads; bad ones are refused with file, field and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from hilrig.errors import ConfigError, TargetNotFound, UnsetVariable
from hilrig.targets.find import BUILTIN_DIR, find_target, known_targets, target_files
from hilrig.targets.load import load_target
from hilrig.targets.spec import Kind, LoadMode

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", known_targets(ROOT))
def test_every_shipped_target_loads(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HILRIG_ESP32_SIM_URL", "rfc2217://127.0.0.1:2217")  # esp32-sim's port
    spec = load_target(name, ROOT)
    assert spec.name == name
    if spec.kind is Kind.SERIAL:
        assert spec.boards and spec.flash is not None


def test_shipped_targets_are_the_documented_ones() -> None:
    assert {"unix", "microbit-qemu", "stm32", "esp32", "esp32-sim", "esp32s3", "microbit"} <= set(
        known_targets(ROOT)
    )


def test_microbit_qemu_fields() -> None:
    spec = load_target("microbit-qemu", ROOT)
    assert spec.kind is Kind.QEMU and spec.qemu is not None
    assert spec.qemu.machine == "microbit"
    assert spec.qemu.firmware == Path("/usr/share/firmware-microbit-micropython/firmware.hex")
    assert spec.board_count() == 2
    assert spec.load is LoadMode.AUTO
    assert spec.qemu.lossless_input is False  # its firmware drops input: paced


def test_stm32_qemu_input_goes_in_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HILRIG_STM32_QEMU_FIRMWARE", "/fw/firmware.elf")
    spec = load_target("stm32-qemu", ROOT)
    assert spec.qemu is not None and spec.qemu.lossless_input is True


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "targets").mkdir(exist_ok=True)
    path = tmp_path / "targets" / "t.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "field kind is missing"),
        ('kind = "usb"', "kind = 'usb' must be one of hostvm, qemu, serial"),
        ('kind = "hostvm"\ntimeout_s = -1', "timeout_s = -1 is not allowed: use a number"),
        ('kind = "hostvm"\ntimout_s = 3', "unknown field timout_s"),
        ('kind = "qemu"', "field qemu is missing"),
        ('kind = "qemu"\n[qemu]\nfirmware = "x.hex"', "field qemu.machine is missing"),
        ('kind = "serial"', "needs at least one [[boards]]"),
        ('kind = "serial"\n[[boards]]\nmac = "aa"', "boards[0] needs a way to find its serial"),
        ('kind = "hostvm"\n[flash]\ntool = "jtag"', "flash.tool = 'jtag' must be one of"),
        ('kind = "hostvm"\n[flash]\ntool = "esptool"\nchip = "esp32"', "flash.offset is missing"),
        ('kind = "hostvm"\n[compare]\nfloats = "yes"', "compare.floats = 'yes' must be true or"),
        ('kind = "hostvm"\ninstances = 1.5', "instances = 1.5 must be a whole number"),
        (
            'kind = "qemu"\n[qemu]\nmachine = "microbit"\nlossless_input = 1',
            "qemu.lossless_input = 1 must be true or false",
        ),
    ],
)
def test_bad_fields_are_named(tmp_path: Path, text: str, words: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_target("t", tmp_path)
    assert str(path) in str(info.value)
    assert words in str(info.value)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "kind = = 1")
    with pytest.raises(ConfigError, match="is not valid TOML") as info:
        load_target("t", tmp_path)
    assert str(path) in str(info.value)


def test_unknown_name_lists_the_names_and_where_it_looked(tmp_path: Path) -> None:
    write(tmp_path, 'kind = "hostvm"')
    with pytest.raises(TargetNotFound) as info:
        find_target("nope", tmp_path)
    text = str(info.value)
    assert text.startswith("unknown target 'nope': there is no nope.toml in ")
    assert f"{tmp_path / 'targets'} (project targets: t)" in text
    assert f"built-in targets in {BUILTIN_DIR} (esp32, esp32-sim, esp32s3, microbit," in text
    assert "\n" not in text


def test_builtin_targets_are_found_from_any_directory(tmp_path: Path) -> None:
    assert find_target("unix", tmp_path) == BUILTIN_DIR / "unix.toml"
    spec = load_target("microbit-qemu", tmp_path)
    assert spec.path == BUILTIN_DIR / "microbit-qemu.toml" and spec.kind is Kind.QEMU


def test_project_target_wins_over_the_builtin_of_the_same_name(tmp_path: Path) -> None:
    (tmp_path / "targets").mkdir()
    own = tmp_path / "targets" / "unix.toml"
    own.write_text('kind = "hostvm"\ntimeout_s = 3\n')
    spec = load_target("unix", tmp_path)
    assert spec.path == own and spec.timeout_s == 3.0
    files = {(t.name, t.builtin): t for t in target_files(tmp_path)}
    assert files[("unix", False)].path == own
    assert files[("unix", True)].shadowed_by == own
    assert files[("stm32", True)].shadowed_by is None
    assert known_targets(tmp_path).count("unix") == 1


def test_the_repository_keeps_no_second_copy_of_a_builtin() -> None:
    own = {p.name for p in (ROOT / "targets").glob("*.toml")}
    assert own.isdisjoint(p.name for p in BUILTIN_DIR.glob("*.toml"))
    assert (ROOT / "targets").is_dir()


def test_path_and_relative_firmware(tmp_path: Path) -> None:
    path = write(tmp_path, 'kind = "qemu"\n[qemu]\nmachine = "m"\nfirmware = "fw/a.hex"\n')
    spec = load_target(str(path), Path("/elsewhere"))
    assert spec.qemu is not None
    assert spec.qemu.firmware == (tmp_path / "targets" / "fw" / "a.hex").resolve()
    with pytest.raises(TargetNotFound, match="does not exist"):
        load_target(str(tmp_path / "missing.toml"), tmp_path)


def test_serial_boards_and_flash(tmp_path: Path) -> None:
    write(
        tmp_path,
        """
kind = "serial"
[serial]
baud = 921600
[[boards]]
port = "rfc2217://127.0.0.1:2217"
[[boards]]
usb_serial = "0671FF"
vid_pid = "0483:374B"
[flash]
tool = "pyocd"
target_type = "stm32f429zi"
""",
    )
    spec = load_target("t", tmp_path)
    assert spec.serial is not None and spec.serial.baud == 921600
    assert [b.label() for b in spec.boards] == ["rfc2217://127.0.0.1:2217", "0671FF"]
    assert spec.board_count() == 2
    assert spec.flash is not None and spec.flash.pyocd is not None
    assert spec.flash.pyocd.target_type == "stm32f429zi"


def test_a_port_variable_is_read_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path,
        'kind = "serial"\n[[boards]]\nport = "rfc2217://${SIM_HOST}:${SIM_PORT}"\n'
        'port_hint = "start the simulator"\n',
    )
    monkeypatch.setenv("SIM_HOST", "127.0.0.1")
    monkeypatch.setenv("SIM_PORT", "4000")
    assert load_target(str(path), tmp_path).boards[0].port == "rfc2217://127.0.0.1:4000"
    monkeypatch.delenv("SIM_PORT")
    with pytest.raises(UnsetVariable) as unset:
        load_target(str(path), tmp_path)
    assert unset.value.name == "SIM_PORT"
    assert str(unset.value) == (
        f"{path}: boards[0].port is 'rfc2217://${{SIM_HOST}}:${{SIM_PORT}}', but the environment "
        "variable SIM_PORT is not set; start the simulator."
    )


def test_the_simulated_esp32_says_how_to_get_its_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HILRIG_ESP32_SIM_URL", raising=False)
    with pytest.raises(UnsetVariable, match=r"HILRIG_ESP32_SIM_URL is not set; start `hilrig sim"):
        load_target("esp32-sim", ROOT)
