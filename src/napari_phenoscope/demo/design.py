"""What the demo plates show: the JUMP-Target-1 design, the phenotype model, one field.

Genes get latent morphological effects (``demo_render.LATENT_DIMS``); a CRISPR guide shows
its gene's effect, an ORF a weak positive echo of it plus its own effect, a compound a mix
of its targets' effects (some compounds' annotation is wrong), DMSO and negative-control
guides / ORFs none. BI-2536 acts through PLK1 (mitotic arrest), not BRD4. Replicate plates
differ by plate effects (channel gains, illumination) and edge wells differ from the rest.

Everything here is in memory; ``demo`` chooses the wells and writes the project folder.
"""

from __future__ import annotations

import io
import zlib
from functools import cache, lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from napari_phenoscope.constants import (
    BROAD_SAMPLE,
    CHANNELS,
    MODALITIES,
    MODALITY,
    PLATE,
    SITE,
    WELL,
    well_row_col,
)
from napari_phenoscope.demo.render import (
    LATENT_DIMS,
    N_LATENT,
    DemoField,
    RenderStyle,
    render_field,
)

#: BI-2536, annotated BRD4|PLK1|PLK2|PLK3; acts like PLK1 knockout in CPJUMP1.
BI_2536 = "BRD-K64890080-001-02-1"
DEFAULT_SIZE = 256
_BARCODE_BASE = {"compound": 116990, "orf": 117009, "crispr": 118040}
_LATENT = {name: index for index, name in enumerate(LATENT_DIMS)}
#: Mechanisms fixed by the story the demo tells; other compounds draw theirs.
_KNOWN_MECHANISM = {BI_2536: "PLK1"}
#: Genes whose loss arrests mitosis (latent ``mitotic_arrest``); no other gene has it.
_MITOTIC_GENES = {"PLK1": 3.0, "KIF11": 2.5, "TUBB": 2.0, "AURKB": 1.8, "AURKA": 1.2, "CDK1": 1.0}
#: BRD4 loss: large, flat nuclei with dim, diffuse DNA and fewer nucleoli.
_BRD4_EFFECT = {
    "nucleus_size": 2.2,
    "dna_intensity": -1.8,
    "dna_texture": -1.5,
    "cell_size": 1.0,
    "rna_nucleoli": -1.0,
}


# --- design: the bundled JUMP-Target-1 tables ---------------------------------------------


def _bundled(name: str) -> bytes:
    return (resources.files("napari_phenoscope") / "data" / "jump_target" / name).read_bytes()


def load_design(modality: str) -> pd.DataFrame:
    """Plate map of a modality joined with its perturbation metadata (text, "" if missing).

    Columns: well_position, broad_sample, gene (CRISPR / ORF), pert_iname and target_list
    (compounds), control_type. Empty broad_sample on a compound plate is DMSO (negcon).
    """
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; use one of {MODALITIES}")
    return _design(modality).copy()


@cache
def _design(modality: str) -> pd.DataFrame:
    read = {"sep": "\t", "dtype": str, "keep_default_na": False}
    plate = pd.read_csv(io.BytesIO(_bundled(f"{modality}_platemap.tsv")), **read)
    meta = pd.read_csv(io.BytesIO(_bundled(f"{modality}_metadata.tsv")), **read)
    meta = meta.replace("NA", "").drop_duplicates("broad_sample")
    design = plate[["well_position", "broad_sample"]].merge(meta, on="broad_sample", how="left")
    for column in ("gene", "pert_iname", "target_list", "control_type"):
        if column not in design:
            design[column] = ""
    design = design.fillna("")
    design.loc[design["broad_sample"] == "", "control_type"] = "negcon"
    if modality == "compound":
        design.loc[design["broad_sample"] == "", "pert_iname"] = "DMSO"
    return design[
        ["well_position", "broad_sample", "gene", "pert_iname", "target_list", "control_type"]
    ].copy()


# --- phenotypes ---------------------------------------------------------------------------


def _rng(seed: int, *keys: int | str) -> np.random.Generator:
    """Generator seeded by ``seed`` and keys (strings hashed stably with CRC32)."""
    words = [int(seed)] + [zlib.crc32(k.encode()) if isinstance(k, str) else int(k) for k in keys]
    return np.random.default_rng(words)


def _sparse_effect(rng: np.random.Generator, scale: float) -> np.ndarray:
    """A random effect on 3-6 non-mitotic dimensions, each ~N(0, scale)."""
    effect = np.zeros(N_LATENT)
    dims = rng.choice(np.arange(1, N_LATENT), size=rng.integers(3, 7), replace=False)
    effect[dims] = rng.normal(0.0, scale, dims.size)
    return effect


def _noise(rng: np.random.Generator, scale: float) -> np.ndarray:
    """Small N(0, scale) noise on every dimension but mitotic arrest (a discrete state)."""
    noise = rng.normal(0.0, scale, N_LATENT)
    noise[_LATENT["mitotic_arrest"]] = 0.0
    return noise


@lru_cache(maxsize=4096)
def gene_effect(seed: int, gene: str) -> np.ndarray:
    """Latent effect of losing ``gene`` (its CRISPR knockout phenotype); read-only array."""
    rng = _rng(seed, "gene", gene)
    if gene == "BRD4":
        effect = 0.15 * _sparse_effect(rng, 1.0)
        for name, value in _BRD4_EFFECT.items():
            effect[_LATENT[name]] = value
    elif gene in _MITOTIC_GENES:
        effect = 0.3 * _sparse_effect(rng, 1.0)
    elif gene in _control_genes():  # positive-control genes have strong phenotypes
        effect = _sparse_effect(rng, rng.uniform(1.0, 1.6))
    elif rng.random() < 0.3:
        effect = np.zeros(N_LATENT)  # many genes have no visible phenotype in U2OS
    else:
        effect = _sparse_effect(rng, rng.uniform(0.6, 1.6))
    effect[_LATENT["mitotic_arrest"]] = _MITOTIC_GENES.get(gene, 0.0)
    effect.setflags(write=False)
    return effect


def _compound_mechanism(seed: int, row: pd.Series) -> dict[str, float]:
    """Target gene -> weight of a compound's effect (the primary target dominates)."""
    targets = [t for t in row["target_list"].split("|") if t]
    if not targets:
        return {}
    rng = _rng(seed, "mechanism", row["broad_sample"])
    primary = _KNOWN_MECHANISM.get(row["broad_sample"])
    if primary is None and row["control_type"] == "poscon_diverse":
        crispr = _design("crispr")
        matched = crispr.loc[crispr["control_type"] == "poscon_diverse", "gene"]
        primary = next((t for t in targets if t in set(matched)), None)
    if primary is None:
        both = _genes_with_crispr_and_orf()
        candidates = [t for t in targets if t in both] or targets
        primary = str(rng.choice(candidates))
    others = [t for t in targets if t != primary]
    weights = {primary: 0.8 if others else 1.0}
    if others:
        for target, share in zip(others, rng.dirichlet(np.ones(len(others))), strict=True):
            weights[target] = 0.2 * float(share)
    return weights


@cache
def _control_genes() -> frozenset[str]:
    """Genes of positive-control guides (poscon_cp, poscon_diverse, poscon_orf)."""
    crispr = _design("crispr")
    return frozenset(crispr.loc[crispr["control_type"].str.startswith("poscon"), "gene"])


@cache
def _genes_with_crispr_and_orf() -> frozenset[str]:
    crispr = set(_design("crispr")["gene"]) - {""}
    return frozenset(crispr & set(_design("orf")["gene"]))


@lru_cache(maxsize=4096)
def _perturbation_latent(seed: int, modality: str, broad_sample: str) -> np.ndarray:
    design = _design(modality)
    rows = design[design["broad_sample"] == broad_sample]
    if broad_sample == "" or rows.empty or rows.iloc[0]["control_type"] == "negcon":
        return np.zeros(N_LATENT)
    row = rows.iloc[0]
    rng = _rng(seed, modality, broad_sample)
    if modality == "crispr":  # guide efficiency and off-target noise
        return rng.uniform(0.75, 1.0) * gene_effect(seed, row["gene"]) + _noise(rng, 0.12)
    if modality == "orf":  # overexpression: weak echo of the knockout plus its own effect
        own = _sparse_effect(_rng(seed, "orf-own", row["gene"]), 0.8)
        return 0.3 * gene_effect(seed, row["gene"]) + own
    mechanism = _compound_mechanism(seed, row)
    label_noise = row["control_type"] == "" and rng.random() < 0.2
    if label_noise or not mechanism:  # the annotation does not explain the phenotype
        return _sparse_effect(rng, 1.0)
    potency = rng.uniform(0.8, 1.2)
    effect = sum(weight * gene_effect(seed, gene) for gene, weight in mechanism.items())
    return potency * effect + _noise(rng, 0.1)


def perturbation_latent(seed: int, modality: str, broad_sample: str) -> np.ndarray:
    """True latent phenotype of a perturbation (zeros for DMSO and negative controls).

    Examples
    --------
    >>> bool(perturbation_latent(0, "compound", BI_2536)[0] > 2)   # mitotic arrest
    True
    """
    return _perturbation_latent(seed, modality, broad_sample).copy()


# --- plates: barcodes, plate and edge effects ---------------------------------------------


def barcode(modality: str, replicate: int) -> str:
    """CPJUMP1-style barcode of a demo plate (replicate 1-based, at most 9)."""
    if not 1 <= replicate <= 9:
        raise ValueError(f"replicate {replicate} is outside 1..9")
    return f"BR{_BARCODE_BASE[modality] + replicate:08d}"


def edge_ring(well: str) -> int:
    """0 for the outermost wells of a 384-well plate, 1 for the next ring, 2 inside."""
    row, col = well_row_col(well)
    return min(row - 1, 16 - row, col - 1, 24 - col, 2)


def _plate_effects(seed: int, plate: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel gains and a flat-field (vignetting + gradient) shared by a plate."""
    rng = _rng(seed, "plate", plate)
    gains = np.exp(rng.normal(0.0, 0.08, len(CHANNELS)))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1) - 0.5
    tilt = rng.normal(0.0, 0.08, 2)
    vignette = rng.uniform(0.15, 0.25)
    flat = (1.0 - vignette * 2 * (yy**2 + xx**2) + tilt[0] * yy + tilt[1] * xx).astype(np.float32)
    return gains, flat


def well_latent(seed: int, modality: str, plate: str, well: str, broad_sample: str) -> np.ndarray:
    """A well's rendered latent: perturbation + well noise + edge stress (smaller cells)."""
    latent = perturbation_latent(seed, modality, broad_sample)
    latent += _noise(_rng(seed, "well", plate, well), 0.1)
    if edge_ring(well) == 0:
        latent[_LATENT["cell_size"]] -= 0.5
    return latent


_EDGE_GAIN = {0: 1.15, 1: 1.05, 2: 1.0}


def render_well_site(
    seed: int,
    modality: str,
    replicate: int,
    well: str,
    site: int,
    size: int = DEFAULT_SIZE,
    style: RenderStyle | None = None,
) -> DemoField:
    """Render one field of a demo plate exactly as ``write_demo_plates`` writes it.

    ``style`` (``render.RenderStyle``) changes the look only; ``None`` is the demo's own.
    """
    design = _design(modality)
    rows = design[design["well_position"] == well.upper()]
    if rows.empty:
        raise ValueError(f"well {well!r} is not in the JUMP-Target-1 {modality} plate map")
    info = rows.iloc[0]
    plate = barcode(modality, replicate)
    gains, flat = _plate_effects(seed, plate, size)
    row, col = well_row_col(well)
    latent = well_latent(seed, modality, plate, well.upper(), info["broad_sample"])
    field = render_field(
        (seed, MODALITIES.index(modality), replicate, row, col, site),
        latent,
        size=size,
        channel_gain=gains * _EDGE_GAIN[edge_ring(well)],
        illumination=flat,
        style=style,
    )
    label = info["pert_iname"] or info["gene"] or "untreated"
    metadata = {
        PLATE: plate,
        WELL: well.upper(),
        SITE: site,
        MODALITY: modality,
        BROAD_SAMPLE: info["broad_sample"],
        "name": label,
    }
    return DemoField(field.image, field.nuclei, field.cells, field.mitotic, metadata)


def demo_well_field(
    well: str = "E21",
    modality: str = "compound",
    site: int = 1,
    seed: int = 0,
    size: int = DEFAULT_SIZE,
    replicate: int = 1,
) -> DemoField:
    """Render one demo well in memory (default: BI-2536 on the compound plate), no disk.

    Examples
    --------
    >>> field = demo_well_field(size=128)
    >>> field.metadata["name"]
    'BI-2536'
    """
    return render_well_site(seed, modality, replicate, well, site, size)


def _latent_row(seed: int, modality: str, plate: str, well: str) -> dict[str, object]:
    """A well's row of ``ground_truth/latent_effects.parquet`` (its rendered latent)."""
    design = _design(modality)
    info = design[design["well_position"] == well].iloc[0]
    latent = well_latent(seed, modality, plate, well, info["broad_sample"])
    row: dict[str, object] = {
        PLATE: plate,
        WELL: well,
        MODALITY: modality,
        BROAD_SAMPLE: info["broad_sample"],
        "Metadata_name": info["pert_iname"] or info["gene"] or "untreated",
        "Metadata_edge_ring": edge_ring(well),
    }
    row.update({f"latent_{name}": float(v) for name, v in zip(LATENT_DIMS, latent, strict=True)})
    return row
