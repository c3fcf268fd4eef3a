"""Bad input through the npe2 reader and the docks' actions: one line in the dock's status
and one napari notification, never a traceback, and the viewer stays usable (a good plate
opens afterwards). Run under xvfb-run; the CLI side of the same cases is in this folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import valid_well_profiles, write_tiny_plate
from napari_phenoscope._reader import napari_get_reader
from napari_phenoscope._widgets.docks import add_all_docks
from napari_phenoscope.constants import CHANNELS, CONTROL_TYPE
from napari_phenoscope.session.state import state_of

pytestmark = pytest.mark.gui


@pytest.fixture
def notifications():
    """Every napari notification shown during the test."""
    from napari.utils.notifications import notification_manager

    shown: list = []
    notification_manager.notification_ready.connect(shown.append)
    yield shown
    notification_manager.notification_ready.disconnect(shown.append)


@pytest.fixture
def docks(make_napari_viewer, qtbot):
    return add_all_docks(make_napari_viewer())


def random_bytes_tiff(path: Path) -> Path:
    path.write_bytes(os.urandom(4096))
    return path


def screenshot(viewer, tmp_path: Path, name: str) -> Path:
    """The whole window as a PNG (under PHENOSCOPE_SHOTS when set, to look at)."""
    folder = Path(os.environ.get("PHENOSCOPE_SHOTS", tmp_path))
    viewer.screenshot(str(folder / name), canvas_only=False)
    return folder / name


def assert_one_line(dock, notifications, *names: str) -> str:
    """The dock's status and the last notification: the same single line naming ``names``."""
    from napari.utils.notifications import ErrorNotification, NotificationSeverity

    text = dock.status.text()
    assert "\n" not in text and "Traceback" not in text, text
    for name in names:
        assert name in text, text
    assert notifications, f"no notification for: {text}"
    last = notifications[-1]
    assert not isinstance(last, ErrorNotification)  # made from an exception: has a traceback
    assert last.severity == NotificationSeverity.ERROR
    assert "\n" not in last.message and last.message in text, (last.message, text)
    return text


def assert_still_usable(docks, qtbot, plate: Path) -> None:
    assert docks.navigator.open(str(plate)), docks.navigator.status.text()
    assert [layer.name for layer in docks.navigator.viewer.layers][:5] == list(CHANNELS)
    assert "fields on 1 plate(s)" in docks.navigator.status.text()


# --- the npe2 reader -----------------------------------------------------------------
def test_the_reader_declines_an_empty_folder_and_a_profile_table(tmp_path):
    (tmp_path / "empty").mkdir()
    valid_well_profiles().to_csv(tmp_path / "profiles.csv", index=False)
    assert napari_get_reader(str(tmp_path / "empty")) is None  # napari: "no reader"
    assert napari_get_reader(str(tmp_path / "profiles.csv")) is None


def test_the_reader_names_an_unreadable_tiff_in_one_line(tmp_path):
    path = random_bytes_tiff(tmp_path / "r01c01f01p01-ch1sk1fk1fl1.tiff")
    reader = napari_get_reader(str(path))
    assert reader is not None
    with pytest.raises(ValueError) as raised:
        reader(str(path))
    message = str(raised.value)
    assert "\n" not in message and str(path) in message and "not a TIFF file" in message


def test_the_reader_opens_a_plate_without_plate_maps(tmp_path):
    plate = write_tiny_plate(tmp_path / "project")
    for platemap in (plate / "metadata").rglob("barcode_platemap.csv"):
        platemap.unlink()
    layers = napari_get_reader(str(plate))(str(plate))
    assert [kwargs["name"] for _, kwargs, _ in layers] == list(CHANNELS)


def test_napari_open_through_the_reader_says_which_file(make_napari_viewer, tmp_path):
    path = random_bytes_tiff(tmp_path / "r01c01f01p01-ch1sk1fk1fl1.tiff")
    viewer = make_napari_viewer()
    with pytest.raises(ValueError) as raised:  # napari's ReaderPluginError is one too
        viewer.open(str(path), plugin="napari-phenoscope")
    assert f"cannot read image {path}" in str(raised.value.__cause__ or raised.value)
    assert len(viewer.layers) == 0


# --- the docks -----------------------------------------------------------------------
def test_opening_an_empty_folder(docks, qtbot, notifications, tmp_path):
    (tmp_path / "empty").mkdir()
    assert docks.navigator.open(str(tmp_path / "empty")) is False
    text = assert_one_line(docks.navigator, notifications, "no Phenix-named images", "empty")
    assert text.startswith("Error: ")
    assert state_of(docks.navigator.viewer).session is None
    assert_still_usable(docks, qtbot, write_tiny_plate(tmp_path / "good"))


def test_opening_a_plate_whose_first_field_is_random_bytes(docks, qtbot, notifications, tmp_path):
    plate = write_tiny_plate(tmp_path / "project")
    broken = next((plate / "images").rglob("r01c01f01p01-ch5sk1fk1fl1.tiff"))  # A01 DNA
    random_bytes_tiff(broken)
    assert docks.navigator.open(str(plate)) is False
    assert_one_line(docks.navigator, notifications, str(broken), "not a TIFF file")
    assert not docks.navigator.reading_options.isHidden()
    screenshot(docks.navigator.viewer, tmp_path, "navigator_error.png")
    assert_still_usable(docks, qtbot, write_tiny_plate(tmp_path / "good"))


def test_a_plate_without_plate_maps_opens_and_says_so(docks, qtbot, notifications, tmp_path):
    plate = write_tiny_plate(tmp_path / "project")
    for platemap in (plate / "metadata").rglob("barcode_platemap.csv"):
        platemap.unlink()
    assert docks.navigator.open(str(plate))
    assert "no well metadata (profiles normalise to all wells)" in docks.navigator.status.text()
    assert not notifications  # a plate a user would call fine: no error


def test_loading_a_header_only_profile_table(docks, qtbot, notifications, tmp_path):
    path = tmp_path / "profiles.csv"
    valid_well_profiles().iloc[:0].to_csv(path, index=False)
    assert docks.profile.load_profiles(path)
    qtbot.waitUntil(lambda: not docks.profile.running, timeout=60_000)
    assert_one_line(docks.profile, notifications, str(path), "the profile table has no rows")
    assert_still_usable(docks, qtbot, write_tiny_plate(tmp_path / "good"))


def test_a_profile_table_with_text_among_features_loads_without_that_column(
    docks, qtbot, notifications, tmp_path
):
    table = valid_well_profiles()
    table["feature_4"] = table["feature_4"].astype(object)
    table.loc[3, "feature_4"] = "n/a"
    path = tmp_path / "profiles.csv"
    table.to_csv(path, index=False)
    assert docks.profile.load_profiles(path, "text")
    qtbot.waitUntil(lambda: not docks.profile.running, timeout=60_000)
    text = docks.profile.status.text()
    assert text.startswith("Feature set 'text'") and "feature_4" in text, text
    session = state_of(docks.profile.viewer).session
    assert "feature_4" not in session.well_profiles["text"].columns
    assert not notifications


def test_profiling_with_random_bytes_as_weights(docks, qtbot, notifications, tmp_path):
    plate = write_tiny_plate(tmp_path / "project")
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(os.urandom(4096))
    assert docks.navigator.open(str(plate))
    docks.profile.weights_edit.setText(str(weights))
    assert docks.profile.run(scope="field", features="vit", device="cpu")
    qtbot.waitUntil(lambda: not docks.profile.running, timeout=120_000)
    text = docks.profile.status.text()
    assert str(weights) in text and "not a readable safetensors file" in text, text
    assert "\n" not in text and "Traceback" not in text
    assert any(str(weights) in n.message for n in notifications), [n.message for n in notifications]
    screenshot(docks.navigator.viewer, tmp_path, "bad_weights.png")
    assert_still_usable(docks, qtbot, write_tiny_plate(tmp_path / "good"))


def test_retrieval_on_a_table_without_negative_controls(docks, qtbot, notifications, tmp_path):
    table = valid_well_profiles()
    path = tmp_path / "profiles.csv"
    table[table[CONTROL_TYPE] != "negcon"].to_csv(path, index=False)
    assert docks.profile.load_profiles(path, "nocontrols")
    qtbot.waitUntil(lambda: not docks.profile.running, timeout=60_000)
    assert docks.retrieval.compute("replicate", "nocontrols"), docks.retrieval.status.text()
    qtbot.waitUntil(lambda: not docks.retrieval.running, timeout=120_000)
    assert_one_line(docks.retrieval, notifications, "no negative controls")
    docks.show("Retrieval")
    screenshot(docks.retrieval.viewer, tmp_path, "retrieval_error.png")
    assert docks.retrieval.compute_button.isEnabled()
    assert_still_usable(docks, qtbot, write_tiny_plate(tmp_path / "good"))
