"""What tests that start local services share: free ports, and tools that must be there in CI."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable

import pytest


def in_ci() -> bool:
    """CI (``CI=true``, or ``HILRIG_CI`` set): a missing tool fails instead of skipping."""
    return os.environ.get("CI") == "true" or bool(os.environ.get("HILRIG_CI"))


def require(tools: Iterable[tuple[str, bool]], install: str) -> None:
    """Skip (fail in CI) naming the tools that are not ``present`` and how to install them."""
    missing = [what for what, present in tools if not present]
    if not missing:
        return
    message = f"needs {', '.join(missing)}: {install}"
    if in_ci():
        pytest.fail(f"missing in CI: {message}")
    pytest.skip(message)


def free_port() -> int:
    """A TCP port nobody listens on at the moment."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
