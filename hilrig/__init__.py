"""hilrig: run MicroPython test programs on boards and compare them with the host VM."""

from __future__ import annotations

__version__ = "0.2.0"
