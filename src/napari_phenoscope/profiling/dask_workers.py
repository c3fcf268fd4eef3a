"""What every Dask worker of a profiling run is set up with (``execute`` registers it).

Kept apart from ``execute`` so that an in-process run never imports ``distributed``.
"""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

#: glibc ``mallopt`` parameters (malloc.h) and the values its dynamic threshold tops out at.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
_TRIM_THRESHOLD_BYTES = 128 * 1024 * 1024


def tune_malloc() -> bool:
    """Let glibc reuse freed multi-MB arrays instead of unmapping them (True if applied).

    A no-op (False) where the C library is not glibc (macOS, musl, Windows).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES) == 1
    return ok and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES) == 1


class MallocTuning(WorkerPlugin):
    """Dask worker plugin: ``tune_malloc`` in every worker process, present and future."""

    name = "phenoscope-malloc-tuning"

    def setup(self, worker: Any) -> None:
        tune_malloc()
