"""``hilrig init``'s files: what a new project (or a firmware repository) needs to start testing.

A pyproject.toml section naming the suites folder, one example program, a commented target file
for a board on a serial port, and a GitHub workflow running the programs on the host VM and on an
emulated micro:bit. Every file is checked before any is written, so a refusal leaves the folder as
it was; nothing that exists is overwritten or edited, except that a pyproject.toml without pytest
settings gets the section appended.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from hilrig import __version__
from hilrig.errors import ConfigError

SUITES = "tests/hil"
EXAMPLE_TARGET = "myboard"

PYTEST_SECTION = f"""\
[tool.pytest.ini_options]
# hilrig: the MicroPython test programs; run them with pytest --target=NAME ({SUITES} or a file)
hilrig_suites = "{SUITES}"
"""

EXAMPLE_PROGRAM = """\
# A hilrig test program: plain MicroPython that prints what it computes. hilrig runs it on the
# target and on the host MicroPython VM and compares the output and any uncaught traceback.
# A NAME.py.exp file beside a program holds its expected output instead of a reference run.
print("hello")
squares = [n * n for n in range(10)]
print(sum(squares), squares[-1])
print(7 / 2, 7 // 2, -7 % 3)
print({"b": 2, "a": 1}["a"], sorted("hilrig"))
"""

EXAMPLE_TARGET_FILE = """\
# A MicroPython board on a serial port: pytest --target=myboard
# `hilrig list` shows the attached ports and debug probes, `hilrig targets` whether this target
# is usable here; every field is described in hilrig's README under "Target files".
kind = "serial"
description = "My MicroPython board"
timeout_s = 10

[serial]
baud = 115200

[[boards]]
port = "/dev/ttyACM0"  # or "rfc2217://host:2217"; or usb_serial and/or vid_pid = "F055:9802"

# To flash with pytest --hil-firmware FILE (or hilrig flash --target myboard FILE), add one of:
#
# [flash]                 # an ST-Link, DAPLink or CMSIS-DAP probe
# tool = "pyocd"
# target_type = "stm32f429xi"   # pyocd list --targets
# flash_size = 2097152
# (and probe_id = "..." in [[boards]], the ID `hilrig list` shows)
#
# [flash]                 # an ESP32 through its serial port
# tool = "esptool"
# chip = "esp32"
# offset = 0x1000
"""

WORKFLOW = f"""\
# hilrig: run the MicroPython test programs in {SUITES} on the host MicroPython VM and on an
# emulated BBC micro:bit (QEMU). For real boards, add a job on a self-hosted runner that has them
# attached: pytest --target={EXAMPLE_TARGET} --hil-firmware=FIRMWARE_FILE
name: hilrig

on:
  push:
  pull_request:
  workflow_dispatch:

permissions:
  contents: read

jobs:
  emulated:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: QEMU and the micro:bit firmware
        run: |
          sudo apt-get update -qq
          sudo apt-get install -y --no-install-recommends \\
            qemu-system-arm firmware-microbit-micropython
      - name: Install hilrig
        # or a wheel file, or "hilrig @ git+https://..." for an unreleased version
        run: python -m pip install "hilrig~={__version__}"
      - name: Programs on the host VM
        run: python -m pytest --target=unix {SUITES} --junitxml=results/unix.xml
      - name: Programs on the QEMU micro:bit
        run: python -m pytest --target=microbit-qemu {SUITES} --junitxml=results/microbit-qemu.xml
      - name: Summary
        if: always()
        run: |
          if ls results/*.xml >/dev/null 2>&1; then
            hilrig report results/*.xml --output "$GITHUB_STEP_SUMMARY" --append
          fi
"""


@dataclass(frozen=True)
class Planned:
    """A file ``hilrig init`` writes, or appends to when ``append``."""

    path: Path
    text: str
    append: bool = False


def plan_project(folder: Path) -> list[Planned]:
    """The files for ``folder``; ConfigError naming the file when anything is in the way."""
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} is a file, not a folder; give hilrig init a folder.")
    for ini in (folder / "pytest.ini", folder / ".pytest.ini"):
        if ini.exists():
            raise ConfigError(
                f"{ini} holds this project's pytest settings, so a pyproject.toml section would be "
                f'ignored; hilrig init changes nothing: add hilrig_suites = "{SUITES}" to {ini}.'
            )
    plan = [
        _pyproject(folder / "pyproject.toml"),
        Planned(folder / SUITES / "hello.py", EXAMPLE_PROGRAM),
        Planned(folder / "targets" / f"{EXAMPLE_TARGET}.toml", EXAMPLE_TARGET_FILE),
        Planned(folder / ".github" / "workflows" / "hilrig.yml", WORKFLOW),
    ]
    for item in plan:
        if not item.append and (item.path.exists() or item.path.is_symlink()):
            raise ConfigError(
                f"{item.path} already exists; hilrig init overwrites nothing, so it wrote no "
                f"file. Move {item.path.name} away, or add the hilrig parts by hand."
            )
    return plan


def _pyproject(path: Path) -> Planned:
    if not path.exists():
        return Planned(path, PYTEST_SECTION)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path} ({exc}); hilrig init wrote no file.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); hilrig init wrote no file.") from exc
    tool = data.get("tool", {})
    if isinstance(tool, dict) and "pytest" in tool:
        raise ConfigError(
            f"{path} already has a [tool.pytest] section; hilrig init edits no existing section, "
            f'so it wrote no file: add hilrig_suites = "{SUITES}" to that section yourself.'
        )
    separator = "\n" if text.endswith("\n") or not text else "\n\n"
    return Planned(path, separator + PYTEST_SECTION if text else PYTEST_SECTION, append=True)


def write_project(plan: list[Planned]) -> None:
    """Write (or append) every planned file, creating folders as needed."""
    for item in plan:
        try:
            item.path.parent.mkdir(parents=True, exist_ok=True)
            # "x" refuses a file that appeared since the plan was made
            with item.path.open("a" if item.append else "x", encoding="utf-8") as out:
                out.write(item.text)
        except OSError as exc:
            raise ConfigError(f"cannot write {item.path}: {exc.strerror or exc}.") from exc
