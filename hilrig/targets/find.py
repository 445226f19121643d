"""Where targets come from: the project's ``targets/<name>.toml`` first, then the built-ins.

``--target=NAME`` looks in ``<rootdir>/targets``, then in the targets that ship with hilrig;
``--target=PATH.toml`` names a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hilrig.errors import TargetNotFound

# Targets that ship inside the package (package data), found after the project's own. hilrig is
# installed unpacked (a wheel, never a zip), so they are real files: bundles copy them.
BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


@dataclass(frozen=True)
class TargetFile:
    """A target name and the file it comes from; ``builtin`` when it ships with hilrig."""

    name: str
    path: Path
    builtin: bool
    shadowed_by: Path | None = None  # a project file of the same name wins over a built-in


def project_targets_dir(rootdir: Path) -> Path:
    """Where a project keeps its own target files: ``<rootdir>/targets``."""
    return rootdir / "targets"


def target_files(rootdir: Path) -> list[TargetFile]:
    """Every target visible from ``rootdir``: the project's first, then the built-ins."""
    own = {p.stem: p for p in _tomls(project_targets_dir(rootdir))}
    found = [TargetFile(name, path, builtin=False) for name, path in sorted(own.items())]
    for path in _tomls(BUILTIN_DIR):
        found.append(TargetFile(path.stem, path, builtin=True, shadowed_by=own.get(path.stem)))
    return found


def _tomls(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.toml"), key=lambda p: p.stem) if folder.is_dir() else []


def find_target(name_or_path: str, rootdir: Path) -> Path:
    """``--target`` as a file: a .toml path, else NAME in ``<rootdir>/targets``, else built-in."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or "/" in name_or_path:
        path = candidate if candidate.is_absolute() else (Path.cwd() / candidate)
        if not path.is_file():
            raise TargetNotFound(f"target file {name_or_path} does not exist.")
        return path.resolve()
    for folder in (project_targets_dir(rootdir), BUILTIN_DIR):
        path = folder / f"{name_or_path}.toml"
        if path.is_file():
            return path
    files = target_files(rootdir)
    own = ", ".join(t.name for t in files if not t.builtin) or "none"
    builtin = ", ".join(t.name for t in files if t.builtin) or "none"
    raise TargetNotFound(
        f"unknown target {name_or_path!r}: there is no {name_or_path}.toml in "
        f"{project_targets_dir(rootdir)} (project targets: {own}) nor among hilrig's built-in "
        f"targets in {BUILTIN_DIR} ({builtin}). Pass --target=NAME or --target=PATH.toml; "
        f"hilrig targets lists them."
    )


def known_targets(rootdir: Path) -> list[str]:
    """Names of every target visible from ``rootdir`` (project and built-in), sorted."""
    return sorted({t.name for t in target_files(rootdir)})


def find_rootdir(start: Path) -> Path:
    """The nearest folder at or above ``start`` with a targets/ folder or a pyproject.toml."""
    for folder in (start, *start.parents):
        if (folder / "targets").is_dir() or (folder / "pyproject.toml").is_file():
            return folder
    return start
