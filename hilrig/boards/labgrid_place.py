"""A board in a labgrid place: its exported serial port reached through pyserial's
``rfc2217://``, and its power switch for the hard reset.

The place is acquired (leased) by :mod:`hilrig.gate.farm_lease`; this module only uses what the
place holds. An exporter publishes a serial port as ``NetworkSerialPort`` (host, port, speed:
ser2net on the exporter host) and a switchable outlet as ``NetworkPowerPort`` (or the PDUDaemon
and Tasmota kinds), which labgrid's own power drivers switch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hilrig.boards.labgrid_client import FarmResource
from hilrig.deadline import Deadline
from hilrig.errors import LinkError
from hilrig.targets.spec import LabgridSpec
from hilrig.transport.link import Link, SerialLink

log = logging.getLogger(__name__)

SERIAL = "NetworkSerialPort"
# labgrid's power resources hilrig can switch from the client, and the driver for each
POWER_DRIVERS = {
    "NetworkPowerPort": "NetworkPowerDriver",
    "PDUDaemonPort": "PDUDaemonDriver",
    "TasmotaPowerPort": "TasmotaPowerDriver",
}
POWER_OFF_S = 1.0  # how long the outlet stays off in a power cycle


@dataclass(frozen=True)
class HeldPlace:
    """An acquired place and the resources hilrig uses from it."""

    name: str
    serial: FarmResource
    power: FarmResource | None
    resources: tuple[FarmResource, ...]
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def exporter(self) -> str:
        """The exporter of the serial port and the host its ser2net listens on."""
        return f"{self.serial.exporter} ({self.serial.params.get('host', '?')})"

    def serial_url(self) -> str:
        """``rfc2217://host:port`` (``socket://`` for a raw TCP export)."""
        params = self.serial.params
        scheme = "socket" if params.get("protocol") == "raw" else "rfc2217"
        return f"{scheme}://{params['host']}:{params['port']}"


def held_place(
    name: str,
    resources: Sequence[FarmResource],
    spec: LabgridSpec,
    tags: Mapping[str, str] | None = None,
) -> HeldPlace:
    """The serial port (and power switch) of an acquired place; LinkError naming what is missing."""
    serial = _one(name, resources, {SERIAL}, spec.serial, "serial port")
    if serial is None:
        have = ", ".join(r.path for r in resources) or "no resources"
        raise LinkError(
            f"labgrid place {name} has no {SERIAL} hilrig can use ({have}): export the board's "
            f"serial port (RawSerialPort or USBSerialPort on its exporter) and add-match it"
        )
    if not serial.avail or not serial.params.get("port"):
        raise LinkError(
            f"the serial port {serial.path} of labgrid place {name} is not available: is its "
            f"exporter running, and the board's port present on that host?"
        )
    power = _one(name, resources, set(POWER_DRIVERS), spec.power, "power switch")
    return HeldPlace(name, serial, power, tuple(resources), dict(tags or {}))


def _one(
    place: str, resources: Sequence[FarmResource], kinds: set[str], named: str | None, what: str
) -> FarmResource | None:
    found = [r for r in resources if r.cls in kinds and (named is None or r.name == named)]
    if len(found) > 1:
        names = ", ".join(r.name for r in found)
        raise LinkError(
            f"labgrid place {place} has several resources that could be its {what} ({names}): "
            f"name one in the target file ([labgrid] {'serial' if kinds == {SERIAL} else 'power'})"
        )
    return found[0] if found else None


class PowerCycle:
    """A hard reset through the place's power switch, with labgrid's own power driver."""

    def __init__(self, resource: FarmResource) -> None:
        self.resource = resource

    def reset(self, timeout_s: float) -> None:
        """Switch the outlet off and on again; LinkError if it fails or takes too long."""
        failure: list[BaseException] = []
        worker = threading.Thread(target=self._cycle, args=(failure,), daemon=True)
        worker.start()
        worker.join(timeout_s)  # labgrid's power backends have no deadlines of their own
        if worker.is_alive():
            raise LinkError(
                f"power switch {self.resource.path} did not answer within {timeout_s:g} s"
            )
        if failure:
            raise LinkError(f"power switch {self.resource.path} failed: {failure[0]}") from failure[
                0
            ]

    def _cycle(self, failure: list[BaseException]) -> None:
        try:
            from labgrid import Target
            from labgrid.factory import target_factory

            target = Target(f"hilrig-{self.resource.name}")
            args = {k: v for k, v in self.resource.params.items() if k != "extra"}
            target_factory.make_resource(target, self.resource.cls, self.resource.name, args)
            driver = target_factory.make_driver(
                target, POWER_DRIVERS[self.resource.cls], None, {"delay": POWER_OFF_S}
            )
            target.activate(driver)
            driver.cycle()
            target.deactivate(driver)
        except Exception as exc:  # noqa: BLE001 - handed to the caller's thread
            failure.append(exc)


class LabgridConnection:
    """The board in an acquired place, as a :class:`~hilrig.boards.board.Connection`."""

    soft_reset_restarts = False
    lossless_input = False
    fast_input = False

    def __init__(self, target: str, place: HeldPlace, spec: LabgridSpec) -> None:
        self.target = target
        self.place = place
        self.spec = spec
        self.label = f"{target} on labgrid place {place.name}"
        self.link: SerialLink | None = None

    def open(self, deadline: Deadline) -> Link:
        """Open the place's serial port (ser2net on the exporter) over RFC 2217."""
        speed = self.place.serial.params.get("speed") or 115200
        # ser2net allows other clients (labgrid-client console) on the same port; pyserial's
        # exclusive flag means nothing for a network port
        self.link = SerialLink(self.place.serial_url(), int(speed), exclusive=False).open()
        self.link.label = f"{self.label} ({self.place.serial_url()})"
        return self.link

    def restart(self, deadline: Deadline) -> Link:
        """Power-cycle the place's board, then reopen its port."""
        if self.place.power is None:
            raise LinkError(
                f"labgrid place {self.place.name} has no power switch hilrig can use "
                f"({', '.join(POWER_DRIVERS)}), so {self.label} cannot be hard-reset"
            )
        self.close()
        PowerCycle(self.place.power).reset(deadline.remaining())
        return self.open(deadline)

    def interrupt(self, link: Link) -> None:
        """Ctrl-C on the line."""
        link.write(b"\x03")

    def fresh_link_entered(self) -> bool:
        """False: the board gets Ctrl-C and Ctrl-A first."""
        return False

    def close(self) -> None:
        """Close the port; the place stays acquired until its lease is released."""
        if self.link is not None:
            self.link.close()
            self.link = None
