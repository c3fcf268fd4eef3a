"""napari-phenoscope: visual image-based profiling of Cell Painting plates.

The package is organised by domain (see docs/architecture.md). The flat modules that the
README documented before that keep their import paths as aliases (``MOVED_MODULES``).
"""

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

#: Old flat modules -> their homes since the restructure by domain. ``import
#: napari_phenoscope.metrics`` gives the very module ``evaluation.map`` (not a copy), so
#: ``from ... import``, attribute access and monkeypatching behave as before; and no file
#: sits at an old path, so git merges of edits to the old files follow their renames.
MOVED_MODULES: dict[str, str] = {
    "metrics": "evaluation.map",
    "tasks": "evaluation.tasks",
    "profiles": "profiling.profiles",
    "pipeline": "profiling.pipeline",
    "segment": "segmentation",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import ``napari_phenoscope.<old>`` as the module it moved to."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.rpartition(".")
        if package == __name__ and name in MOVED_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        moved_to = MOVED_MODULES[spec.name.rpartition(".")[2]]
        module = importlib.import_module(f"{__name__}.{moved_to}")
        self._own_spec = module.__spec__  # importlib overwrites it with the alias's spec
        return module

    def exec_module(self, module):
        module.__spec__ = self._own_spec  # already executed: only undo that overwrite


if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder())
