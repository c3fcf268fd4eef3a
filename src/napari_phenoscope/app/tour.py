# Long (~530 lines): one script; Tour's methods are its steps in order, each with the text of
# its screenshot; split, the story would be harder to follow than to scroll.
"""A scripted tour: drive a real napari viewer through the main use case, screenshot each step.

``phenoscope tour [PLATE_DIR] --screenshots DIR`` opens the demo project (or the given one),
profiles a few wells in the Profile dock, profiles the rest headless with the same code
(``pipeline.profile_plates``, cached and resumable) and loads it, opens the BI-2536 well,
inspects a cell's MAE reconstruction and attention, lays out the profile map, asks which
perturbations look like BI-2536, computes the compound-gene mAP, and asks why BI-2536
matches the PLK1 knockout and not the BRD4 knockout. Each step leaves a
PNG of the whole window (docks included) in the screenshots folder; ``docs/tutorial.md``
is written around them.

The tour only uses the docks' public methods, so it is also an end-to-end check of the GUI.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import numpy as np

from napari_phenoscope._widgets._workers import wait_until
from napari_phenoscope.app.startup import freeze_startup_objects
from napari_phenoscope.constants import (
    BROAD_SAMPLE,
    CENTER_X,
    CENTER_Y,
    CONTROL_TYPE,
    LABEL,
    MODALITY,
    NEGATIVE_CONTROL,
    PLATE,
    SIMILARITY,
    SITE,
    WELL,
)
from napari_phenoscope.demo.project import default_cache_dir, ensure_demo_plates
from napari_phenoscope.demo.story import bi2536_average_precision, bi2536_wells
from napari_phenoscope.errors import PhenoscopeError, PlateFormatError
from napari_phenoscope.session.model_imports import keep_triton_out_beside_mesa_llvm
from napari_phenoscope.session.positions import field_key
from napari_phenoscope.session.state import state_of

#: Window size of the screenshots (pixels).
WINDOW_SIZE = (1680, 1180)
#: Wells the Profile dock profiles live (besides the BI-2536 wells): DMSO wells of the map.
LIVE_WELLS = 2
#: Seconds any one step may take before the tour gives up.
STEP_TIMEOUT = 3600.0
#: The screenshots of a tour, in order (``docs/images/<name>.png``).
TOUR_STEPS: tuple[str, ...] = (
    "tour_01_plate",
    "tour_02_profile",
    "tour_03_project_profiles",
    "tour_04_bi2536",
    "tour_05_reconstruction",
    "tour_06_masked_input",
    "tour_07_attention",
    "tour_08_profile_map",
    "tour_09_similar",
    "tour_10_map",
    "tour_11_compare_plk1",
    "tour_12_compare_brd4",
)
#: Width of the Compare dock in its screenshots (its figure needs room).
COMPARE_DOCK_WIDTH = 1180


@dataclass
class TourStep:
    """One screenshot of the tour.

    Attributes
    ----------
    name
        File stem (``tour_01_plate``).
    title
        What the step does.
    detail
        What the screenshot shows, with the numbers of this run.
    path
        The PNG written.
    """

    name: str
    title: str
    detail: str
    path: Path


class Tour:
    """A viewer with every Phenoscope dock, and the steps that drive them.

    Parameters
    ----------
    plate_dir
        The project to tour (CPJUMP1 layout with plate maps).
    screenshots
        Folder for the PNGs (created).
    profiles_dir
        Where ``pipeline.profile_plates`` writes (and caches) the project's profiles.
    device
        Torch device for the encoder.
    model_path
        MAE weights for every step; the bundled weights if None.
    """

    def __init__(
        self,
        plate_dir: Path,
        screenshots: Path,
        profiles_dir: Path,
        device: str = "auto",
        model_path: Path | None = None,
    ) -> None:
        import napari

        self.plate_dir = plate_dir
        self.screenshots = screenshots
        self.profiles_dir = profiles_dir
        self.device = device
        self.model_path = model_path
        self.steps: list[TourStep] = []
        screenshots.mkdir(parents=True, exist_ok=True)
        self.viewer = napari.Viewer(title="Phenoscope tour")
        keep_triton_out_beside_mesa_llvm()
        self.viewer.window._qt_window.resize(*WINDOW_SIZE)
        self._add_docks()

    # --- plumbing --------------------------------------------------------------------
    def _add_docks(self) -> None:
        # lazy: the docks import timm, which must come after keep_triton_out_beside_mesa_llvm
        from napari_phenoscope._widgets.docks import add_all_docks

        docks = add_all_docks(self.viewer)
        freeze_startup_objects()  # the tour is Phenoscope's own process: see there
        self.navigator = docks.navigator
        self.profile = docks.profile
        self.inspect = docks.inspect
        self.profile_map = docks.profile_map
        self.similar = docks.similar
        self.retrieval = docks.retrieval
        self.compare = docks.compare
        self.frames = docks.frames
        self.show_dock("Profile")
        # the docks read the model settings from the viewer's session (and show them)
        state = state_of(self.viewer)
        state.weights_path = self.model_path
        state.device = self.device

    def show_dock(self, name: str) -> None:
        """Bring a dock's tab to the front."""
        self.frames[name].show()
        self.frames[name].raise_()
        self._settle()

    def _settle(self, seconds: float = 0.3) -> None:
        """Run the Qt loop for a moment so that docks, layers and canvas repaint."""
        end = time.monotonic() + seconds
        wait_until(lambda: time.monotonic() > end, timeout=seconds + 5)

    def wait(self, dock: Any, what: str) -> None:
        """Let the Qt loop run until a dock's worker is done; fail if it gave a message."""
        if not wait_until(lambda: not dock.running, timeout=STEP_TIMEOUT):
            raise PhenoscopeError(f"tour step '{what}' did not finish in {STEP_TIMEOUT:.0f} s")
        self._settle()

    def require(self, started: bool, dock: Any, what: str) -> None:
        """Stop the tour with the dock's own message if a step could not start."""
        if not started:
            raise PhenoscopeError(f"tour step '{what}': {dock.status.text()}")

    def snap(self, name: str, title: str, detail: str) -> TourStep:
        """Screenshot the whole window (docks included) as ``<name>.png``."""
        self.viewer.window._qt_window.resize(*WINDOW_SIZE)  # docks may have grown it
        self._settle(0.5)
        path = self.screenshots / f"{name}.png"
        self.viewer.screenshot(str(path), canvas_only=False, flash=False)
        step = TourStep(name, title, detail, path)
        self.steps.append(step)
        print(f"{path}: {title} - {detail}", flush=True)
        return step

    @property
    def session(self) -> Any:
        return state_of(self.viewer).session

    def zoom_on(self, centre: tuple[float, float], span: float) -> None:
        """Centre the camera on a field position (pixels), showing about ``span`` pixels."""
        self.viewer.reset_view()
        dna = self.viewer.layers["DNA"]
        extent = dna.data.shape
        fitted = self.viewer.scene.camera.zoom  # the whole field fits at this zoom
        # the layers are in um where the pixel size is known: pixels -> world coordinates
        self.viewer.scene.camera.center = tuple(dna.data_to_world(centre))
        self.viewer.scene.camera.zoom = fitted * max(extent) / span
        self._settle()

    def _go_to(self, plate: str, well: str, site: int | None = None) -> None:
        self.navigator.go_to(plate, well, site)
        self._settle()

    # --- the steps -------------------------------------------------------------------
    def open_plate(self) -> None:
        """Step 1: the project in the Plate navigator, wells coloured by perturbation type."""
        self.navigator.open(str(self.plate_dir))
        session = self.session
        if session is None:
            raise PhenoscopeError(f"cannot open {self.plate_dir}: {self.navigator.status.text()}")
        if session.well_metadata is None or BROAD_SAMPLE not in session.well_metadata:
            raise PlateFormatError(f"{self.plate_dir} has no plate maps to find BI-2536 with")
        self.bi2536 = bi2536_wells(session.well_metadata)
        plate = self.bi2536[0][0]
        self.navigator.plate_combo.setCurrentText(plate)
        self._settle()
        self.snap(
            "tour_01_plate",
            "Open the plate",
            f"{len(session.fields)} fields on {len(session.plates())} plates; the compound "
            f"plate {plate} is shown, wells coloured by control type.",
        )

    def profile_live(self) -> None:
        """Step 2: segment and embed the BI-2536 wells and two DMSO wells in the Profile dock."""
        session = self.session
        plate, well = self.bi2536[0]
        controls = negcon_wells(session, plate)[:LIVE_WELLS]
        for target_plate, target_well in [(plate, well), *((plate, w) for w in controls)]:
            self._go_to(target_plate, target_well)
            self.show_dock("Profile")
            started = self.profile.run(scope="well", features="vit")
            self.require(started, self.profile, "profile a well")
            self.wait(self.profile, "profile a well")
        self._go_to(plate, well, 1)
        n_cells = 0 if session.cells is None else len(session.cells)
        self.snap(
            "tour_02_profile",
            "Segment and embed a few wells",
            f"{n_cells} cells in {1 + len(controls)} wells segmented and embedded with the "
            "ViT in a worker thread; the nuclei and cells Labels layers carry the per-cell "
            "table as layer.features.",
        )

    def profile_project(self) -> None:
        """Step 3: the whole project through the same code, headless, then loaded."""
        from napari_phenoscope.profiling.pipeline import profile_plates

        outputs = profile_plates(
            [self.plate_dir],
            self.profiles_dir,
            features="both",  # classical features make the Compare step's feature groups
            model_path=self.model_path,
            device=self.device,
            progress=False,
            qc="off",  # the tour's screenshots and numbers predate QC (docs/qc.md)
        )
        self.show_dock("Profile")
        self.require(self.profile.load_output(self.profiles_dir), self.profile, "load profiles")
        self.wait(self.profile, "load profiles")
        self.navigator.colour_combo.setCurrentText("cell count")
        self._settle()
        self.snap(
            "tour_03_project_profiles",
            "Profile the whole project",
            f"phenoscope profile computed {outputs.n_fields_computed} of {outputs.n_fields} "
            f"fields (the rest were cached), {outputs.n_cells} cells; loaded into the "
            "session, the navigator colours wells by cell count.",
        )

    def open_bi2536(self) -> TourStep:
        """Step 4: the BI-2536 well with its labels; select its most condensed nucleus."""
        plate, well = self.bi2536[0]
        self._go_to(plate, well, 1)
        cell = brightest_nucleus(self.viewer, self.session)
        from napari_phenoscope._widgets._cells import select_cell_at

        selected = select_cell_at(self.viewer, cell)
        if selected is None:
            raise PhenoscopeError(f"no cell under {cell} in {plate} {well}")
        self.cell = selected
        self.cell_centre = cell
        cells_layer = self.viewer.layers["cells"]
        cells_layer.show_selected_label = True  # outline the selected cell only
        self.zoom_on(cell, 128)
        step = self.snap(
            "tour_04_bi2536",
            "Open the BI-2536 well",
            f"{plate} {well} site 1: the well the plate map annotates BI-2536 "
            f"(BRD4|PLK1|PLK2|PLK3); cell {selected[3]}, the one with the brightest, most "
            "condensed DNA, is selected (outlined, centre).",
        )
        cells_layer.show_selected_label = False
        return step

    def inspect_cell(self) -> None:
        """Steps 5-6: MAE reconstruction and attention rollout of the selected cell."""
        from napari_phenoscope._widgets.inspect_dock import (
            LAYER_ATTENTION,
            LAYER_ERROR,
            LAYER_MASKED,
            LAYER_RECONSTRUCTION,
        )

        self.show_dock("Inspect")
        started = self.inspect.run(mode="cell", mask_ratio=0.75, seed=0, attention="rollout")
        self.require(started, self.inspect, "inspect a cell")
        self.wait(self.inspect, "inspect a cell")
        self.zoom_on(self.cell_centre, 80)
        layers = self.viewer.layers
        for name, visible in ((LAYER_MASKED, False), (LAYER_ERROR, False)):
            layers[name].visible = visible
        layers[LAYER_ATTENTION].visible = False
        layers[LAYER_RECONSTRUCTION].visible = True
        self.snap(
            "tour_05_reconstruction",
            "Inspect a cell: MAE reconstruction",
            f"{self.inspect.status.text()}. 75 % of the 8 px patches were hidden; the layer "
            "shows the visible ones as they are and the hidden ones as the MAE painted them.",
        )
        layers[LAYER_RECONSTRUCTION].visible = False
        layers[LAYER_MASKED].visible = True
        self.snap(
            "tour_06_masked_input",
            "Inspect a cell: what the MAE was shown",
            "The masked input: the quarter of the patches the encoder saw.",
        )
        layers[LAYER_MASKED].visible = False
        layers[LAYER_ATTENTION].visible = True
        self.snap(
            "tour_07_attention",
            "Inspect a cell: attention rollout",
            "Attention rollout of the CLS token over the six blocks, over the channels.",
        )
        layers[LAYER_ATTENTION].visible = False
        self.viewer.reset_view()

    def profile_map_step(self) -> None:
        """Step 8: UMAP of the well profiles; BI-2536, its target genes and its best match
        marked and labelled (the Similar dock's query, ranked first for the marks)."""
        self.show_dock("Profile map")
        started = self.profile_map.compute(level="wells", feature_set="vit")
        self.require(started, self.profile_map, "profile map")
        self.wait(self.profile_map, "profile map")
        self.similar.feature_combo.setCurrentText("vit")
        ranked = self.similar.find(mode="perturbation", value="BI-2536 · compound")
        self.require(ranked, self.similar, "query similar perturbations")
        self._settle()
        self.snap(
            "tour_08_profile_map",
            "Show the profile map",
            f"UMAP of {self.profile_map_points()} well profiles (ViT features), coloured by "
            "modality; BI-2536 (stars), its target genes (diamonds) and its best match "
            f"(square) marked and labelled: {', '.join(self.profile_map.marked_labels)}.",
        )

    def profile_map_points(self) -> int:
        profiles = self.session.well_profiles.get("vit")
        return 0 if profiles is None else len(profiles)

    def similar_step(self) -> None:
        """Step 9: which perturbations look like BI-2536."""
        self.show_dock("Similar")
        self.similar.feature_combo.setCurrentText("vit")
        started = self.similar.find(mode="perturbation", value="BI-2536 · compound")
        self.require(started, self.similar, "query similar perturbations")
        self._settle(1.0)
        ranking = self.similar.ranking
        top = "" if ranking is None else ", ".join(_ranking_names(ranking, 5))
        self.snap(
            "tour_09_similar",
            "Query similar perturbations",
            f"Perturbations ranked by cosine similarity to BI-2536's consensus profile: {top}.",
        )

    def retrieval_step(self, task: str) -> None:
        """Step 10: compound-gene mAP."""
        self.show_dock("Retrieval")
        started = self.retrieval.compute(task=task, feature_set="vit")
        self.require(started, self.retrieval, "compound-gene mAP")
        self.wait(self.retrieval, "compound-gene mAP")
        summary = _plain(self.retrieval.summary.text() or self.retrieval.status.text())
        per_target = bi2536_average_precision(self.retrieval.results[(task, "vit")].per_query)
        self.snap("tour_10_map", "Compute compound-gene mAP", f"{summary}. BI-2536: {per_target}")

    def compare_step(self) -> None:
        """Steps 11-12: BI-2536 | PLK1 knockout | BRD4 knockout, and the other way round."""
        from qtpy.QtCore import Qt

        from napari_phenoscope.similarity.comparison_figure import feature_rows

        self.show_dock("Compare")
        window = self.viewer.window._qt_window
        window.resizeDocks(
            [self.frames["Compare"]], [COMPARE_DOCK_WIDTH], Qt.Orientation.Horizontal
        )
        for name, gene, versus in (
            ("tour_11_compare_plk1", "PLK1", "BRD4"),
            ("tour_12_compare_brd4", "BRD4", "PLK1"),
        ):
            started = self.compare.run(
                "BI-2536 · compound",
                f"{gene} · crispr",
                "perturbation",
                versus=f"{versus} · crispr",
            )
            self.require(started, self.compare, f"compare BI-2536 with {gene}")
            self.wait(self.compare, f"compare BI-2536 with {gene}")
            comparison = self.compare.comparison
            if comparison is None:
                raise PhenoscopeError(f"tour step 'compare': {self.compare.status.text()}")
            sentences = list(feature_rows(comparison).get("sentence", []))[:2]
            why = f" {'; '.join(sentences)}." if sentences else ""
            self.snap(name, f"BI-2536 | {gene} knockout | {versus} knockout",
                      f"{self.compare.status.text()}.{why}")  # fmt: skip


def negcon_wells(session: Any, plate: str) -> list[str]:
    """Imaged negative-control wells of a plate, in plate order."""
    wells = session.wells_of(plate)
    if CONTROL_TYPE not in wells.columns:
        return []
    return sorted(str(w) for w in wells.loc[wells[CONTROL_TYPE] == NEGATIVE_CONTROL, WELL])


def brightest_nucleus(viewer: Any, session: Any) -> tuple[float, float]:
    """Centre of the cell whose nucleus has the highest mean DNA intensity in the field."""
    from scipy import ndimage

    key = field_key(session)
    if key not in session.labels or session.cells is None:
        raise PhenoscopeError(f"field {key} has not been segmented in the viewer")
    nuclei, _ = session.labels[key]
    dna = np.asarray(viewer.layers["DNA"].data, dtype=np.float64)
    labels = np.unique(nuclei[nuclei > 0])
    means = ndimage.mean(dna, nuclei, labels)
    label = int(labels[int(np.argmax(means))])
    cells = session.cells
    row = cells[
        (cells[PLATE] == key[0])
        & (cells[WELL] == key[1])
        & (cells[SITE] == key[2])
        & (cells[LABEL] == label)
    ].iloc[0]
    return float(row[CENTER_Y]), float(row[CENTER_X])


def _ranking_names(ranking: Any, count: int) -> list[str]:
    """The top perturbations of a similarity ranking as "name (modality, similarity)"."""
    from napari_phenoscope.similarity.rank import PERTURBATION

    return [
        f"{row[PERTURBATION]} ({row[MODALITY]}, {row[SIMILARITY]:.2f})"
        for _, row in ranking.head(count).iterrows()
    ]


def _plain(html: str) -> str:
    """A dock's rich-text label as one plain line."""
    text = re.sub(r"<br\s*/?>", "; ", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", "", text)).split())


def run_tour(
    plate_dir: str | Path | None,
    screenshots: str | Path,
    profiles_dir: str | Path | None = None,
    device: str = "auto",
    model_path: str | Path | None = None,
    close: bool = True,
) -> list[TourStep]:
    """Run the whole tour and return its steps (one PNG each).

    Parameters
    ----------
    plate_dir
        A CPJUMP1-layout project with plate maps; the demo project
        (``demo.ensure_demo_plates``) if None.
    screenshots
        Folder for ``tour_*.png`` (created).
    profiles_dir
        Output folder of the headless profiling (reused on a second run); by default
        ``tour-profiles/<project folder name>`` in the demo cache folder.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    model_path
        MAE weights (safetensors); the bundled weights by default.
    close
        Close the viewer at the end.
    """
    if plate_dir is None:
        plate_dir = ensure_demo_plates(progress=True)
    screenshots = Path(screenshots)
    if profiles_dir is None:
        profiles_dir = default_cache_dir() / "tour-profiles" / Path(plate_dir).resolve().name
    profiles = Path(profiles_dir)
    model = Path(model_path) if model_path else None
    tour = Tour(Path(plate_dir), screenshots, profiles, device, model)
    steps: list[Callable[[], Any]] = [
        tour.open_plate,
        tour.profile_live,
        tour.profile_project,
        tour.open_bi2536,
        tour.inspect_cell,
        tour.profile_map_step,
        tour.similar_step,
        lambda: tour.retrieval_step(compound_gene_task(tour.retrieval)),
        tour.compare_step,
    ]
    try:
        for step in steps:
            step()
    finally:
        if close:
            tour.viewer.close()
    return tour.steps


def compound_gene_task(dock: Any) -> str:
    """Name of the compound-gene retrieval task, as the Retrieval dock lists it."""
    names = [dock.task_combo.itemText(i) for i in range(dock.task_combo.count())]
    chosen = [name for name in names if "compound" in name and "gene" in name]
    if not chosen:
        raise PhenoscopeError(f"the Retrieval dock offers no compound-gene task, only {names}")
    return chosen[0]
