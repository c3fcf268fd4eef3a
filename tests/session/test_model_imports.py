"""Importing torch beside a viewer: triton is kept out only where Mesa's LLVM is mapped."""

from __future__ import annotations

import sys

import pytest

from napari_phenoscope.session import model_imports as imports


class Maps:
    """A stand-in for ``Path("/proc/self/maps")`` with the given text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __call__(self, _path: str) -> Maps:
        return self

    def read_text(self) -> str:
        return self.text


@pytest.fixture
def no_triton(monkeypatch):
    # recorded so that teardown restores sys.modules as it was, whatever the test sets
    monkeypatch.setitem(sys.modules, "triton", None)
    monkeypatch.delitem(sys.modules, "triton")
    monkeypatch.setattr(sys, "platform", "linux")
    return monkeypatch


def test_triton_is_kept_out_once_mesas_llvm_is_mapped(no_triton):
    no_triton.setattr(imports, "Path", Maps("7f00 r-xp /usr/lib/libLLVM-15.so.1\n"))
    assert imports.keep_triton_out_beside_mesa_llvm()
    assert "triton" in sys.modules and sys.modules["triton"] is None
    assert not imports.keep_triton_out_beside_mesa_llvm()  # once is enough


def test_nothing_changes_without_mesas_llvm(no_triton):
    no_triton.setattr(imports, "Path", Maps("7f00 r-xp /usr/lib/libGL.so.1\n"))
    assert not imports.keep_triton_out_beside_mesa_llvm()
    assert "triton" not in sys.modules


def test_nothing_changes_off_linux(no_triton):
    no_triton.setattr(sys, "platform", "darwin")
    no_triton.setattr(imports, "Path", Maps("libLLVM"))
    assert not imports.keep_triton_out_beside_mesa_llvm()
    assert "triton" not in sys.modules


def test_the_guard_is_importable_before_torch():
    # the guard must run before torch is imported: its own module may not import torch (as
    # anything under models/ does, through models/__init__)
    import subprocess

    code = (
        "import sys; import napari_phenoscope.session.model_imports; "
        "sys.exit(int(any(m in sys.modules for m in ('torch', 'triton', 'timm'))))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
