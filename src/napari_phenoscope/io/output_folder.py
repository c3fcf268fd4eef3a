"""Output folders: created on demand, refused in one line when they cannot be; files in
them written whole or not at all (``atomic_path``)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it if the block ends without error.

    A reader (or a run killed mid-write and resumed) never sees a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # unique per writer: two Dask workers (other hosts, same pid) may write the same field
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        if error.filename is not None:
            raise
        # Arrow's write errors (a full disk) name no file: name the one being written
        raise OSError(error.errno, error.strerror or str(error), str(path)) from error
    finally:
        temporary.unlink(missing_ok=True)
