"""How often the emulated micro:bit loses input bytes: send one 1.2 KB program N times in plain
raw mode (no flow control on MicroPython 1.9.2) and count the runs whose answer is wrong.

This depends on the machine's load (the firmware drops what its 64-byte receive ring cannot hold
while its main loop is busy), so it is a benchmark, not a test. Run it with nothing else on the
machine: ``python bench/bench_microbit_input.py [N]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hilrig.boards.board import Board  # noqa: E402
from hilrig.boards.qemu import QemuMachine  # noqa: E402
from hilrig.errors import HilrigError  # noqa: E402
from hilrig.targets.load import load_target  # noqa: E402


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    spec = load_target("microbit-qemu", ROOT)
    assert spec.qemu is not None
    values = [(i * 7919) % 90000 + 1000 for i in range(150)]
    code = ("t=0\n" + "".join(f"t+={v}\n" for v in values) + "print(t)\n").encode()
    want = f"{sum(values)}\r\n".encode()
    board = Board(QemuMachine(spec.qemu, spec.name), plain=spec.repl)
    lost = 0
    try:
        board.start()
        for _ in range(runs):
            try:
                reply = board.exec(code, timeout_s=10, max_output=1000)
                board.after_program(reply.exited)
                lost += reply.stdout != want
            except HilrigError:
                lost += 1
                board.recover()
    finally:
        board.close()
    print(f"micro:bit plain raw mode: {len(code)} bytes sent {runs} times, {lost} arrived damaged")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
