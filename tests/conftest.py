"""Fixtures shared by hilrig's tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def lock_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Board leases of every test in a folder of its own, never the machine's shared one."""
    folder = tmp_path_factory.mktemp("locks")
    monkeypatch.setenv("HILRIG_LOCK_DIR", str(folder))
    return folder


@pytest.fixture
def pty_port() -> Iterator[str]:
    """A serial device nobody answers on."""
    master, slave = os.openpty()
    try:
        yield os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)
