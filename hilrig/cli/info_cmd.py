"""``hilrig info --target X``: connect to a board and print what the capability probe found."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from hilrig.gate.policy import start_leased
from hilrig.run.identity import identity
from hilrig.run.session import Options
from hilrig.targets.find import find_rootdir
from hilrig.targets.load import load_target

INFO_WAIT_S = 30.0  # for a board another run holds


def register(sub: Any) -> None:
    """Add the ``info`` subcommand."""
    parser = sub.add_parser("info", help="connect to a target's board and show its capabilities")
    parser.add_argument("--target", required=True, help="target name or path to a .toml file")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Start the board (no reference), print identity and capabilities, stop it."""
    root = find_rootdir(Path.cwd())
    spec = load_target(args.target, root)
    # leased like a run: a board another run holds is not touched (a labgrid place is acquired)
    session, lease = start_leased(spec, Options(rootdir=root, reference="exp"), INFO_WAIT_S)
    try:
        assert session.caps is not None
        caps = session.caps
        facts = identity(session)
    finally:
        session.close()
        lease.release()
    facts.update(
        {
            "platform": caps.platform,
            "version": caps.version_text,
            "sys.version": caps.sys_version,
            "raw_paste": "yes" if caps.raw_paste else "no",
            "heap_free": "unknown" if caps.mem_free is None else f"{caps.mem_free} bytes",
            "modules": " ".join(sorted(caps.modules)),
        }
    )
    del facts["reference"]
    if args.json:
        print(json.dumps(facts, indent=2))
    else:
        width = max(len(k) for k in facts)
        for key, value in facts.items():
            print(f"{key:<{width}}  {value}")
    return 0
