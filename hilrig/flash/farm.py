"""Flashing the board in a labgrid place, through what the place exports.

esptool talks to the chip's ROM over a serial line and resets it with the RTS/DTR lines, all of
which ser2net carries over RFC 2217: a place's ``NetworkSerialPort`` is enough, and the chip and
MAC checks are the same as on a local port. pyOCD needs the debug probe's USB device on the
machine it runs on, which a ``NetworkUSBDebugger`` on an exporter is not; such a place is refused
with a sentence saying where the probe is.
"""

from __future__ import annotations

import re

from hilrig.boards.labgrid_place import HeldPlace
from hilrig.errors import ConfigError
from hilrig.targets.spec import BoardSpec, TargetSpec

PROBE = "NetworkUSBDebugger"
_HEX12 = re.compile(r"[0-9a-f]{12}")


def farm_board(spec: TargetSpec, place: HeldPlace) -> BoardSpec:
    """The place's board as the flashing tools see it; ConfigError naming what it lacks."""
    if spec.flash is None:
        raise ConfigError(
            f"--hil-firmware was given, but target {spec.name} ({spec.path}) has no [flash] "
            f'section; add one (tool = "esptool" flashes through the place\'s serial port) or '
            f"drop --hil-firmware"
        )
    match spec.flash.tool:
        case "esptool":
            return BoardSpec(port=place.serial_url(), mac=_mac(spec, place))
        case _:
            raise ConfigError(_no_probe(spec, place))


def _mac(spec: TargetSpec, place: HeldPlace) -> str | None:
    """The MAC the place's ``mac`` tag names (labgrid tags hold no ':': 12 hex digits)."""
    tag = place.tags.get("mac")
    if tag is None:
        return None
    digits = tag.replace("_", "").lower()
    if not _HEX12.fullmatch(digits):
        raise ConfigError(
            f"labgrid place {place.name} has tag mac={tag}, which is not 12 hex digits "
            f"(e.g. mac=aabbccddeeff); fix it with labgrid-client -p {place.name} set-tags"
        )
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def _no_probe(spec: TargetSpec, place: HeldPlace) -> str:
    probes = [r for r in place.resources if r.cls == PROBE]
    tool = spec.flash.tool if spec.flash is not None else "?"
    if probes:
        where = ", ".join(f"{r.path} on host {r.params.get('host', r.exporter)}" for r in probes)
        return (
            f"cannot flash labgrid place {place.name} with {tool} from here: its debug probe "
            f"({where}) is a USB device on the exporter, and {tool} only reaches probes "
            f"attached to this machine. Flash it on that host (hilrig flash), or use a target "
            f"whose [flash] tool is esptool, which works through the place's serial port."
        )
    return (
        f"cannot flash labgrid place {place.name} with {tool}: the place has no debug probe "
        f"({PROBE}) and {tool} needs one; only esptool flashes through the serial port "
        f"({place.serial.path}) it exports."
    )
