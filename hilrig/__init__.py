"""hilrig: run MicroPython test programs on boards and compare them with the host VM."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

__all__ = ["BoardException", "LeasedBoard", "__version__", "connect"]

if TYPE_CHECKING:
    from hilrig.api import BoardException, LeasedBoard, connect


def __getattr__(name: str) -> Any:
    """The public API (hilrig.api), imported on first use: ``import hilrig.errors`` stays light."""
    if name in ("BoardException", "LeasedBoard", "connect"):
        from hilrig import api

        return getattr(api, name)
    raise AttributeError(f"module 'hilrig' has no attribute {name!r}")
