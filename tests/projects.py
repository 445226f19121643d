"""A user project for pytester runs of the plugin: a conftest naming it, targets, suites/."""

from __future__ import annotations

from pathlib import Path

import pytest

from hilrig.targets.find import BUILTIN_DIR


def hil_project(pytester: pytest.Pytester, *targets: str) -> Path:
    """Make ``pytester``'s folder a project with copies of the named built-in targets in its
    ``targets/`` and an empty ``suites/``; return the suites folder."""
    pytester.makeconftest('pytest_plugins = ["hilrig.plugin"]\n')
    (pytester.path / "targets").mkdir()
    for name in targets:
        text = (BUILTIN_DIR / f"{name}.toml").read_text()
        (pytester.path / "targets" / f"{name}.toml").write_text(text)
    suites = pytester.path / "suites"
    suites.mkdir()
    return suites
