"""Which distribution the installed ``serial`` package came from: pyserial, or labgrid's fork.

labgrid requires ``pyserial-labgrid``, a fork of pyserial 3.5 that installs the same ``serial``
package (the same files; two changes in ``serial/rfc2217.py``: an option already set is not
negotiated again, and a new timeout does not renegotiate the port). pip lets both distributions
claim those files: the one installed last wins, and uninstalling either deletes the files the
other still lists. hilrig works with both; this module says which one is on disk, and names a
damaged mix in one sentence instead of a failing ``import serial`` later.
"""

from __future__ import annotations

import base64
import hashlib
from importlib import metadata

from hilrig.errors import ConfigError

DISTRIBUTIONS = ("pyserial-labgrid", "pyserial")
REPAIR = "pip install --force-reinstall --no-deps pyserial-labgrid"


def serial_origin() -> str:
    """'pyserial-labgrid 3.5.0.2 (pyserial 3.5 is installed too)'; ConfigError when the files on
    disk match no installed distribution."""
    installed: list[str] = []
    intact: list[str] = []
    for name in DISTRIBUTIONS:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        label = f"{name} {dist.version}"
        installed.append(label)
        if _files_match(dist):
            intact.append(label)
    if not installed:
        raise ConfigError(
            "neither pyserial nor pyserial-labgrid is installed: pip install pyserial"
        )
    if not intact:
        raise ConfigError(
            f"the files of the serial package match none of the installed distributions "
            f"({', '.join(installed)}): one was installed or removed over the other. "
            f"Repair it with: {REPAIR}"
        )
    others = [label for label in installed if label != intact[0]]
    also = f" ({', '.join(others)} is installed too; its files were overwritten)" if others else ""
    return intact[0] + also


def _files_match(dist: metadata.Distribution) -> bool:
    """Every ``serial/*.py`` file the distribution's RECORD lists is on disk with its hash."""
    files = [f for f in dist.files or () if f.parts[0] == "serial" and f.suffix == ".py"]
    if not files:
        return False
    for entry in files:
        if entry.hash is None or entry.hash.mode != "sha256":
            continue
        try:
            data = dist.locate_file(entry).read_bytes()  # type: ignore[attr-defined]
        except OSError:
            return False
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        if digest != entry.hash.value:
            return False
    return True
