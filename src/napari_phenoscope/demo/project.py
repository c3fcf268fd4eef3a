# Long (~460 lines): the demo plates are one job (pick wells, render, write, manifest, read
# back, ensure cached) over one set of parameters; drawing is render.py, the design design.py.
"""Deterministic demo plates: JUMP-Target-1 layouts rendered as CPJUMP1-format projects.

The phenotypes (which perturbation looks like which gene's loss, plate and edge effects)
and the rendering of one field live in ``demo_phenotypes``; this module chooses the wells,
writes the project and caches it. The output is a project folder in the Cell Painting
Gallery layout::

    images/<BARCODE>__<timestamp>/Images/r01c01f01p01-ch1sk1fk1fl1.tiff
    load_data_csv/<BARCODE>/load_data.csv
    metadata/platemaps/<batch>/barcode_platemap.csv, platemap/<Plate_Map_Name>.txt
    metadata/external_metadata/JUMP-Target-1_<modality>_metadata.tsv
    ground_truth/<BARCODE>/r01c01f01p01_nuclei.tiff, r01c01f01p01_cells.tiff
    ground_truth/latent_effects.parquet
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
from filelock import FileLock

from napari_phenoscope.constants import (
    CHANNELS,
    CPJUMP1_CHANNEL_MAP,
    MODALITIES,
    PLATE,
    SITE,
    WELL,
    well_row_col,
)
from napari_phenoscope.demo.defects import QC_TRUTH_NAME, apply_defect, choose_defect
from napari_phenoscope.demo.design import (
    BI_2536,
    DEFAULT_SIZE,
    _bundled,
    _design,
    _genes_with_crispr_and_orf,
    _latent_row,
    _rng,
    barcode,
    demo_well_field,
    perturbation_latent,
    render_well_site,
)
from napari_phenoscope.demo.design import edge_ring as edge_ring
from napari_phenoscope.demo.design import gene_effect as gene_effect
from napari_phenoscope.demo.design import load_design as load_design
from napari_phenoscope.demo.render import DemoField, render_field
from napari_phenoscope.demo.variation import VARIATIONS, field_style
from napari_phenoscope.errors import PhenoscopeError

__all__ = [
    "BI_2536",
    "DemoField",
    "DemoManifest",
    "DemoPlate",
    "demo_well_field",
    "ensure_demo_plates",
    "perturbation_latent",
    "render_field",
    "select_wells",
    "write_demo_plates",
]

BATCH = "2020_11_04_CPJUMP1"
DEFAULT_WELLS = 64
DEFAULT_SITES = 2
DEFAULT_REPLICATES = 2
#: Bump when the rendering changes, so cached demo folders are not reused.
GENERATOR_VERSION = 1
_CHANNEL_NUMBER = {name: number for number, name in CPJUMP1_CHANNEL_MAP.items()}


@dataclass(frozen=True)
class DemoPlate:
    """One written plate: barcode, modality, replicate and its folders."""

    barcode: str
    modality: str
    replicate: int
    images: Path
    load_data: Path
    ground_truth: Path


@dataclass(frozen=True)
class DemoManifest:
    """What ``write_demo_plates`` wrote (also saved as ``demo_manifest.json``)."""

    root: Path
    plates: tuple[DemoPlate, ...]
    wells: dict[str, tuple[str, ...]]
    latent_effects: Path
    parameters: dict[str, float]


# --- which wells to render ----------------------------------------------------------------


def _wells_where(design: pd.DataFrame, mask: pd.Series) -> list[str]:
    return sorted(design.loc[mask, "well_position"])


def _spread(wells: list[str], count: int) -> list[str]:
    """``count`` wells evenly spaced through a sorted list (so controls span the plate)."""
    if count >= len(wells):
        return list(wells)
    picks = np.linspace(0, len(wells) - 1, count).round().astype(int)
    return [wells[i] for i in picks]


def select_wells(n_wells: int = DEFAULT_WELLS, seed: int = 0) -> dict[str, tuple[str, ...]]:
    """Choose ``n_wells`` wells per modality that keep the demo's stories testable.

    Always included: the BI-2536 wells; the PLK1 and BRD4 guides and ORFs; negative
    controls spread over the plate (DMSO, negcon guides / ORFs, ``n_wells // 8``); then,
    gene by gene, the poscon_diverse genes and a seeded draw of other genes that have
    both guides and ORFs, each with its guides, its ORF wells and up to two compounds
    annotated with it (compound-gene triples). Leftover slots get other wells.

    Returns
    -------
    dict
        Modality -> sorted well names (all 384 wells when ``n_wells >= 384``).
    """
    designs = {modality: _design(modality) for modality in MODALITIES}
    if n_wells >= 384:
        return {m: tuple(sorted(d["well_position"])) for m, d in designs.items()}
    if n_wells < 12:
        raise ValueError(f"n_wells={n_wells}: the demo needs at least 12 wells per plate")
    chosen: dict[str, list[str]] = {m: [] for m in MODALITIES}

    def fits(modality: str, wells: list[str]) -> bool:
        new = set(wells) - set(chosen[modality])
        return len(chosen[modality]) + len(new) <= n_wells

    def add(modality: str, wells: list[str]) -> None:
        chosen[modality] += [w for w in wells if w not in chosen[modality]]

    compounds, crispr, orf = designs["compound"], designs["crispr"], designs["orf"]
    add("compound", _wells_where(compounds, compounds["broad_sample"] == BI_2536))
    for gene in ("PLK1", "BRD4"):
        add("crispr", _wells_where(crispr, crispr["gene"] == gene))
        add("orf", _wells_where(orf, orf["gene"] == gene)[:2])
    n_controls = max(2, n_wells // 8)
    for modality, design in designs.items():
        add(modality, _spread(_wells_where(design, design["control_type"] == "negcon"), n_controls))

    poscon = sorted(set(crispr.loc[crispr["control_type"] == "poscon_diverse", "gene"]))
    targeted = {t for targets in compounds["target_list"] for t in targets.split("|") if t}
    others = sorted((_genes_with_crispr_and_orf() & targeted) - set(poscon) - {"PLK1", "BRD4"})
    others = list(_rng(seed, "well-selection").permutation(others))
    for gene in ["PLK1", "BRD4", *poscon, *others]:
        annotated = compounds["target_list"].str.split("|").apply(lambda ts, g=gene: g in ts)
        samples = [s for s in dict.fromkeys(compounds.loc[annotated, "broad_sample"])][:2]
        compound_wells = _wells_where(compounds, compounds["broad_sample"].isin(samples))
        guide_wells = _wells_where(crispr, crispr["gene"] == gene)
        orf_wells = _wells_where(orf, orf["gene"] == gene)[:2]
        if not (guide_wells and orf_wells and compound_wells):
            continue
        if (
            fits("crispr", guide_wells)
            and fits("orf", orf_wells)
            and fits("compound", compound_wells)
        ):
            add("crispr", guide_wells)
            add("orf", orf_wells)
            add("compound", compound_wells)
    for modality, design in designs.items():  # fill the rest with a seeded draw
        rest = [w for w in sorted(design["well_position"]) if w not in chosen[modality]]
        order = _rng(seed, "fill", modality).permutation(len(rest))
        add(modality, [rest[i] for i in order[: n_wells - len(chosen[modality])]])
    return {m: tuple(sorted(wells)) for m, wells in chosen.items()}


# --- writing ------------------------------------------------------------------------------


def _field_stem(well: str, site: int) -> str:
    row, col = well_row_col(well)
    return f"r{row:02d}c{col:02d}f{site:02d}p01"


def _channel_file(well: str, site: int, channel: str) -> str:
    return f"{_field_stem(well, site)}-ch{_CHANNEL_NUMBER[channel]}sk1fk1fl1.tiff"


def _write_tiff(path: Path, plane: np.ndarray) -> None:
    # A plain 2-D page without tifffile's JSON description, byte-identical run to run;
    # fast Deflate (standard TIFF, any reader) halves the demo's disk footprint.
    tifffile.imwrite(
        path,
        plane,
        photometric="minisblack",
        metadata=None,
        compression="zlib",
        compressionargs={"level": 1},
    )


def _write_metadata(root: Path, plates: list[tuple[str, str]]) -> None:
    """Plate maps and external metadata: byte copies of the bundled JUMP-Target-1 files."""
    batch = root / "metadata" / "platemaps" / BATCH
    (batch / "platemap").mkdir(parents=True, exist_ok=True)
    lines = ["Assay_Plate_Barcode,Plate_Map_Name"]
    for plate, modality in plates:
        lines.append(f"{plate},JUMP-Target-1_{modality}_platemap")
    (batch / "barcode_platemap.csv").write_text("\n".join(lines) + "\n")
    external = root / "metadata" / "external_metadata"
    external.mkdir(parents=True, exist_ok=True)
    for modality in sorted({modality for _, modality in plates}):
        platemap = batch / "platemap" / f"JUMP-Target-1_{modality}_platemap.txt"
        platemap.write_bytes(_bundled(f"{modality}_platemap.tsv"))
        metadata = external / f"JUMP-Target-1_{modality}_metadata.tsv"
        metadata.write_bytes(_bundled(f"{modality}_metadata.tsv"))


def write_demo_plates(
    out_dir: str | Path,
    seed: int = 0,
    n_wells: int = DEFAULT_WELLS,
    n_sites: int = DEFAULT_SITES,
    size: int = DEFAULT_SIZE,
    n_replicates: int = DEFAULT_REPLICATES,
    progress: bool = True,
    variation: str | None = None,
    defects: float = 0.0,
) -> DemoManifest:
    """Render the demo project: compound, CRISPR and ORF plates, ``n_replicates`` each.

    Parameters
    ----------
    out_dir
        Project folder to write (created; existing demo files are overwritten).
    seed
        Seed of everything: gene effects, mechanisms, plate effects, cells, noise.
    n_wells
        Wells rendered per plate (``select_wells``); 384 renders whole plates.
    n_sites
        Fields per well.
    size
        Field side in pixels.
    n_replicates
        Replicate plates per modality (each its own barcode and plate effects), 1..9.
    progress
        Show a progress bar.
    variation
        ``None`` (the demo's own look), ``"train"`` (a randomised look per field) or
        ``"heldout"`` (one look unlike any training field); see ``demo.variation``.
    defects
        Fraction of fields given a defect (defocus, saturating debris or no cells,
        ``demo.defects``), seeded; the truth is written to ``ground_truth/qc_truth.csv``.
        0 (the default) renders clean plates.

    Returns
    -------
    DemoManifest
        Plates written, wells per modality and the ground-truth latent table.
    """
    _check_parameters(n_wells=n_wells, n_sites=n_sites, size=size, n_replicates=n_replicates)
    if variation is not None and variation not in VARIATIONS:
        raise PhenoscopeError(f"demo variation {variation!r} is not one of {', '.join(VARIATIONS)}")
    root = Path(out_dir).resolve()
    wells = select_wells(n_wells, seed)
    plates = [
        (barcode(modality, replicate), modality, replicate)
        for modality in MODALITIES
        for replicate in range(1, n_replicates + 1)
    ]
    _write_metadata(root, [(plate, modality) for plate, modality, _ in plates])
    jobs = [(p, w, s) for p in plates for w in wells[p[1]] for s in range(1, n_sites + 1)]
    bar = _progress(len(jobs), progress)
    if not 0.0 <= defects <= 1.0:
        raise PhenoscopeError(f"demo parameter defects={defects} is outside 0..1")
    written, latent_rows, load_data = [], [], {plate: [] for plate, _, _ in plates}
    truth_rows = []
    folders = {}
    for plate, modality, replicate in plates:
        images = root / "images" / f"{plate}__2020-11-0{replicate}T19_51_35-Measurement1" / "Images"
        truth = root / "ground_truth" / plate
        csv = root / "load_data_csv" / plate / "load_data.csv"
        for folder in (images, truth, csv.parent):
            folder.mkdir(parents=True, exist_ok=True)
        folders[plate] = (images, truth)
        written.append(DemoPlate(plate, modality, replicate, images, csv, truth))
    for (plate, modality, replicate), well, site in jobs:
        images, truth = folders[plate]
        style = None if variation is None else field_style(variation, seed, plate, well, site)
        field = render_well_site(seed, modality, replicate, well, site, size, style)
        row = {PLATE: plate, WELL: well, SITE: site}
        if defects:
            defect = choose_defect(seed, plate, well, site, defects)
            field = apply_defect(field, defect, seed, (plate, well, site))
            truth_rows.append({**row, "defect": defect})
        for index, channel in enumerate(CHANNELS):
            name = _channel_file(well, site, channel)
            _write_tiff(images / name, field.image[index])
            row[f"FileName_Orig{channel}"] = name
            row[f"PathName_Orig{channel}"] = str(images)
        load_data[plate].append(row)
        stem = _field_stem(well, site)
        _write_tiff(truth / f"{stem}_nuclei.tiff", field.nuclei.astype(np.uint16))
        _write_tiff(truth / f"{stem}_cells.tiff", field.cells.astype(np.uint16))
        if site == 1:
            latent_rows.append(_latent_row(seed, modality, plate, well))
        bar.update(1)
    bar.close()
    for item in written:
        pd.DataFrame(load_data[item.barcode]).to_csv(item.load_data, index=False)
    latent_path = root / "ground_truth" / "latent_effects.parquet"
    pd.DataFrame(latent_rows).to_parquet(latent_path, index=False)
    if defects:
        pd.DataFrame(truth_rows).to_csv(root / "ground_truth" / QC_TRUTH_NAME, index=False)
    parameters = {
        "seed": seed,
        "n_wells": n_wells,
        "n_sites": n_sites,
        "size": size,
        "n_replicates": n_replicates,
        "version": GENERATOR_VERSION,
    }
    if variation is not None:
        parameters["variation"] = variation  # type: ignore[assignment]
    if defects:  # clean plates keep the parameters (and cache folders) they always had
        parameters["defects"] = defects
    manifest = DemoManifest(root, tuple(written), wells, latent_path, parameters)
    _save_manifest(manifest)
    return manifest


_LIMITS = {"n_wells": (12, 384), "n_sites": (1, 99), "size": (64, 2048), "n_replicates": (1, 9)}


def _check_parameters(**values: int) -> None:
    for name, value in values.items():
        low, high = _LIMITS[name]
        if not low <= value <= high:
            raise PhenoscopeError(f"demo parameter {name}={value} is outside {low}..{high}")


class _NoProgress:
    def update(self, n: int) -> None:
        """Ignore progress."""

    def close(self) -> None:
        """Nothing to close."""


def _progress(total: int, show: bool):
    if not show:
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="rendering demo fields", unit="field")


MANIFEST_NAME = "demo_manifest.json"


def _save_manifest(manifest: DemoManifest) -> None:
    root = manifest.root
    plates = [
        {
            **asdict(plate),
            **{
                k: str(getattr(plate, k).relative_to(root))
                for k in ("images", "load_data", "ground_truth")
            },
        }
        for plate in manifest.plates
    ]
    payload = {
        "parameters": manifest.parameters,
        "plates": plates,
        "wells": {m: list(w) for m, w in manifest.wells.items()},
        "latent_effects": str(manifest.latent_effects.relative_to(root)),
    }
    # the manifest marks a complete project (ensure_demo_plates): never half-written
    temporary = root / f".{MANIFEST_NAME}.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(payload, indent=1))
    os.replace(temporary, root / MANIFEST_NAME)


def read_demo_manifest(root: str | Path) -> DemoManifest:
    """Read the ``demo_manifest.json`` that ``write_demo_plates`` left in ``root``."""
    root = Path(root).resolve()
    payload = json.loads((root / MANIFEST_NAME).read_text())
    plates = tuple(
        DemoPlate(
            p["barcode"],
            p["modality"],
            int(p["replicate"]),
            root / p["images"],
            root / p["load_data"],
            root / p["ground_truth"],
        )
        for p in payload["plates"]
    )
    wells = {m: tuple(w) for m, w in payload["wells"].items()}
    return DemoManifest(
        root, plates, wells, root / payload["latent_effects"], payload["parameters"]
    )


def default_cache_dir() -> Path:
    """``$PHENOSCOPE_CACHE`` if set, else ``~/.cache/napari-phenoscope``."""
    configured = os.environ.get("PHENOSCOPE_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "napari-phenoscope"


def ensure_demo_plates(cache_dir: str | Path | None = None, **kwargs: int) -> Path:
    """Write the demo project once into a cache folder and return its root.

    Parameters
    ----------
    cache_dir
        Parent folder; ``default_cache_dir()`` when ``None``.
    **kwargs
        ``seed``, ``n_wells``, ``n_sites``, ``size``, ``n_replicates``, ``progress`` of
        ``write_demo_plates``; the folder is ``demo-<hash of these and the generator
        version>``, so other parameters get their own folder.
    """
    progress = bool(kwargs.pop("progress", False))
    parameters = {
        "seed": 0,
        "n_wells": DEFAULT_WELLS,
        "n_sites": DEFAULT_SITES,
        "size": DEFAULT_SIZE,
        "n_replicates": DEFAULT_REPLICATES,
    }
    unknown = set(kwargs) - set(parameters)
    if unknown:
        raise TypeError(f"ensure_demo_plates() got unknown parameter(s) {sorted(unknown)}")
    parameters.update({k: int(v) for k, v in kwargs.items()})
    key = json.dumps({**parameters, "version": GENERATOR_VERSION}, sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root = (root / f"demo-{digest}").resolve()
    if (root / MANIFEST_NAME).is_file():  # written last and atomically: the folder is complete
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    # Two first runs at once (two terminals, the demo beside the test suite): one renders,
    # the other waits for it and reuses its folder. The OS drops the lock of a killed run.
    with FileLock(root.parent / f"{root.name}.lock"):
        if (root / MANIFEST_NAME).is_file():
            return root
        if root.exists():  # an interrupted earlier run: start over
            shutil.rmtree(root)
        write_demo_plates(root, progress=progress, **parameters)
    return root
