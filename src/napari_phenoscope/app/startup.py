"""Set-up of Phenoscope's own viewer processes (``phenoscope demo``, ``view``, the tour).

Process-wide, so never done when a dock opens in someone else's napari
(docs/reliability.md).
"""

from __future__ import annotations

import gc

_startup_frozen = False


def freeze_startup_objects() -> None:
    """Move every object alive to the permanent GC generation, once per process.

    Only for Phenoscope's own processes (``phenoscope demo``, ``view``, the tour: the
    ``app`` package calls it), never when a dock opens in someone else's napari: it is
    process-wide, and would leave other plugins' reference cycles among those objects
    uncollected. A full garbage collection (run in whichever thread allocates, often the
    GUI thread) scans every object of napari, Qt, torch and pandas: ~440 ms measured in the
    GUI responsiveness test, ~90 ms with those objects frozen (``gc.freeze``: they are still
    freed when unreferenced; only reference cycles among them are never collected).
    """
    global _startup_frozen
    if not _startup_frozen:
        gc.collect()
        gc.freeze()
        _startup_frozen = True
