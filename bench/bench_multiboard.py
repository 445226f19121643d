"""Several boards: the suites on two QEMU micro:bit boards with ``-n 2`` against one board.

    python bench/bench_multiboard.py [--repeat 3] [--count 1 5] [--suites suites]

Both runs use target files written next to each other in a temporary folder, made from the
built-in hilrig/builtin_targets/microbit-qemu.toml with ``instances = 1`` and ``instances = 2``, so
their board locks never meet those of other runs. A warm-up run fills the compile and reference
caches first; each configuration then runs ``--repeat`` times and its best wall-clock time counts
(the machine may be shared).

Each ``--count N`` is one workload: the suites with ``--hil-count N``. Starting xdist's workers
costs about a second whatever the workload, and the emulated micro:bit runs the suites once in a
few seconds, so one pass mostly measures start-up; five passes weigh like a real board's serial
line, where the board time dominates and two boards come close to twice as fast.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "hilrig" / "builtin_targets" / "microbit-qemu.toml"
GOAL = 1.7


def target_file(folder: Path, boards: int) -> Path:
    """The micro:bit target with ``boards`` QEMU instances."""
    lines = TARGET.read_text(encoding="utf-8").splitlines()
    top = [line for line in lines if not line.startswith("instances")]
    path = folder / f"bench-microbit-{boards}.toml"
    path.write_text(f"instances = {boards}\n" + "\n".join(top) + "\n", encoding="utf-8")
    return path


def run(target: Path, workers: int, count: int, args: argparse.Namespace, results: Path) -> float:
    """Wall-clock seconds of one pytest run over the suites."""
    argv = [sys.executable, "-m", "pytest", str(args.suites), f"--target={target}", "-q"]
    argv += ["-p", "no:cacheprovider", f"--hil-results={results}", f"--hil-count={count}"]
    if workers:
        argv += ["-n", str(workers)]
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    if proc.returncode not in (0, 1):  # 1: some programs failed, which the timing ignores
        sys.exit(f"pytest exited with {proc.returncode}: {summary}")
    print(f"  {'-n ' + str(workers) if workers else 'one process':12} {elapsed:6.2f} s  {summary}")
    return elapsed


def best(target: Path, workers: int, count: int, args: argparse.Namespace, results: Path) -> float:
    """The best of ``--repeat`` runs."""
    return min(run(target, workers, count, args, results) for _ in range(args.repeat))


def compare(folder: Path, count: int, args: argparse.Namespace) -> float:
    """One board against two boards for one workload; the speed-up."""
    one, two = target_file(folder, 1), target_file(folder, 2)
    print(f"--hil-count {count}, one board:")
    single = best(one, 0, count, args, folder / "results")
    print(f"--hil-count {count}, two boards:")
    double = best(two, 2, count, args, folder / "results")
    speedup = single / double
    mark = "meets" if speedup >= GOAL else "misses"
    print(
        f"speed-up with two boards, --hil-count {count}: {speedup:.2f}x "
        f"({single:.2f} s -> {double:.2f} s; {mark} the {GOAL}x goal)"
    )
    return speedup


def main() -> int:
    """Warm up, time one board and two boards, print the speed-up."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration")
    parser.add_argument(
        "--count", type=int, nargs="+", default=[1, 5], help="workloads: --hil-count values"
    )
    parser.add_argument("--suites", type=Path, default=ROOT / "suites", help="programs to run")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs; suites: {args.suites}")
    with tempfile.TemporaryDirectory(prefix="hilrig-bench-") as tmp:
        folder = Path(tmp)
        print("warm-up (compile and reference caches):")
        run(target_file(folder, 1), 0, 1, args, folder / "results")
        results = {count: compare(folder, count, args) for count in args.count}
    for count, speedup in results.items():
        print(f"--hil-count {count}: {speedup:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
