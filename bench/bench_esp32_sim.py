"""Flashing the simulated ESP32 over RFC 2217, and how robust its reset is under CPU load.

    python bench/bench_esp32_sim.py [--runs 3] [--load 2]

1. One hilrig flash session (detect, MAC check, stub, 460800 baud, attach, write, hard reset) of a
   40 KB image, as hilrig does it (the port's read timeout kept at esptool's default) and as
   stock esptool would (the timeout switched around every command), best of ``--runs``.
2. The same flash with ``--load`` busy processes on the machine (default: one per core), counting
   sessions that fail: the classic reset's window and every wait must hold on a loaded machine.

The time goes into pyserial's RFC 2217 client, which polls for acknowledgements in 50 ms steps;
the figures say what a board behind ser2net costs too, give or take the network.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_sim_esp32 import make_image, target_file  # noqa: E402

from hilrig.errors import HilrigError  # noqa: E402
from hilrig.flash import FlashRecords, esptool_backend, flash_board  # noqa: E402
from hilrig.sim.esp32 import Esp32Sim, SimConfig  # noqa: E402
from hilrig.targets.load import load_target  # noqa: E402


def flash_once(folder: Path, image: Path) -> float:
    """Seconds for one hilrig flash session onto a fresh simulator."""
    with Esp32Sim(SimConfig()) as sim:
        spec = load_target(str(target_file(folder, sim.url)), ROOT)
        start = time.monotonic()
        flash_board(spec, spec.boards[0], image, timeout_s=300, records=FlashRecords(folder))
        return time.monotonic() - start


def best(folder: Path, image: Path, runs: int) -> float:
    return min(flash_once(folder, image) for _ in range(runs))


@contextmanager
def stock_esptool_timeouts() -> Iterator[None]:
    """hilrig's steady read timeout switched off: esptool's own behaviour."""
    kept = esptool_backend.steady_read_timeout
    esptool_backend.steady_read_timeout = lambda esp, port: None
    try:
        yield
    finally:
        esptool_backend.steady_read_timeout = kept


def spin() -> None:
    while True:
        pass


@contextmanager
def cpu_load(processes: int) -> Iterator[None]:
    workers = [multiprocessing.Process(target=spin, daemon=True) for _ in range(processes)]
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        for worker in workers:
            worker.terminate()
            worker.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--load", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        image = make_image(folder / "firmware.bin", b"MicroPython on a simulated ESP32. ")
        print(f"hilrig flash session, best of {args.runs}: {best(folder, image, args.runs):.1f} s")
        with stock_esptool_timeouts():
            stock = best(folder, image, args.runs)
        print(f"the same with esptool's own timeout switching: {stock:.1f} s")
        failed, times = 0, []
        with cpu_load(args.load):
            for _ in range(args.runs):
                try:
                    times.append(flash_once(folder, image))
                except HilrigError as exc:
                    failed += 1
                    print(f"  failed under load: {exc}")
        shown = ", ".join(f"{t:.1f}" for t in times)
        print(f"under {args.load} busy processes: {failed} of {args.runs} failed; times {shown} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
