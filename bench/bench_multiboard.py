"""Several boards: the suites on two QEMU micro:bit boards with ``-n 2`` against one board.

    python bench/bench_multiboard.py [--repeat 3] [--count 1] [--suites suites]

Both runs use target files written next to each other in a temporary folder, made from
targets/microbit-qemu.toml with ``instances = 1`` and ``instances = 2``, so their board locks
never meet those of other runs. A warm-up run fills the compile and reference caches first; each
configuration then runs ``--repeat`` times and its best wall-clock time counts (the machine may be
shared). ``--count N`` passes ``--hil-count N`` for a longer workload per pytest start-up.
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
TARGET = ROOT / "targets" / "microbit-qemu.toml"
GOAL = 1.7


def target_file(folder: Path, boards: int) -> Path:
    """The micro:bit target with ``boards`` QEMU instances."""
    lines = TARGET.read_text(encoding="utf-8").splitlines()
    top = [line for line in lines if not line.startswith("instances")]
    path = folder / f"bench-microbit-{boards}.toml"
    path.write_text(f"instances = {boards}\n" + "\n".join(top) + "\n", encoding="utf-8")
    return path


def run(target: Path, workers: int, args: argparse.Namespace, results: Path) -> float:
    """Wall-clock seconds of one pytest run over the suites."""
    argv = [sys.executable, "-m", "pytest", str(args.suites), f"--target={target}", "-q"]
    argv += ["-p", "no:cacheprovider", f"--hil-results={results}", f"--hil-count={args.count}"]
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


def best(target: Path, workers: int, args: argparse.Namespace, results: Path) -> float:
    """The best of ``--repeat`` runs."""
    return min(run(target, workers, args, results) for _ in range(args.repeat))


def main() -> int:
    """Warm up, time one board and two boards, print the speed-up."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration")
    parser.add_argument("--count", type=int, default=1, help="--hil-count for every run")
    parser.add_argument("--suites", type=Path, default=ROOT / "suites", help="programs to run")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs; suites: {args.suites}; --hil-count {args.count}")
    with tempfile.TemporaryDirectory(prefix="hilrig-bench-") as tmp:
        folder = Path(tmp)
        one, two = target_file(folder, 1), target_file(folder, 2)
        print("warm-up (compile and reference caches):")
        run(one, 0, args, folder / "results")
        print("one board:")
        single = best(one, 0, args, folder / "results")
        print("two boards:")
        double = best(two, 2, args, folder / "results")
    speedup = single / double
    mark = "meets" if speedup >= GOAL else "misses"
    print(
        f"speed-up with two boards: {speedup:.2f}x ({single:.2f} s -> {double:.2f} s; "
        f"{mark} the {GOAL}x goal)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
