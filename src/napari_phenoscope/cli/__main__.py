"""``python -m napari_phenoscope.cli``: the ``phenoscope`` command."""

import sys

from napari_phenoscope.cli import main

sys.exit(main())
