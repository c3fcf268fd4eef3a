"""Output folders: created on demand, refused in one line when they cannot be."""

from __future__ import annotations

from pathlib import Path

from napari_phenoscope.errors import PhenoscopeError


def output_folder(path: str | Path) -> Path:
    """Create the output folder ``path`` (and its parents) and return it.

    Raises
    ------
    PhenoscopeError
        If ``path`` is an existing file (a user's file is never replaced by a folder), or the
        folder cannot be created (a file in the way above it, no permission, a full disk).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise PhenoscopeError(f"output folder {path} is an existing file; give --out a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise PhenoscopeError(f"cannot create output folder {path}: {error.strerror}") from error
    return path
