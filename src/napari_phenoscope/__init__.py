"""napari-phenoscope: visual image-based profiling of Cell Painting plates.

The package is organised by domain (see docs/architecture.md). The flat modules that the
README documented before that keep their import paths as aliases (``MOVED_MODULES``).
"""

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

#: Old module paths -> their homes. The flat modules the README documented before the
#: restructure by domain (``metrics``, ``tasks``, ...), and the modules that left
#: ``profiling/`` when it was split by concern (``profiling.similarity`` ...), by their path
#: under ``napari_phenoscope``. ``import napari_phenoscope.metrics`` gives the very module
#: ``evaluation.precision`` (not a copy), so ``from ... import``, attribute access and
#: monkeypatching behave as before; and no file sits at an old path, so git merges of edits
#: to the old files follow their renames.
MOVED_MODULES: dict[str, str] = {
    "metrics": "evaluation.precision",
    "tasks": "evaluation.tasks",
    "profiles": "profiling.processing",
    "pipeline": "profiling.pipeline",
    "segment": "segmentation",
    "evaluation.map": "evaluation.precision",
    "profiling.similarity": "similarity.rank",
    "profiling.attribution": "similarity.attribution",
    "profiling.explain": "similarity.explain",
    "profiling.explain_cells": "similarity.explain_cells",
    "profiling.comparison": "similarity.comparison",
    "profiling.comparison_figure": "similarity.comparison_figure",
    "profiling.feature_words": "similarity.feature_words",
    "profiling.embedding_map": "profile_map.layout",
    "profiling.map_points": "profile_map.points",
    "profiling.annotations": "io.annotations",
    "profiling.profiles": "profiling.processing",
    "io.outputs": "io.output_folder",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import ``napari_phenoscope.<old path>`` as the module it moved to.

    Appended to ``sys.meta_path``, so it is asked only after the ordinary finders found no
    file at the old path (a parent package such as ``profiling`` still imports first).
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname.startswith(__name__ + ".") and _old_path(fullname) in MOVED_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        moved_to = MOVED_MODULES[_old_path(spec.name)]
        module = importlib.import_module(f"{__name__}.{moved_to}")
        self._own_spec = module.__spec__  # importlib overwrites it with the alias's spec
        return module

    def exec_module(self, module):
        module.__spec__ = self._own_spec  # already executed: only undo that overwrite


def _old_path(fullname: str) -> str:
    """``napari_phenoscope.profiling.similarity`` -> ``profiling.similarity``."""
    return fullname.removeprefix(__name__ + ".")


if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder())
