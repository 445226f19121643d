"""How long CI jobs and developers wait for places of a board farm: a discrete-event simulation.

    python bench/sim_farm_leases.py [--places 2 4 8] [--runners 4 8 16] [--developers 3]
                                    [--programs 80] [--program-s 0.5] [--hours 8] [--seed 1]

Each CI runner starts a job (one hilrig run: the suites, ``--programs`` programs of
``--program-s`` seconds each on one place, plus 20 s to connect and probe) every time the previous
one ended and a new commit arrived (exponential gaps, mean 10 minutes); each developer takes a
place for a 15-minute session about twice an hour. A run takes any free fitting place at once
(what hilrig does: poll every 0.5 s, first free place wins); with ``--policy fifo`` the place
goes to whoever has waited longest, and developers may jump the queue with ``--policy
priority`` (what labgrid reservations with ``prio`` give). The table shows, per number of places
and runners, the mean and 95th-percentile wait of CI jobs and developers and how busy the places
were. It models queueing only: no flaky boards, no reflashes, no network.
"""

from __future__ import annotations

import argparse
import heapq
import random
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

CONNECT_S = 20.0  # coordinator, serial port, capability probe, reference VM
COMMIT_GAP_S = 600.0  # mean time between commits a runner picks up
DEV_SESSION_S = 900.0
DEV_GAP_S = 1800.0


@dataclass(order=True)
class _Event:
    time: float
    order: int
    kind: str = field(compare=False)  # "arrive" | "leave"
    who: str = field(compare=False)
    hold_s: float = field(compare=False, default=0.0)
    prio: int = field(compare=False, default=0)


@dataclass(frozen=True)
class Result:
    """One configuration's outcome."""

    places: int
    runners: int
    ci_waits: tuple[float, ...]
    dev_waits: tuple[float, ...]
    busy: float  # fraction of place-time in use


def simulate(
    places: int,
    runners: int,
    developers: int,
    job_s: float,
    hours: float,
    policy: str,
    seed: int,
) -> Result:
    """Run the farm for ``hours`` and collect every wait."""
    rng = random.Random(seed)
    end = hours * 3600
    counter = iter(range(1 << 62))
    events: list[_Event] = []
    for r in range(runners):
        heapq.heappush(events, _arrive(rng.expovariate(1 / COMMIT_GAP_S), counter, f"ci{r}", job_s))
    for d in range(developers):
        t = rng.expovariate(1 / DEV_GAP_S)
        heapq.heappush(events, _arrive(t, counter, f"dev{d}", DEV_SESSION_S, prio=1))
    free, queue = places, []  # queue of (arrival event)
    ci_waits: list[float] = []
    dev_waits: list[float] = []
    used = 0.0
    while events:
        ev = heapq.heappop(events)
        if ev.time > end:
            break
        if ev.kind == "arrive":
            queue.append(ev)
        else:
            free += 1
            _next_arrival(ev, rng, counter, events, job_s)
        while free and queue:
            chosen = _pick(queue, policy, rng)
            queue.remove(chosen)
            free -= 1
            (dev_waits if chosen.who.startswith("dev") else ci_waits).append(ev.time - chosen.time)
            used += min(chosen.hold_s, end - ev.time)
            leave = _Event(ev.time + chosen.hold_s, next(counter), "leave", chosen.who)
            leave.hold_s, leave.prio = chosen.hold_s, chosen.prio
            heapq.heappush(events, leave)
    return Result(places, runners, tuple(ci_waits), tuple(dev_waits), used / (places * end))


def _arrive(t: float, counter: Iterator[int], who: str, hold_s: float, prio: int = 0) -> _Event:
    return _Event(t, next(counter), "arrive", who, hold_s, prio)


def _next_arrival(
    ev: _Event, rng: random.Random, counter: Iterator[int], events: list[_Event], job_s: float
) -> None:
    gap = DEV_GAP_S if ev.who.startswith("dev") else COMMIT_GAP_S
    hold = DEV_SESSION_S if ev.who.startswith("dev") else job_s
    heapq.heappush(
        events, _arrive(ev.time + rng.expovariate(1 / gap), counter, ev.who, hold, ev.prio)
    )


def _pick(queue: Sequence[_Event], policy: str, rng: random.Random) -> _Event:
    match policy:
        case "fifo":
            return min(queue, key=lambda e: e.time)
        case "priority":
            return min(queue, key=lambda e: (-e.prio, e.time))
    return rng.choice(list(queue))  # polling: whoever polls first after the release


def _p95(values: Sequence[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def main() -> None:
    """Print one table row per (places, runners)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--places", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--runners", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--developers", type=int, default=3)
    parser.add_argument("--programs", type=int, default=80)
    parser.add_argument("--program-s", type=float, default=0.5)
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--policy", choices=("poll", "fifo", "priority"), default="poll")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    job_s = CONNECT_S + args.programs * args.program_s
    print(
        f"job {job_s:.0f} s ({args.programs} programs x {args.program_s:g} s + {CONNECT_S:g} s), "
        f"{args.developers} developers, {args.hours:g} h, policy {args.policy}"
    )
    head = ("places", "runners", "CI jobs", "CI wait mean", "CI wait p95", "dev wait p95", "busy")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for places in args.places:
        for runners in args.runners:
            r = simulate(
                places, runners, args.developers, job_s, args.hours, args.policy, args.seed
            )
            cells = (
                str(places),
                str(runners),
                str(len(r.ci_waits)),
                f"{_mean(r.ci_waits):.0f} s",
                f"{_p95(r.ci_waits):.0f} s",
                f"{_p95(r.dev_waits):.0f} s",
                f"{r.busy:.0%}",
            )
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
