"""A connection to a labgrid coordinator: the places it knows, and acquiring and releasing them.

labgrid's client (``labgrid.remote.client.ClientSession``) is asyncio code over a gRPC stream; it
runs on an event loop in a thread of its own, so every blocking call gets a deadline
(``Future.result(timeout)``) and the lease renewal goes on while programs run. It runs inside
hilrig's labgrid agent process (:mod:`hilrig.boards.labgrid_agent`), never in the pytest process:
gRPC's busy threads do not survive the fork() that starts each host VM and QEMU (measured: a
segmentation fault in an xdist worker).

The coordinator records the acquirer of a place as ``host/user``; hilrig's runs call themselves
``host/user-hilrig-PID`` (:func:`holder_name`), so a place a hilrig run holds can be told from one
a person holds, and a run on the same host can see whether that process still lives.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import getpass
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from hilrig.errors import LinkError, LinkTimeout, ToolMissing

log = logging.getLogger(__name__)

INSTALL = "pip install 'hilrig[labgrid]'"
CALL_TIMEOUT_S = 10.0  # one request to the coordinator
LEASE_TAG = "hilrig_lease"  # "<until>_<holder>" on a place a hilrig run holds
_UNSAFE = re.compile(r"[^a-z0-9]+")
_HOLDER = re.compile(r"(?P<host>[^/]+)/(?P<user>.+)-hilrig-(?P<pid>\d+)")
T = TypeVar("T")


@dataclass(frozen=True)
class FarmResource:
    """One resource an exporter offers: ``NetworkSerialPort``, ``NetworkPowerPort``, ..."""

    exporter: str
    group: str
    cls: str
    name: str
    params: Mapping[str, Any]
    avail: bool

    @property
    def path(self) -> str:
        """'exporter/group/cls/name', as labgrid-client prints it."""
        return f"{self.exporter}/{self.group}/{self.cls}/{self.name}"


@dataclass(frozen=True)
class PlaceState:
    """What the coordinator says about a place right now."""

    name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    acquired: str | None = None  # "host/user" of the holder
    reservation: str | None = None  # token of the reservation it is allocated to
    changed: float = 0.0  # coordinator time of the last change (acquire, release, tags)


@dataclass(frozen=True)
class Holder:
    """A hilrig run holding a place, read from its name (see :func:`holder_name`)."""

    host: str
    user: str
    pid: int


def holder_name(host: str, user: str, pid: int) -> str:
    """The name a hilrig run gives the coordinator: ``host/user-hilrig-PID``."""
    return f"{host}/{user}-hilrig-{pid}"


def parse_holder(acquired: str | None) -> Holder | None:
    """The hilrig run behind an acquirer's name, or None (a person, another tool)."""
    match = _HOLDER.fullmatch(acquired or "")
    if match is None:
        return None
    return Holder(match["host"], match["user"], int(match["pid"]))


def this_host() -> str:
    """The host name labgrid uses (``LG_HOSTNAME`` overrides it, as for labgrid-client)."""
    return os.environ.get("LG_HOSTNAME") or socket.gethostname()


def this_user() -> str:
    """The user name labgrid uses (``LG_USERNAME`` overrides it)."""
    return os.environ.get("LG_USERNAME") or getpass.getuser()


def import_labgrid() -> Any:
    """labgrid's client module, or ToolMissing with the install line."""
    try:
        from labgrid.remote import client
    except ImportError as exc:
        raise ToolMissing(
            f"labgrid targets need labgrid, which is not installed here ({exc}). "
            f"Install it with: {INSTALL}"
        ) from exc
    return client


class FarmClient:
    """One session with a coordinator; ``open`` connects, ``close`` leaves (never raises)."""

    def __init__(self, address: str, pid: int | None = None) -> None:
        self.address = address
        self.host = this_host()
        self.user = this_user()
        self.pid = pid if pid is not None else os.getpid()
        self.name = holder_name(self.host, self.user, self.pid)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session: Any = None
        self._pb2: Any = None
        self._tasks: list[asyncio.Task[None]] = []

    def open(self, timeout_s: float = CALL_TIMEOUT_S) -> FarmClient:
        """Connect and read every place and resource; LinkError when nobody answers."""
        client = import_labgrid()
        from labgrid.remote.generated import labgrid_coordinator_pb2
        from labgrid.util.proxy import proxymanager

        self._pb2 = labgrid_coordinator_pb2
        loop = self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="hilrig-labgrid", daemon=True)
        self._thread.start()
        address = proxymanager.get_grpc_address(self.address, default_port=20408)
        host, user, pid = self.host, self.user, self.pid

        class Session(client.ClientSession):  # type: ignore[misc, name-defined]
            def gethostname(self) -> str:
                return host

            def getuser(self) -> str:
                return f"{user}-hilrig-{pid}"

        async def start() -> Any:
            session = Session(address, loop)
            self._session = session
            await session.start()
            return session

        try:
            self._call(start(), timeout_s, "the first request")
        except BaseException:
            self.close()
            raise
        return self

    def _call(self, coro: Coroutine[Any, Any, T], timeout_s: float, doing: str) -> T:
        """Run ``coro`` on the client's loop; its failures become one sentence."""
        if self._loop is None:
            coro.close()
            raise LinkError(f"the labgrid client for {self.address} is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise LinkTimeout(
                f"the labgrid coordinator at {self.address} did not answer {doing} within "
                f"{timeout_s:g} s; is labgrid-coordinator running there?"
            ) from None
        except Exception as exc:
            raise self._translate(exc, doing) from exc

    def _translate(self, exc: Exception, doing: str) -> LinkError:
        details = getattr(exc, "details", None)
        text = details() if callable(details) else str(exc)
        return LinkError(
            f"the labgrid coordinator at {self.address} refused {doing}: {text or type(exc)}. "
            f"Is labgrid-coordinator running there, and is the address in the target file right?"
        )

    def places(self, timeout_s: float = CALL_TIMEOUT_S) -> dict[str, PlaceState]:
        """Every place, as the coordinator sees it after all earlier requests."""

        async def read() -> dict[str, PlaceState]:
            if not await self._session.sync_with_coordinator():
                raise LinkError("the connection to the coordinator ended")
            return {name: _state(place) for name, place in self._session.places.items()}

        return self._call(read(), timeout_s, "the list of places")

    def acquire(self, place: str, timeout_s: float = CALL_TIMEOUT_S) -> str | None:
        """Acquire ``place``; None when it worked, else the coordinator's reason it did not."""
        request = self._pb2.AcquirePlaceRequest(placename=place)
        return self._attempt(lambda: self._session.stub.AcquirePlace(request), timeout_s, place)

    def release(
        self, place: str, from_user: str | None = None, timeout_s: float = CALL_TIMEOUT_S
    ) -> None:
        """Release ``place`` (only while ``from_user`` holds it, when given)."""
        request = self._pb2.ReleasePlaceRequest(placename=place, fromuser=from_user)
        reason = self._attempt(lambda: self._session.stub.ReleasePlace(request), timeout_s, place)
        if reason is not None and "not acquired" not in reason:
            raise LinkError(f"labgrid would not release place {place}: {reason}")

    def set_tags(
        self, place: str, tags: Mapping[str, str], timeout_s: float = CALL_TIMEOUT_S
    ) -> None:
        """Set (or, with an empty value, remove) tags of a place."""
        request = self._pb2.SetPlaceTagsRequest(placename=place, tags=dict(tags))
        reason = self._attempt(lambda: self._session.stub.SetPlaceTags(request), timeout_s, place)
        if reason is not None:
            raise LinkError(f"labgrid would not set tags of place {place}: {reason}")

    def _attempt(
        self, call: Callable[[], Awaitable[Any]], timeout_s: float, place: str
    ) -> str | None:
        async def run() -> str | None:
            try:
                await call()  # made here: gRPC's asyncio calls belong to the loop's thread
            except Exception as exc:  # noqa: BLE001 - gRPC's refusal is an answer, not a fault
                code = getattr(exc, "code", None)
                if callable(code) and code().name in ("FAILED_PRECONDITION", "PERMISSION_DENIED"):
                    return str(exc.details())  # type: ignore[attr-defined]
                raise
            await self._session.sync_with_coordinator()
            return None

        return self._call(run(), timeout_s, f"a request about place {place}")

    def resources(self, place: str, timeout_s: float = CALL_TIMEOUT_S) -> tuple[FarmResource, ...]:
        """The resources an acquired place holds, as their exporters describe them."""

        async def read() -> tuple[FarmResource, ...]:
            await self._session.sync_with_coordinator()
            found = []
            for exporter, group, _, name in self._session.places[place].acquired_resources:
                entry = self._session.resources.get(exporter, {}).get(group, {}).get(name)
                if entry is not None:
                    found.append(
                        FarmResource(
                            exporter, group, entry.cls, name, dict(entry.params), bool(entry.avail)
                        )
                    )
            return tuple(found)

        return self._call(read(), timeout_s, f"the resources of place {place}")

    def keep_alive(self, place: str, lease_s: float) -> None:
        """Renew the place's lease tag every quarter of ``lease_s`` until ``close``; a missed
        renewal is logged and tried again at the next."""
        tag_of = partial(lease_value, self.name)

        async def renew() -> None:
            while True:
                await asyncio.sleep(lease_s / 4)
                tags = {LEASE_TAG: tag_of(time.time() + lease_s)}
                request = self._pb2.SetPlaceTagsRequest(placename=place, tags=tags)
                try:
                    await self._session.stub.SetPlaceTags(request)
                except Exception as exc:  # noqa: BLE001 - retried at the next beat
                    log.warning("renewing the lease of place %s: %s", place, exc)

        async def start() -> None:
            self._tasks.append(asyncio.get_running_loop().create_task(renew()))

        self.set_tags(place, {LEASE_TAG: tag_of(time.time() + lease_s)})
        self._call(start(), CALL_TIMEOUT_S, "starting the lease renewal")

    def close(self) -> None:
        """Stop the heartbeat and the session, then the loop and its thread."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        session, self._session = self._session, None

        async def stop() -> None:
            for task in self._tasks:
                task.cancel()
            if session is not None:
                await session.stop()
                await session.close()

        try:
            asyncio.run_coroutine_threadsafe(stop(), loop).result(CALL_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - leaving must finish
            log.warning("closing the labgrid session with %s: %s", self.address, exc)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(CALL_TIMEOUT_S)
        if not loop.is_running():
            loop.close()

    def __enter__(self) -> FarmClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _state(place: Any) -> PlaceState:
    return PlaceState(
        name=place.name,
        tags=dict(place.tags),
        acquired=place.acquired or None,
        reservation=place.reservation or None,
        changed=float(place.changed or 0.0),
    )


def lease_value(holder: str, until: float) -> str:
    """The lease tag's value: ``<until, unix seconds>_<holder in tag characters>``."""
    return f"{int(until)}_{tag_safe(holder)}"


def tag_safe(text: str) -> str:
    """``text`` in the characters labgrid allows in a tag value."""
    return _UNSAFE.sub("_", text.lower()).strip("_")
