"""hilrig's labgrid agent: a child process that holds the labgrid session for a run.

The pytest process forks for every host VM and QEMU it starts; gRPC's threads, busy with the
coordinator's stream, do not survive that (a segmentation fault in an xdist worker). So the
:class:`~hilrig.boards.labgrid_client.FarmClient` lives in ``python -m
hilrig.boards.labgrid_agent``, which never forks, and the run talks to it over its stdin and
stdout, one JSON object a line, each answer awaited with a deadline. The agent dies with the run
(``PR_SET_PDEATHSIG``); a place it held then stays acquired until its lease tag runs out or a run
on the same host sees the run's process has ended (:mod:`hilrig.gate.farm_lease`).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from hilrig import processes
from hilrig.boards.labgrid_client import (
    CALL_TIMEOUT_S,
    FarmClient,
    FarmResource,
    PlaceState,
    holder_name,
    import_labgrid,
    this_host,
    this_user,
)
from hilrig.deadline import Deadline
from hilrig.errors import HilrigError, LinkError, LinkTimeout, ToolMissing

_ERRORS: dict[str, type[HilrigError]] = {
    "LinkTimeout": LinkTimeout,
    "ToolMissing": ToolMissing,
    "LinkError": LinkError,
}


class FarmAgent:
    """The run's side of the agent: the same calls as a FarmClient, each with a deadline."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.host = this_host()
        self.user = this_user()
        self.name = holder_name(self.host, self.user, os.getpid())
        self.proc: subprocess.Popen[bytes] | None = None
        self._buffer = b""

    def open(self, timeout_s: float = CALL_TIMEOUT_S) -> FarmAgent:
        """Start the agent and connect it to the coordinator."""
        import_labgrid()  # ToolMissing here, in a sentence, rather than in the agent
        argv = [sys.executable, "-m", "hilrig.boards.labgrid_agent", self.address, str(os.getpid())]
        env = {**os.environ, "GRPC_VERBOSITY": os.environ.get("GRPC_VERBOSITY", "ERROR")}
        self.proc = processes.spawn(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, env=env
        )
        try:
            self._ask({"op": "open"}, timeout_s + 5)
        except BaseException:
            self.close()
            raise
        return self

    def _ask(self, request: Mapping[str, Any], timeout_s: float = CALL_TIMEOUT_S + 5) -> Any:
        proc = self.proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise LinkError(f"the labgrid agent for {self.address} is not running")
        try:
            proc.stdin.write(json.dumps(request).encode() + b"\n")
            proc.stdin.flush()
        except OSError as exc:
            raise LinkError(f"the labgrid agent for {self.address} has ended: {exc}") from exc
        answer = json.loads(self._line(proc, Deadline.after(timeout_s), request["op"]))
        if "error" in answer:
            raise _ERRORS.get(answer.get("kind", ""), LinkError)(answer["error"])
        return answer.get("ok")

    def _line(self, proc: subprocess.Popen[bytes], deadline: Deadline, op: str) -> bytes:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], deadline.remaining())
            if not ready:
                raise LinkTimeout(
                    f"the labgrid agent for {self.address} did not answer '{op}' within "
                    f"{deadline.budget_s:g} s"
                )
            chunk = os.read(fd, 65536)
            if not chunk:
                raise LinkError(
                    f"the labgrid agent for {self.address} ended (exit code {proc.poll()})"
                )
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def places(self) -> dict[str, PlaceState]:
        """Every place of the coordinator."""
        return {name: PlaceState(**fields) for name, fields in self._ask({"op": "places"}).items()}

    def acquire(self, place: str) -> str | None:
        """None when acquired, else the coordinator's reason it was not."""
        reason: str | None = self._ask({"op": "acquire", "place": place})
        return reason

    def release(self, place: str, from_user: str | None = None) -> None:
        """Release ``place`` (only while ``from_user`` holds it, when given)."""
        self._ask({"op": "release", "place": place, "from_user": from_user})

    def set_tags(self, place: str, tags: Mapping[str, str]) -> None:
        """Set (or, with an empty value, remove) tags of a place."""
        self._ask({"op": "set_tags", "place": place, "tags": dict(tags)})

    def resources(self, place: str) -> tuple[FarmResource, ...]:
        """The resources an acquired place holds."""
        return tuple(FarmResource(**r) for r in self._ask({"op": "resources", "place": place}))

    def keep_alive(self, place: str, lease_s: float) -> None:
        """Have the agent renew the place's lease tag until it ends."""
        self._ask({"op": "keep_alive", "place": place, "lease_s": lease_s})

    def close(self) -> None:
        """Ask the agent to leave the coordinator, then make sure it has ended."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None and proc.stdin is not None:
                proc.stdin.write(b'{"op": "close"}\n')
                proc.stdin.close()
                proc.wait(CALL_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):
            pass
        finally:
            processes.stop(proc)
            if proc.stdout is not None:
                proc.stdout.close()


def _serve(client: FarmClient, request: Mapping[str, Any]) -> Any:
    """One request, answered by the in-process client."""
    match request["op"]:
        case "open":
            client.open()
            return None
        case "places":
            return {name: vars(state) for name, state in client.places().items()}
        case "acquire":
            return client.acquire(request["place"])
        case "release":
            client.release(request["place"], request.get("from_user"))
            return None
        case "set_tags":
            client.set_tags(request["place"], request["tags"])
            return None
        case "resources":
            return [vars(resource) for resource in client.resources(request["place"])]
        case "keep_alive":
            client.keep_alive(request["place"], float(request["lease_s"]))
            return None
    raise LinkError(f"the labgrid agent does not know '{request['op']}'")


def main(argv: list[str]) -> int:
    """Answer requests on stdin until 'close' or end of input, then leave the coordinator."""
    address, pid = argv[0], int(argv[1])
    client = FarmClient(address, pid=pid)
    out = sys.stdout
    try:
        for line in sys.stdin:
            request = json.loads(line)
            if request["op"] == "close":
                break
            try:
                answer: dict[str, Any] = {"ok": _serve(client, request)}
            except HilrigError as exc:
                answer = {"error": str(exc), "kind": type(exc).__name__}
            out.write(json.dumps(answer) + "\n")
            out.flush()
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
