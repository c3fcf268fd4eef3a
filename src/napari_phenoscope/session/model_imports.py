"""Importing torch and timm into a viewer's process: when, and without triton's LLVM.

Not under ``models/``: importing anything there imports torch (``models/__init__``), and
the guard must run before that.

The docks call these before anything imports timm (``_widgets/_dock.py``, the Profile dock,
``_widgets/docks.py``, the tour); nothing here needs a display or Qt.
"""

from __future__ import annotations

import sys
from pathlib import Path


def keep_triton_out_beside_mesa_llvm() -> bool:
    """Stop torch from importing triton into a process that already runs Mesa's LLVM.

    timm imports torchvision, which imports ``torch._dynamo``, which imports triton when it
    is installed. Triton's own LLVM, loaded after Mesa's ``libLLVM`` (software OpenGL:
    llvmpipe under Xvfb, in VMs and remote desktops), crashes the process with a
    segmentation fault. Nothing here compiles kernels with triton, so once a viewer has
    mapped ``libLLVM``, ``sys.modules["triton"] = None`` makes torch see triton as absent.
    Call this after the viewer exists and before the first import of timm.

    Returns
    -------
    bool
        Whether triton was kept out.
    """
    if "triton" in sys.modules or not sys.platform.startswith("linux"):
        return False
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    if "libLLVM" not in maps:
        return False
    # process-wide on purpose: any torch import after this point would load triton's LLVM
    # and crash the whole napari; only done when Mesa's LLVM is already mapped (see above)
    sys.modules["triton"] = None  # type: ignore[assignment]
    return True


def import_models() -> None:
    """Import torch and timm now, in the GUI thread (once per process; later calls are free).

    Called when the Profile dock opens: an import in a worker thread holds the GIL for about
    a second, freezing the viewer mid-run, while here the dock's opening takes that second.
    Importing is the only effect: nothing process-wide is changed.
    """
    # lazy: importing torch and timm when called is what this function is for
    import napari_phenoscope.models  # noqa: F401
