"""Bad command-line options and weights files: one line naming the option or file, exit 2."""

from __future__ import annotations

import errno
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from cli_outcome import assert_refused, run_cli, run_console
from conftest import copy_compound_plate, write_tiny_plate

PROFILE = ["--features", "classical", "--no-progress"]


@pytest.fixture
def plate(tmp_path: Path) -> Path:
    return write_tiny_plate(tmp_path / "project")


def _profile(capsys, project: Path, out: Path, *extra: object):
    return run_cli(["profile", project, "--out", out, *PROFILE, *extra], capsys)


def test_wells_that_are_not_on_the_plate(capsys, tmp_path, plate):
    assert_refused(_profile(capsys, plate, tmp_path / "out", "--wells", "Z99"), "Z99")


def test_some_wells_that_are_not_on_the_plate(capsys, tmp_path, plate):
    outcome = _profile(capsys, plate, tmp_path / "out", "--wells", "A01,H12")
    assert_refused(outcome, "H12")


def test_malformed_well_names(capsys, tmp_path, plate):
    assert_refused(_profile(capsys, plate, tmp_path / "out", "--wells", "A1;B2"), "A1;B2")


@pytest.mark.parametrize("spec", ["2:ER", "2=ER,x=DNA", "5=Hoechst", "=DNA"])
def test_malformed_channel_map(capsys, tmp_path, plate, spec):
    outcome = _profile(capsys, plate, tmp_path / "out", "--channel-map", spec)
    message = assert_refused(outcome)
    assert "channel map" in message


def test_out_is_an_existing_file_profile(tmp_path, plate):
    out = tmp_path / "results.parquet"
    out.write_text("a file the user cares about")
    outcome = run_console(["profile", plate, "--out", out, *PROFILE])
    assert_refused(outcome, out, "--out")
    assert out.read_text() == "a file the user cares about"


def test_out_is_an_existing_file_segment(capsys, tmp_path, plate):
    out = tmp_path / "labels.tiff"
    out.write_bytes(b"keep me")
    assert_refused(run_cli(["segment", plate, "--out", out, "--no-progress"], capsys), out)
    assert out.read_bytes() == b"keep me"


def test_out_below_a_file(capsys, tmp_path, plate):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    assert_refused(_profile(capsys, plate, blocker / "out"), blocker)


@pytest.mark.parametrize("value", ["0", "-3"])
def test_batch_size_not_positive(capsys, tmp_path, plate, value):
    outcome = _profile(capsys, plate, tmp_path / "out", "--batch-size", value)
    assert_refused(outcome, "--batch-size")


def test_unknown_device(capsys, tmp_path, plate):
    outcome = run_cli(
        ["profile", plate, "--out", tmp_path / "out", "--device", "tpu", "--no-progress"], capsys
    )
    assert_refused(outcome, "tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu(capsys, tmp_path, plate):
    outcome = run_cli(
        ["profile", plate, "--out", tmp_path / "out", "--device", "cuda", "--no-progress"], capsys
    )
    assert_refused(outcome, "cuda")


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(OSError(errno.ENOSPC, "No space left on device"), id="disk-full"),
        pytest.param(OSError(errno.EROFS, "Read-only file system"), id="read-only"),
        pytest.param(PermissionError(errno.EACCES, "Permission denied"), id="no-permission"),
    ],
)
def test_an_output_folder_that_cannot_be_written(capsys, tmp_path, plate, monkeypatch, error):
    import pyarrow.parquet as pq

    def failing_write(table, where, *args, **kwargs):
        error.filename = str(where)
        raise error

    monkeypatch.setattr(pq, "write_table", failing_write)
    out = tmp_path / "out"
    assert_refused(_profile(capsys, plate, out), out, error.strerror)
    assert not list(out.rglob("*.parquet"))


# --- weights files: never unpickled --------------------------------------------------------


class _Evil:
    """Unpickling this creates a file: proof that something unpickled the weights."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _weights(kind: str, folder: Path, marker: Path) -> Path:
    path = folder / f"model-{kind}.safetensors"
    if kind == "random-bytes":
        path.write_bytes(os.urandom(4096))
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"state_dict": _Evil(marker)}))
    elif kind == "torch-save":
        torch.save({"model": _Evil(marker)}, path)
    elif kind == "wrong-tensors":
        save_file({"foo.weight": torch.zeros(3, 3)}, str(path))
    elif kind == "empty":
        path.write_bytes(b"")
    return path


WEIGHT_KINDS = ["missing", "random-bytes", "pickle", "torch-save", "wrong-tensors", "empty"]


@pytest.mark.parametrize("kind", WEIGHT_KINDS)
def test_bad_model_for_profile(capsys, tmp_path, small_demo_project, kind):
    marker = tmp_path / "unpickled"
    model = _weights(kind, tmp_path, marker)
    project = copy_compound_plate(small_demo_project, tmp_path / "cells")
    outcome = run_cli(
        [
            "profile",
            project,
            "--out",
            tmp_path / "out",
            "--model",
            model,
            "--no-progress",
            "--wells",
            "A02",
        ],
        capsys,
    )
    assert_refused(outcome, model)
    assert not marker.exists()


@pytest.mark.parametrize("option", ["--init", "--resume"])
@pytest.mark.parametrize("kind", ["pickle", "torch-save", "random-bytes"])
def test_bad_weights_for_train(capsys, tmp_path, small_demo_project, option, kind):
    marker = tmp_path / "unpickled"
    weights = _weights(kind, tmp_path, marker)
    project = copy_compound_plate(small_demo_project, tmp_path / "cells")
    argv = [
        "train",
        project,
        "--out",
        tmp_path / "m.safetensors",
        "--epochs",
        "1",
        "--max-fields",
        "2",
        "--no-progress",
        option,
        weights,
    ]
    assert_refused(run_cli(argv, capsys), weights)
    assert not marker.exists()
    assert not (tmp_path / "m.safetensors").exists()


def test_no_code_path_unpickles():
    """Weights, checkpoints and tables are read without pickle anywhere in the package."""
    import napari_phenoscope

    package = Path(napari_phenoscope.__file__).parent
    forbidden = (
        "torch.load(",
        "pickle.load",
        "pickle.loads",
        "read_pickle(",
        "allow_pickle=True",
        "joblib.load",
        "dill.load",
    )
    offenders = [
        f"{path.relative_to(package)}: {needle}"
        for path in package.rglob("*.py")
        for needle in forbidden
        if needle in path.read_text()
    ]
    assert offenders == []
