"""Two first runs of the demo at once, or one killed mid-render, never corrupt the cache."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from napari_phenoscope.constants import CHANNELS
from napari_phenoscope.demo import project

SMALL = {"n_wells": 12, "n_sites": 1, "size": 64, "n_replicates": 1}
#: A process that announces when it starts rendering (holding the cache lock), then renders.
RENDERER = textwrap.dedent(
    f"""
    import sys, time
    from napari_phenoscope.demo import project
    original = project.write_demo_plates
    def announced(*args, **kwargs):
        print("rendering", flush=True)
        time.sleep(float(sys.argv[2]))
        return original(*args, **kwargs)
    project.write_demo_plates = announced
    print("root", project.ensure_demo_plates(sys.argv[1], **{SMALL!r}), flush=True)
    """
)


def _start(cache: Path, pause_s: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RENDERER, str(cache), str(pause_s)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _assert_complete(root: Path) -> None:
    manifest = project.read_demo_manifest(root)
    assert len(manifest.plates) == 3
    assert len(list(root.rglob("*.tiff"))) == 3 * 12 * (len(CHANNELS) + 2)
    assert not list(root.rglob("*.tmp"))


def test_a_second_first_run_waits_for_the_first(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _start(cache, pause_s=1.0)
    assert first.stdout.readline().strip() == "rendering"  # it holds the lock now
    second = _start(cache, pause_s=0.0)
    out_first, err_first = first.communicate(timeout=300)
    out_second, err_second = second.communicate(timeout=300)
    assert first.returncode == 0, err_first
    assert second.returncode == 0, err_second
    assert "rendering" not in out_second  # it waited and reused the first one's folder
    root_first = out_first.split("root ", 1)[1].strip()
    assert out_second.split("root ", 1)[1].strip() == root_first
    _assert_complete(Path(root_first))


def test_a_render_killed_midway_is_started_over(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    killed = _start(cache, pause_s=0.3)
    assert killed.stdout.readline().strip() == "rendering"
    # let it write some fields, then kill it without any chance to clean up
    for _ in range(600):
        images = next(iter(cache.glob("demo-*/images")), None)
        if images is not None and any(images.rglob("*.tiff")):
            break
        time.sleep(0.05)
    assert killed.poll() is None, "the render ended before it could be killed"
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=60)
    half = next(cache.glob("demo-*"))
    assert not (half / project.MANIFEST_NAME).exists()  # a half folder is never marked complete
    after = _start(cache, pause_s=0.0)
    out, err = after.communicate(timeout=300)
    assert after.returncode == 0, err
    assert "rendering" in out
    _assert_complete(Path(out.split("root ", 1)[1].strip()))
