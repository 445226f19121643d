"""Per-program overhead: what a run costs beyond the programs' own run time; pytest start-up.

    python bench/bench_overhead.py [--programs 40]

1. The QEMU micro:bit through a session (source mode, host-VM reference, caches warm): a program
   that does nothing, so its wall time per program is all overhead, split into the exec round
   trip (send, run, framing), the soft reset between programs, and the rest (transcript,
   reference cache, comparison). Then a ~1 KB suite program, where sending the source dominates:
   the micro:bit's plain raw REPL has no flow control and hilrig paces it (see
   hilrig/boards/qemu.py).
2. The host VM target with its reference, warm (compile and reference caches filled first).
3. ``pytest --target=unix suites/<one program>`` start-up, best of three, and whether pyOCD,
   esptool or pyserial were imported on the way.

Goals: micro:bit <= 50 ms, host VM <= 30 ms per program, pytest start-up well under 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hilrig.run.program import Program, read_program  # noqa: E402
from hilrig.run.session import HilSession, Options  # noqa: E402
from hilrig.targets.load import load_target  # noqa: E402

TYPICAL = ROOT / "suites" / "classes" / "inheritance_super.py"
HEAVY = ("pyocd", "esptool", "serial")


class Stopwatch:
    """Sums the time spent in wrapped methods."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    def wrap(self, owner: Any, name: str, label: str) -> None:
        """Time every call of ``owner.name`` under ``label``."""
        inner: Callable[..., Any] = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.totals[label] = self.totals.get(label, 0.0) + time.perf_counter() - started

        setattr(owner, name, timed)


def session_for(target: str, folder: Path) -> HilSession:
    options = Options(rootdir=ROOT, results_dir=folder / "results", cache_dir=folder / "cache")
    session = HilSession(load_target(target, ROOT), options)
    session.start()
    return session


def per_program(
    session: HilSession, program: Program, count: int
) -> tuple[float, dict[str, float]]:
    """Milliseconds per program (median of ``count`` runs after one warm-up) and a breakdown."""
    assert session.board is not None
    report = session.run_program(program)  # warm: compile cache, reference cache
    verdict = report.comparison.verdict.value
    if verdict != "match":
        sys.exit(f"{program.name} does not pass on {session.spec.name}: {report.comparison.reason}")
    watch = Stopwatch()
    watch.wrap(session.board, "exec", "exec round trip")
    watch.wrap(session.board, "after_program", "soft reset")
    times = []
    for _ in range(count):
        started = time.perf_counter()
        session.run_program(program)
        times.append(time.perf_counter() - started)
    per = {k: v / count * 1000 for k, v in watch.totals.items()}
    per["rest"] = statistics.mean(times) * 1000 - sum(per.values())
    return statistics.median(times) * 1000, per


def show(title: str, ms: float, parts: dict[str, float], goal: float | None) -> None:
    split = ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
    verdict = "" if goal is None else (" (meets" if ms <= goal else " (misses") + f" {goal:g} ms)"
    print(f"{title:44} {ms:6.1f} ms per program [{split}]{verdict}")


def board_overheads(count: int, folder: Path) -> None:
    nothing = folder / "nothing.py"
    nothing.write_text("pass\n")
    empty = read_program(nothing, folder)
    typical = read_program(TYPICAL, ROOT)
    microbit = session_for("microbit-qemu", folder)
    try:
        show("QEMU micro:bit, `pass`", *per_program(microbit, empty, count), goal=50)
        size = len(typical.source)
        show(
            f"QEMU micro:bit, {typical.name} ({size} B)",
            *per_program(microbit, typical, count),
            goal=None,
        )
    finally:
        microbit.close()
    unix = session_for("unix", folder)
    try:
        show("host VM + reference (warm), `pass`", *per_program(unix, empty, count), goal=30)
        show(
            f"host VM + reference (warm), {typical.name}",
            *per_program(unix, typical, count),
            goal=30,
        )
    finally:
        unix.close()


def startup(folder: Path) -> None:
    program = str(TYPICAL.relative_to(ROOT))
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "--target=unix",
        program,
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    argv.append(f"--hil-results={folder / 'results'}")
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
        best = min(best, time.perf_counter() - started)
        if proc.returncode != 0:
            sys.exit(f"pytest failed: {proc.stdout[-500:]}")
    mark = "meets" if best < 2 else "misses"
    print(f"{'pytest --target=unix ' + program:44} {best:6.2f} s start to finish ({mark} < 2 s)")
    check = (
        "import sys, pytest\n"
        f"pytest.main({argv[3:]!r})\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True)
    loaded = proc.stdout.strip().splitlines()[-1]
    print(f"{'heavy modules imported by that run':44} {loaded} (of {', '.join(HEAVY)})")
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import hilrig.plugin"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    total = [line for line in proc.stderr.splitlines() if line.rstrip().endswith("hilrig.plugin")]
    cumulative_us = int(total[-1].split("|")[1]) if total else -1
    print(f"{'import hilrig.plugin (python -X importtime)':44} {cumulative_us / 1000:6.1f} ms")


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--programs", type=int, default=40, help="programs timed per case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hilrig-bench-") as tmp:
        board_overheads(args.programs, Path(tmp))
        startup(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
