"""Reading a target file into a :class:`~hilrig.targets.spec.TargetSpec`.

Validation happens here, once, so every later step can trust the spec; each complaint names the
file, the field and the fix.
"""

from __future__ import annotations

import keyword
import math
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hilrig.errors import ConfigError, UnsetVariable
from hilrig.limits import DAY_S, HEAP, TIMEOUT, Limit
from hilrig.targets.find import find_target
from hilrig.targets.spec import (
    BoardSpec,
    CompareSpec,
    EsptoolSpec,
    FlashSpec,
    HostVMSpec,
    Kind,
    LabgridSpec,
    LoadMode,
    PyocdSpec,
    QemuSpec,
    ReplSpec,
    SerialSpec,
    TargetSpec,
    Wiring,
)

# Ranges of the target files' numbers (TOML also spells nan and inf, which must not get through).
_INSTANCES = Limit(1, 256, "copies", whole=True)
_OUTPUT = Limit(1024, 1 << 30, "bytes", whole=True)
_BOOT = Limit(0.5, DAY_S / 24, "seconds")
_SERIAL_BAUD = Limit(300, 12_000_000, "baud", whole=True)
_FLASH_BAUD = Limit(9600, 12_000_000, "baud", whole=True)
_SWD_HZ = Limit(1000, 100_000_000, "Hz", whole=True)
_FLASH_BYTES = Limit(1, 1 << 32, "bytes", whole=True)
_ADDRESS = Limit(0, (1 << 32) - 1, whole=True)
_PAUSE = Limit(0.0, 1.0, "seconds")
_CHUNK = Limit(1, 4096, "bytes", whole=True)
_LEASE = Limit(2.0, DAY_S, "seconds")
# labgrid's own rule for tag names and values (labgrid.remote.common.TAG_KEY / TAG_VAL)
_TAG_KEY = re.compile(r"[a-z][a-z0-9_]+")
_TAG_VALUE = re.compile(r"[a-z0-9_]+")


def load_target(name_or_path: str, rootdir: Path) -> TargetSpec:
    """Find and parse a target file; every problem is a ConfigError naming file and field."""
    path = find_target(name_or_path, rootdir)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"target file {path} is not valid TOML: {exc}.") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read target file {path}: {exc.strerror}.") from exc
    return parse_target(data, path)


def parse_target(data: Mapping[str, Any], path: Path) -> TargetSpec:
    """Build a TargetSpec from parsed TOML, checking every field."""
    t = _Table(data, path, "")
    kind = t.enum("kind", Kind, required=True)
    assert kind is not None
    spec = TargetSpec(
        name=t.text("name") or path.stem,
        path=path,
        kind=kind,
        description=t.text("description") or "",
        timeout_s=t.number("timeout_s", TIMEOUT),
        load=t.enum("load", LoadMode) or LoadMode.AUTO,
        emit=t.choice("emit", ("bytecode", "native", "viper")) or "bytecode",
        arch=t.text("arch"),
        hostvm=_hostvm(t.sub("hostvm"), path) if kind is Kind.HOSTVM else None,
        qemu=_qemu(t.sub("qemu", required=True), path) if kind is Kind.QEMU else None,
        serial=_serial(t.sub("serial")) if kind is Kind.SERIAL else None,
        labgrid=_labgrid(t.sub("labgrid", required=True)) if kind is Kind.LABGRID else None,
        boards=_boards(t, kind),
        instances=t.whole("instances", _INSTANCES) or 1,
        flash=_flash(t.sub("flash")) if "flash" in data else None,
        compare=_compare(t.sub("compare")),
        repl=_repl(t.sub("repl")),
        max_output_bytes=t.whole("max_output_bytes", _OUTPUT) or 1_000_000,
        wiring=_wiring(t.sub("wiring"), path),
    )
    t.reject_unknown()
    return spec


def _hostvm(t: _Table, path: Path) -> HostVMSpec:
    command = t.str_list("command")
    folders = tuple((path.parent / entry).resolve() for entry in t.str_list("path") or ())
    heap = t.whole("heap_bytes", HEAP)
    t.reject_unknown()
    return HostVMSpec(command=tuple(command) if command else None, path=folders, heap_bytes=heap)


def _qemu(t: _Table, path: Path) -> QemuSpec:
    env = t.text("firmware_env") or ""
    firmware = t.text("firmware") or (os.environ.get(env, "") if env else "")
    fw_path = None
    if firmware:
        fw_path = Path(firmware)
        if not fw_path.is_absolute():
            fw_path = (path.parent / fw_path).resolve()
    spec = QemuSpec(
        machine=t.text("machine", required=True) or "",
        firmware=fw_path,
        binary=t.text("binary") or "qemu-system-arm",
        loader=t.choice("loader", ("device", "kernel")) or "device",
        args=tuple(t.str_list("args") or ()),
        boot_timeout_s=t.number("boot_timeout_s", _BOOT) or 15.0,
        install_hint=t.text("install_hint") or "",
        firmware_env=env,
        lossless_input=t.flag("lossless_input", default=False),
    )
    t.reject_unknown()
    return spec


def _serial(t: _Table) -> SerialSpec:
    spec = SerialSpec(
        baud=t.whole("baud", _SERIAL_BAUD) or 115200,
        exclusive=t.flag("exclusive", default=True),
        reenumerates=t.flag("reenumerates", default=False),
    )
    t.reject_unknown()
    return spec


def _labgrid(t: _Table) -> LabgridSpec:
    tags = t.sub("tags")
    pairs = tuple(sorted((key, tags.text(key, required=True) or "") for key in tags.data))
    for key, value in pairs:
        if not _TAG_KEY.fullmatch(key) or not _TAG_VALUE.fullmatch(value):
            raise ConfigError(
                f"{t.path}: tag labgrid.tags.{key} = {value!r} cannot match a labgrid place: "
                f"labgrid tag names are a lower-case letter then letters, digits or _, and "
                f"values are lower-case letters, digits or _."
            )
    spec = LabgridSpec(
        coordinator=t.text("coordinator", required=True) or "",
        place=t.text("place"),
        tags=pairs,
        lease_s=t.number("lease_s", _LEASE) or 60.0,
        serial=t.text("serial"),
        power=t.text("power"),
    )
    t.reject_unknown()
    if spec.place is None and not spec.tags:
        raise ConfigError(
            f'{t.path}: a labgrid target needs place = "NAME" or [labgrid.tags] '
            f'(e.g. board = "microbit") to say which places of {spec.coordinator} it may use.'
        )
    if not spec.coordinator.strip():
        raise ConfigError(f'{t.path}: labgrid.coordinator is empty; use "host:port".')
    return spec


def _boards(t: _Table, kind: Kind) -> tuple[BoardSpec, ...]:
    rows = t.table_list("boards")
    boards = []
    for i, row in enumerate(rows):
        b = _Table(row, t.path, f"boards[{i}].")
        board = BoardSpec(
            port=_expand_port(b.text("port"), b.text("port_hint"), t.path, i),
            usb_serial=b.text("usb_serial"),
            vid_pid=b.text("vid_pid"),
            probe_id=b.text("probe_id"),
            mac=b.text("mac"),
        )
        b.reject_unknown()
        if kind is Kind.SERIAL and not (board.port or board.usb_serial or board.vid_pid):
            raise ConfigError(
                f"{t.path}: boards[{i}] needs a way to find its serial port: set port "
                f'(e.g. "/dev/ttyACM0" or "rfc2217://host:2217"), usb_serial or vid_pid.'
            )
        boards.append(board)
    if kind is Kind.SERIAL and not boards:
        raise ConfigError(
            f"{t.path}: a serial target needs at least one [[boards]] entry with a port, "
            f"usb_serial or vid_pid."
        )
    return tuple(boards)


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand_port(port: str | None, hint: str | None, path: Path, index: int) -> str | None:
    """``${NAME}`` in a port is the environment variable NAME (a simulator's or ser2net's port
    that changes from run to run); an unset one is UnsetVariable, ending with ``port_hint``."""
    if port is None:
        return None

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = os.environ.get(name)
        if not found:
            how = hint if hint else f"set {name} to the board's serial port or pyserial URL"
            raise UnsetVariable(
                f"{path}: boards[{index}].port is {port!r}, but the environment variable {name} "
                f"is not set; {how}.",
                name,
            )
        return found

    return _VARIABLE.sub(value, port)


def _flash(t: _Table) -> FlashSpec:
    tool = t.choice("tool", ("pyocd", "esptool"), required=True) or ""
    pyocd = esptool = None
    if tool == "pyocd":
        pyocd = PyocdSpec(
            target_type=t.text("target_type", required=True) or "",
            frequency_hz=t.whole("frequency_hz", _SWD_HZ) or 4_000_000,
            flash_size=t.whole("flash_size", _FLASH_BYTES),
            base_address=t.whole("base_address", _ADDRESS),
        )
    else:
        offset = t.whole("offset", _ADDRESS, required=True)
        esptool = EsptoolSpec(
            chip=t.text("chip", required=True) or "",
            offset=offset if offset is not None else 0,
            baud=t.whole("baud", _FLASH_BAUD) or 460800,
            flash_size=t.whole("flash_size", _FLASH_BYTES),
            erase=t.flag("erase", default=False),
        )
    t.reject_unknown()
    return FlashSpec(tool=tool, pyocd=pyocd, esptool=esptool)


def _compare(t: _Table) -> CompareSpec:
    spec = CompareSpec(
        floats=t.flag("floats", default=True),
        ints=t.flag("ints", default=True),
        error_messages=t.flag("error_messages", default=True),
        line_endings=t.flag("line_endings", default=True),
        handler_frames=t.flag("handler_frames", default=True),
    )
    t.reject_unknown()
    return spec


def _repl(t: _Table) -> ReplSpec:
    pause = t.number("plain_pause_s", _PAUSE)
    spec = ReplSpec(
        plain_chunk_bytes=t.whole("plain_chunk_bytes", _CHUNK) or 16,
        plain_pause_s=pause if pause is not None else 0.002,
    )
    t.reject_unknown()
    return spec


def _wiring(t: _Table, path: Path) -> Wiring:
    """Names that are Python identifiers, values that are Python literals on every board."""
    values = []
    for name, value in t.data.items():
        t.seen.add(name)
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            raise ConfigError(
                f"{path}: wiring.{name} is not a name a program can import; use a Python "
                f"identifier that does not start with '_' (uart_loopback_args)."
            )
        bad = _not_literal(value)
        if bad is not None:
            raise ConfigError(
                f"{path}: wiring.{name} holds {bad!r}, which a board cannot read back as a "
                f"literal; use strings, whole numbers, finite numbers, true/false, arrays and "
                f"tables."
            )
        values.append((name, value))
    return Wiring(tuple(values))


def _not_literal(value: object) -> object | None:
    """The first part of a TOML value that is no portable Python literal (dates, nan), or None."""
    if isinstance(value, list):
        return next((b for b in map(_not_literal, value) if b is not None), None)
    if isinstance(value, dict):
        return next((b for b in map(_not_literal, value.values()) if b is not None), None)
    if isinstance(value, float) and not math.isfinite(value):
        return value
    return None if isinstance(value, str | int | float | bool) else value


class _Table:
    """A TOML table read field by field; remembers what was read to reject unknown fields."""

    def __init__(self, data: Mapping[str, Any], path: Path, prefix: str) -> None:
        self.data = data
        self.path = path
        self.prefix = prefix
        self.seen: set[str] = set()

    def _get(self, key: str, required: bool) -> Any:
        self.seen.add(key)
        if key not in self.data:
            if required:
                raise ConfigError(f"{self.path}: field {self.prefix}{key} is missing.")
            return None
        return self.data[key]

    def _bad(self, key: str, what: str) -> ConfigError:
        value = self.data[key]
        return ConfigError(f"{self.path}: field {self.prefix}{key} = {value!r} {what}.")

    def text(self, key: str, required: bool = False) -> str | None:
        value = self._get(key, required)
        if value is not None and not isinstance(value, str):
            raise self._bad(key, "must be a string")
        return value

    def choice(self, key: str, options: tuple[str, ...], required: bool = False) -> str | None:
        value = self.text(key, required)
        if value is not None and value not in options:
            raise self._bad(key, "must be one of " + ", ".join(options))
        return value

    def enum(self, key: str, cls: type[Any], required: bool = False) -> Any:
        value = self.choice(key, tuple(m.value for m in cls), required)
        return cls(value) if value is not None else None

    def whole(self, key: str, limit: Limit, required: bool = False) -> int | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(key, "must be a whole number")
        return limit.check_whole(value, f"{self.path}: field {self.prefix}{key}")

    def number(self, key: str, limit: Limit, required: bool = False) -> float | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._bad(key, "must be a number")
        return limit.check(value, f"{self.path}: field {self.prefix}{key}")

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._bad(key, "must be true or false")
        return value

    def str_list(self, key: str) -> list[str] | None:
        value = self._get(key, False)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._bad(key, "must be a list of strings")
        return value

    def table_list(self, key: str) -> list[Mapping[str, Any]]:
        value = self._get(key, False)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self._bad(key, "must be an array of tables ([[boards]])")
        return value

    def sub(self, key: str, required: bool = False) -> _Table:
        value = self._get(key, required)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self._bad(key, "must be a table")
        return _Table(value, self.path, f"{self.prefix}{key}.")

    def reject_unknown(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            raise ConfigError(
                f"{self.path}: unknown field {self.prefix}{unknown[0]}; check its spelling "
                f"(the fields are listed in README.md, 'Target files')."
            )
