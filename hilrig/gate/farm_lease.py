"""Leases on a labgrid board farm: the place acquisition *is* the lease.

A run (or each xdist worker) connects to the target's coordinator, looks at every place that fits
the target (its name, or all of its tags), and acquires the first free one, starting from its
worker number so that workers spread over the places. When none is free it waits, polling, says
once who holds them, and raises :class:`~hilrig.errors.LeaseTimeout` after ``--hil-lock-timeout``.

labgrid keeps a place acquired until someone releases it, even when its holder is gone. So that a
run killed hard (SIGKILL, a cancelled CI job) cannot hold a place for ever, a hilrig holder keeps
a lease tag on the place, ``hilrig_lease = <until>_<holder>``, renewed every quarter of
``lease_s``. Another hilrig run takes a place back from a hilrig holder (and only from one: a
place a person acquired is never touched) when

* the holder ran on this host and its process has ended, or
* its lease tag expired (``until`` passed), or it has none and acquired more than ``lease_s`` ago.

Taking back is labgrid's ``release --from HOLDER``: it does nothing if the place changed hands
meanwhile. Hosts sharing a farm need clocks that agree to well within ``lease_s``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping

from hilrig.boards.labgrid_agent import FarmAgent
from hilrig.boards.labgrid_client import LEASE_TAG, PlaceState, parse_holder, tag_safe
from hilrig.boards.labgrid_place import HeldPlace, held_place
from hilrig.deadline import Deadline
from hilrig.errors import ConfigError, HilrigError, LeaseTimeout, LinkError
from hilrig.targets.spec import LabgridSpec, TargetSpec

log = logging.getLogger(__name__)

POLL_S = 0.5
SERIAL_WAIT_S = 10.0  # from acquiring a place to its exporter publishing ser2net's port


class PlaceLease:
    """An acquired place; ``release`` (or leaving the ``with`` block) gives it back."""

    def __init__(self, client: FarmAgent, place: HeldPlace, index: int) -> None:
        self.client = client
        self.place = place
        self.index = index
        self.released = False

    def release(self) -> None:
        """Release the place and leave the coordinator; safe to call twice, never raises."""
        if self.released:
            return
        self.released = True
        try:
            self.client.set_tags(self.place.name, {LEASE_TAG: ""})
            self.client.release(self.place.name, from_user=self.client.name)
            log.info("released labgrid place %s", self.place.name)
        except HilrigError as exc:  # its lease tag runs out; the next run takes the place back
            log.warning("releasing labgrid place %s: %s", self.place.name, exc)
        finally:
            self.client.close()

    def __enter__(self) -> PlaceLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def fits(place: PlaceState, spec: LabgridSpec) -> bool:
    """The place has the target's name, or every one of its tags."""
    if spec.place is not None and place.name != spec.place:
        return False
    return all(place.tags.get(key) == value for key, value in spec.tags)


def stale(place: PlaceState, now: float, host: str, lease_s: float) -> str | None:
    """Why the place's hilrig holder has lost it, or None (free, alive, or not hilrig's)."""
    holder = parse_holder(place.acquired)
    if holder is None or place.acquired is None:
        return None
    if holder.host == host and not _alive(holder.pid):
        return f"its process {holder.pid} on this host has ended"
    until, _, who = place.tags.get(LEASE_TAG, "").partition("_")
    if until.isdigit() and who == tag_safe(place.acquired):
        if int(until) < now:
            return f"its lease ran out at {_clock(int(until))} without renewal"
        return None
    if now - place.changed > lease_s:
        return f"it has no lease tag and acquired the place over {lease_s:g} s ago"
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(epoch))


def acquire_place(
    spec: TargetSpec,
    timeout_s: float,
    *,
    first: int = 0,
    on_wait: Callable[[str], None] | None = None,
) -> PlaceLease:
    """Acquire a fitting place of the target's coordinator; wait up to ``timeout_s``."""
    lab = spec.labgrid
    assert lab is not None
    client = FarmAgent(lab.coordinator).open()
    try:
        return _acquire(client, spec, lab, Deadline.after(timeout_s), first, on_wait)
    except BaseException:
        client.close()
        raise


def _acquire(
    client: FarmAgent,
    spec: TargetSpec,
    lab: LabgridSpec,
    deadline: Deadline,
    first: int,
    on_wait: Callable[[str], None] | None,
) -> PlaceLease:
    told = False
    while True:
        places = client.places()
        names = _fitting(places, spec, lab)
        start = first % len(names)
        for index, name in [(i, names[i]) for i in range(start, len(names))] + [
            (i, names[i]) for i in range(start)
        ]:
            lease = _try(client, places[name], lab, index, on_wait)
            if lease is not None:
                return lease
        if deadline.expired():
            raise LeaseTimeout(_busy(spec, lab, client.places(), names, deadline.budget_s))
        if not told:
            told = True
            message = _waiting(spec, lab, places, names, deadline.budget_s)
            log.warning("%s", message)
            if on_wait is not None:
                on_wait(message)
        time.sleep(min(POLL_S, deadline.remaining()))


def _fitting(places: Mapping[str, PlaceState], spec: TargetSpec, lab: LabgridSpec) -> list[str]:
    names = sorted(name for name, place in places.items() if fits(place, lab))
    if not names:
        known = ", ".join(sorted(places)) or "none"
        raise ConfigError(
            f"no place of the labgrid coordinator {lab.coordinator} fits target {spec.name} "
            f"({spec.path}: {lab.wanted()}); its places: {known}. Fix the target file, or "
            f"tag a place: labgrid-client -p PLACE set-tags KEY=VALUE"
        )
    return names


def _try(
    client: FarmAgent,
    place: PlaceState,
    lab: LabgridSpec,
    index: int,
    on_wait: Callable[[str], None] | None,
) -> PlaceLease | None:
    why = stale(place, time.time(), client.host, lab.lease_s)
    if why is not None:
        note = f"taking labgrid place {place.name} back from {place.acquired}: {why}"
        log.warning("%s", note)
        if on_wait is not None:
            on_wait(note)
        client.release(place.name, from_user=place.acquired)
    elif place.acquired is not None or place.reservation is not None:
        return None
    if client.acquire(place.name) is not None:
        return None  # another client was quicker, or a resource is held elsewhere
    try:
        client.keep_alive(place.name, lab.lease_s)
        held = _held(client, place, lab)
    except BaseException:
        client.set_tags(place.name, {LEASE_TAG: ""})
        client.release(place.name, from_user=client.name)
        raise
    log.info("acquired labgrid place %s as %s", place.name, client.name)
    return PlaceLease(client, held, index)


def _held(client: FarmAgent, place: PlaceState, lab: LabgridSpec) -> HeldPlace:
    """The acquired place's resources; an exporter starts ser2net for the serial port once the
    place is acquired, so its port number may take a moment to be published."""
    deadline = Deadline.after(SERIAL_WAIT_S)
    while True:
        try:
            return held_place(place.name, client.resources(place.name), lab, place.tags)
        except LinkError:
            if deadline.expired():
                raise
        time.sleep(0.1)


def _holders(places: Mapping[str, PlaceState], names: list[str]) -> str:
    parts = []
    for name in names:
        place = places.get(name)
        if place is None:
            parts.append(f"{name} was deleted")
        elif place.acquired is not None:
            parts.append(f"{name} is acquired by {place.acquired}{_since(place)}")
        elif place.reservation is not None:
            parts.append(f"{name} is reserved for another client (token {place.reservation})")
        else:
            parts.append(f"{name} is free")
    return "; ".join(parts)


def _since(place: PlaceState) -> str:
    until = place.tags.get(LEASE_TAG, "").partition("_")[0]
    if parse_holder(place.acquired) is None:
        changed = _clock(place.changed)
        return f" (not a hilrig run, so hilrig never takes it back; changed {changed})"
    if until.isdigit():
        return f" (a hilrig run, lease renewed until {_clock(int(until))})"
    return f" (a hilrig run, changed {_clock(place.changed)})"


def _waiting(
    spec: TargetSpec, lab: LabgridSpec, places: Mapping[str, PlaceState], names: list[str], t: float
) -> str:
    return (
        f"waiting up to {t:g} s for {lab.wanted()} of labgrid coordinator {lab.coordinator} "
        f"(target {spec.name}): {_holders(places, names)}"
    )


def _busy(
    spec: TargetSpec, lab: LabgridSpec, places: Mapping[str, PlaceState], names: list[str], t: float
) -> str:
    return (
        f"no labgrid place for target {spec.name} ({lab.wanted()} of {lab.coordinator}) became "
        f"free within {t:g} s: {_holders(places, names)}. Wait for its holder to release it "
        f"(labgrid-client who), or raise --hil-lock-timeout."
    )
