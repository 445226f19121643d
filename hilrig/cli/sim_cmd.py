"""``hilrig sim esp32``: a simulated ESP32-DevKitC on an RFC 2217 port, until Ctrl-C/SIGTERM."""

from __future__ import annotations

import argparse
import re
import shlex
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from hilrig.errors import ConfigError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``sim`` command and its ``esp32`` board."""
    sim = subparsers.add_parser("sim", help="run a simulated board that flashing tools can reach")
    boards = sim.add_subparsers(dest="board", metavar="BOARD", required=True)
    esp32 = boards.add_parser(
        "esp32", help="an ESP32-DevKitC: esptool's ROM/stub protocol, boots into MicroPython"
    )
    esp32.add_argument("--mac", default=None, help="the chip's MAC (default 24:0a:c4:5e:00:01)")
    esp32.add_argument(
        "--flash-size", default="4MB", metavar="N", help="bytes, or 1MB/2MB/4MB/8MB/16MB"
    )
    esp32.add_argument(
        "--flash-file", type=Path, default=None, help="keep the flash in this file across runs"
    )
    esp32.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    esp32.add_argument(
        "--vm", default=None, metavar="COMMAND", help="the MicroPython REPL a valid image boots"
    )
    esp32.set_defaults(handler=run_esp32)


def parse_size(text: str) -> int:
    """``4194304`` or ``4MB`` (MiB); ConfigError naming the value."""
    match = re.fullmatch(r"\s*(\d+)\s*(MB|M|MiB)?\s*", text, re.IGNORECASE)
    if match is None:
        raise ConfigError(f"--flash-size {text!r} is not a size like 4MB or 4194304.")
    number = int(match.group(1))
    return number << 20 if match.group(2) else number


def run_esp32(args: argparse.Namespace) -> int:
    """Start the simulator, print its URL, run until interrupted."""
    from hilrig.sim.esp32 import DEFAULT_MAC, URL_ENV, Esp32Sim, SimConfig

    config = SimConfig(
        mac=args.mac if args.mac is not None else DEFAULT_MAC,
        flash_size=parse_size(args.flash_size),
        flash_file=args.flash_file,
        port=args.port,
        vm_command=tuple(shlex.split(args.vm)) if args.vm else (),
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        with Esp32Sim(config) as sim:
            print(sim.url)
            print(f"export {URL_ENV}={sim.url}", file=sys.stderr)
            sys.stdout.flush()
            while not stop.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0
