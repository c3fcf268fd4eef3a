# Long (~520 lines): one field's drawing (cells, nuclei, five stains, textures, camera)
# shares the seeded generator and the cells' geometry; apart, each step would pass both on.
"""Render one Cell Painting-like field (five 16-bit channels) with ground-truth labels.

A field is drawn from a latent phenotype vector (one value per name in ``LATENT_DIMS``,
in units of "standard deviations of a strong effect"; zeros = untreated). Every cell gets
its own copy of that vector (some cells unaffected, all jittered), which sets the shape
and staining of its nucleus and cytoplasm: sizes, elongation, DNA brightness and
condensation, ER / RNA / AGP / Mito intensity, nucleoli, actin fibres, punctate or
tubular mitochondria, perinuclear or spread organelles, and an explicit mitotic-arrest
state (round, small cells with small, bright, condensed DNA). Pixel noise is camera-like:
Poisson shot noise plus an offset and read noise, clipped to a 12-bit range.

Nothing here knows about plates; ``napari_phenoscope.demo.project`` lays fields out on plates.

A little over the house's ~450 lines on purpose: the latent dimensions and the drawing of
the cells they control are read together; ``design`` (which perturbation moves which
dimension) is already apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from scipy import ndimage

from napari_phenoscope.constants import CHANNELS

#: Names of the latent phenotype dimensions, in vector order.
LATENT_DIMS: tuple[str, ...] = (
    "mitotic_arrest",
    "nucleus_size",
    "nucleus_elongation",
    "dna_intensity",
    "dna_texture",
    "cell_size",
    "cell_elongation",
    "er_intensity",
    "rna_nucleoli",
    "agp_actin",
    "mito_intensity",
    "mito_tubular",
    "perinuclear",
    "cytoplasm_texture",
)
N_LATENT: int = len(LATENT_DIMS)
_Z = {name: index for index, name in enumerate(LATENT_DIMS)}

#: Camera model: 12-bit range, dark offset and read noise in ADU.
MAX_VALUE: int = 4095
CAMERA_OFFSET: float = 100.0
READ_NOISE: float = 2.5

#: Untreated signal level (ADU above the offset) per channel, in CHANNELS order.
_BASE_LEVEL = {"DNA": 1200.0, "ER": 650.0, "RNA": 550.0, "AGP": 520.0, "Mito": 800.0}
_CELLS_PER_PIXEL = 34.0 / 256**2  # ~34 cells in a 256 x 256 field
_NUCLEUS_RADIUS = 7.5  # px: nuclei ~15 px across
_CELL_RADIUS = 16.5  # px: cells ~33 px across
_ORIENTATIONS = 4  # precomputed fibre orientations (0, 45, 90, 135 degrees)


@dataclass(frozen=True)
class DemoField:
    """One rendered field and its ground truth.

    Attributes
    ----------
    image
        (5, Y, X) uint16 in ``constants.CHANNELS`` order (DNA, ER, RNA, AGP, Mito),
        values within 0..4095.
    nuclei, cells
        (Y, X) int32 label images; nucleus ``k`` lies inside cell ``k``; 0 is background.
    mitotic
        Boolean per label (index ``k - 1`` for label ``k``): cells rendered in mitotic arrest.
    metadata
        Where the field comes from (plate, well, perturbation) when rendered for a plate.
    """

    image: np.ndarray
    nuclei: np.ndarray
    cells: np.ndarray
    mitotic: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RenderStyle:
    """How a field looks apart from its biology: cell sizes, density, texture, optics, camera.

    The defaults are the demo renderer's own look (a field rendered with ``RenderStyle()`` is
    pixel-identical to one rendered without a style); ``demo.variation`` draws other looks for
    domain randomisation and for held-out "other renderer" test plates.

    Attributes
    ----------
    nucleus_scale, cell_scale
        Multiply the radii of nuclei and of cells (in pixels).
    density
        Multiplies the number of cells placed per field.
    texture_scale
        Multiplies the grain size of chromatin, cytoplasm and fibre textures.
    psf_sigma
        Gaussian optics blur in pixels (defocus widens it).
    background
        Out-of-focus haze / autofluorescence added to every channel (ADU).
    intensity
        Per-channel multiplicative scale (CHANNELS order): stain and exposure.
    crosstalk
        5 x 5 bleed-through matrix (row: detected channel, column: source channel, identity
        diagonal) or ``None`` for none.
    """

    nucleus_scale: float = 1.0
    cell_scale: float = 1.0
    density: float = 1.0
    texture_scale: float = 1.0
    psf_sigma: float = 0.8
    background: float = 8.0
    intensity: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0)
    crosstalk: tuple[tuple[float, ...], ...] | None = None


_DEFAULT_STYLE = RenderStyle()


@dataclass(frozen=True)
class _Cells:
    """Per-cell rendering parameters (one array entry per cell, label = index + 1)."""

    center: np.ndarray  # (n, 2) y, x
    nucleus_axes: np.ndarray  # (n, 2) semi-axes a >= b
    cell_axes: np.ndarray  # (n, 2)
    angle: np.ndarray  # (n,) radians, shared by nucleus and cell
    levels: np.ndarray  # (n, 5) signal level per channel
    dna_texture: np.ndarray
    nucleoli: np.ndarray  # count
    actin: np.ndarray  # fibre contrast
    tubular: np.ndarray  # 0 punctate .. 1 tubular
    spread: np.ndarray  # cytoplasm decay length / cell radius
    granularity: np.ndarray
    mitotic: np.ndarray


def render_field(
    seed: int | Sequence[int],
    phenotype: np.ndarray | None = None,
    size: int = 256,
    n_cells: int | None = None,
    *,
    penetrance: float = 0.8,
    channel_gain: Sequence[float] | np.ndarray | float = 1.0,
    illumination: np.ndarray | None = None,
    style: RenderStyle | None = None,
) -> DemoField:
    """Render a five-channel Cell Painting-like field from a latent phenotype.

    Parameters
    ----------
    seed
        Seed (or sequence of ints, e.g. ``(seed, plate, row, col, site)``) of the field's
        random generator: the same seed gives the same pixels.
    phenotype
        Latent vector of length ``N_LATENT`` (see ``LATENT_DIMS``); ``None`` = untreated.
    size
        Field side in pixels (cells keep their pixel size; their number scales with area).
    n_cells
        Number of cells to place; default ~30 per 256 x 256 px (fewer fit when crowded).
    penetrance
        Fraction of cells that show the phenotype; the others look untreated.
    channel_gain
        Multiplicative intensity per channel (CHANNELS order) or one for all: plate and
        edge effects.
    illumination
        (Y, X) multiplicative flat-field (vignetting, gradients); ``None`` = uniform.
    style
        The field's look (sizes, density, texture, optics; ``RenderStyle``); ``None`` = the
        demo renderer's own.

    Returns
    -------
    DemoField
        Image (5, Y, X) uint16 and int32 nucleus / cell label images.

    Examples
    --------
    >>> field = render_field(0, size=128)
    >>> field.image.shape, field.image.dtype.name
    ((5, 128, 128), 'uint16')
    """
    rng = np.random.default_rng(seed)
    style = _DEFAULT_STYLE if style is None else style
    latent = np.zeros(N_LATENT) if phenotype is None else np.asarray(phenotype, float)
    if latent.shape != (N_LATENT,):
        raise ValueError(f"phenotype has shape {latent.shape}; expected ({N_LATENT},)")
    if n_cells is None:
        expected = _CELLS_PER_PIXEL * style.density * size * size
        n_cells = max(1, int(round(expected * rng.uniform(0.8, 1.2))))
    cells = _cell_parameters(rng, latent, n_cells, penetrance, style)
    cells = _place(rng, cells, size)
    nuclei_labels, cell_labels, nucleus_radius = _draw_labels(rng, cells, size)
    signal = _stain(rng, cells, nuclei_labels, cell_labels, nucleus_radius, style.texture_scale)
    if style.crosstalk is not None:
        signal = np.einsum("ij,jyx->iyx", np.asarray(style.crosstalk, np.float32), signal)
    gain = np.broadcast_to(np.asarray(channel_gain, np.float32), (len(CHANNELS),))
    gain = gain * np.asarray(style.intensity, np.float32)
    image = _camera(rng, signal * gain[:, None, None], illumination, style)
    return DemoField(
        image=image, nuclei=nuclei_labels, cells=cell_labels, mitotic=cells.mitotic.copy()
    )


def _cell_parameters(
    rng: np.random.Generator,
    latent: np.ndarray,
    n: int,
    penetrance: float,
    style: RenderStyle = _DEFAULT_STYLE,
) -> _Cells:
    """Each cell's latent = (well latent if affected) + heterogeneity -> drawing parameters."""
    affected = rng.random(n) < penetrance
    z = affected[:, None] * latent[None, :] + rng.normal(0.0, 0.3, (n, N_LATENT))
    arrest = np.clip(0.03 + 0.3 * np.maximum(latent[_Z["mitotic_arrest"]], 0.0), 0.0, 0.93)
    mitotic = rng.random(n) < np.where(affected, arrest, 0.03)

    def lognormal(dim: str, scale: float, jitter: float) -> np.ndarray:
        return np.exp(scale * z[:, _Z[dim]] + rng.normal(0.0, jitter, n))

    nucleus_radius = style.nucleus_scale * _NUCLEUS_RADIUS * lognormal("nucleus_size", 0.14, 0.1)
    nucleus_aspect = np.clip(1.15 * lognormal("nucleus_elongation", 0.12, 0.06), 1.0, 2.2)
    cell_radius = style.cell_scale * _CELL_RADIUS * lognormal("cell_size", 0.13, 0.12)
    cell_aspect = np.clip(1.3 * lognormal("cell_elongation", 0.18, 0.15), 1.0, 3.0)
    levels = np.empty((n, len(CHANNELS)))
    for index, (channel, dim, scale) in enumerate(
        (
            ("DNA", "dna_intensity", 0.18),
            ("ER", "er_intensity", 0.2),
            ("RNA", "rna_nucleoli", 0.15),
            ("AGP", "agp_actin", 0.15),
            ("Mito", "mito_intensity", 0.2),
        )
    ):
        levels[:, index] = _BASE_LEVEL[channel] * lognormal(dim, scale, 0.1)
    dna_texture = 0.12 * lognormal("dna_texture", 0.35, 0.15)
    nucleoli = np.clip(np.round(2.5 + 0.8 * z[:, _Z["rna_nucleoli"]] + rng.normal(0, 0.7, n)), 0, 6)
    actin = np.clip(0.6 + 0.3 * z[:, _Z["agp_actin"]] + rng.normal(0, 0.1, n), 0.05, 2.0)
    tubular = 1.0 / (1.0 + np.exp(-(0.3 + 1.2 * z[:, _Z["mito_tubular"]])))
    spread = np.clip(0.45 * lognormal("perinuclear", -0.3, 0.1), 0.12, 1.5)
    granularity = np.clip(0.25 * lognormal("cytoplasm_texture", 0.35, 0.1), 0.05, 1.2)

    # Mitotic arrest overrides shape: cells round up, DNA condenses into a small bright mass.
    mitotic_radius = style.nucleus_scale * rng.normal(4.6, 0.35, n)
    nucleus_radius = np.where(mitotic, mitotic_radius, nucleus_radius)
    nucleus_aspect = np.where(mitotic, rng.uniform(1.0, 1.12, n), nucleus_aspect)
    cell_radius = np.where(mitotic, nucleus_radius * rng.uniform(1.9, 2.2, n), cell_radius)
    cell_aspect = np.where(mitotic, rng.uniform(1.0, 1.1, n), cell_aspect)
    levels[:, 0] = np.where(mitotic, levels[:, 0] * 2.3, levels[:, 0])
    levels[:, 3] = np.where(mitotic, levels[:, 3] * 1.4, levels[:, 3])
    dna_texture = np.where(mitotic, 0.3, dna_texture)
    nucleoli = np.where(mitotic, 0, nucleoli)  # nucleoli disassemble in mitosis
    spread = np.where(mitotic, 0.6, spread)

    cell_radius = np.maximum(cell_radius, nucleus_radius * 1.5)
    return _Cells(
        center=np.zeros((n, 2)),
        nucleus_axes=_axes(nucleus_radius, nucleus_aspect),
        cell_axes=_axes(cell_radius, cell_aspect),
        angle=rng.uniform(0.0, np.pi, n),
        levels=levels,
        dna_texture=dna_texture,
        nucleoli=nucleoli.astype(int),
        actin=actin,
        tubular=tubular,
        spread=spread,
        granularity=granularity,
        mitotic=mitotic,
    )


def _axes(radius: np.ndarray, aspect: np.ndarray) -> np.ndarray:
    """Semi-axes (a, b) of an ellipse of equal area to a disc of ``radius``."""
    root = np.sqrt(aspect)
    return np.stack([radius * root, radius / root], axis=1)


def _place(rng: np.random.Generator, cells: _Cells, size: int) -> _Cells:
    """Scatter cells without overlapping nuclei; neighbours may touch (cells are squeezed)."""
    kept: list[int] = []
    centers: list[np.ndarray] = []
    order = np.argsort(-cells.cell_axes[:, 0])  # big cells first, small ones fill the gaps
    for index in order:
        for _ in range(40):
            center = rng.uniform(0, size, 2)
            if not centers:
                break
            others = np.asarray(centers)
            distance = np.hypot(*(others - center).T)
            nucleus_gap = 1.15 * (cells.nucleus_axes[kept, 0] + cells.nucleus_axes[index, 0]) + 2
            cell_gap = 0.75 * (cells.cell_axes[kept, 1] + cells.cell_axes[index, 1])
            if np.all(distance > np.maximum(nucleus_gap, cell_gap)):
                break
        else:
            continue  # no room left for this cell
        kept.append(int(index))
        centers.append(center)
    keep = np.asarray(sorted(kept), dtype=int)
    center_of = dict(zip(kept, centers, strict=True))
    subset = {item.name: getattr(cells, item.name)[keep] for item in fields(cells)}
    subset["center"] = np.asarray([center_of[i] for i in keep]).reshape(-1, 2)
    return _Cells(**subset)


def _ellipse_distance(
    rng: np.random.Generator,
    center: np.ndarray,
    axes: np.ndarray,
    angle: float,
    reach: float,
    size: int,
    roughness: float,
) -> tuple[tuple[slice, slice], np.ndarray]:
    """Normalized elliptic distance (1 on the outline) in a box around ``center``.

    The outline is wobbled by a few low harmonics so shapes are not perfect ellipses.
    """
    y0, x0 = (max(0, int(c - reach)) for c in center)
    y1, x1 = (min(size, int(c + reach) + 2) for c in center)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dy, dx = yy - center[0], xx - center[1]
    cos, sin = np.cos(angle), np.sin(angle)
    u, v = dx * cos + dy * sin, -dx * sin + dy * cos
    distance = np.hypot(u / axes[0], v / axes[1])
    phi = np.arctan2(v, u)
    wobble = np.zeros_like(distance)
    for harmonic in (2, 3, 4):
        amplitude = rng.normal(0.0, roughness / harmonic)
        wobble += amplitude * np.cos(harmonic * phi + rng.uniform(0, 2 * np.pi))
    return (slice(y0, y1), slice(x0, x1)), distance * (1.0 + wobble)


def _draw_labels(
    rng: np.random.Generator, cells: _Cells, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nucleus and cell label images, and each nuclear pixel's normalized radius."""
    nuclei = np.zeros((size, size), np.int32)
    nucleus_radius = np.full((size, size), np.inf, np.float32)
    cell_best = np.full((size, size), np.inf, np.float32)
    cell_owner = np.zeros((size, size), np.int32)
    for index in range(len(cells.angle)):
        label = index + 1
        box, distance = _ellipse_distance(
            rng,
            cells.center[index],
            cells.cell_axes[index],
            cells.angle[index],
            1.3 * cells.cell_axes[index, 0] + 2,
            size,
            0.12,
        )
        closer = distance < cell_best[box]
        cell_best[box][closer] = distance[closer]
        cell_owner[box][closer] = label
        box, distance = _ellipse_distance(
            rng,
            cells.center[index],
            cells.nucleus_axes[index],
            cells.angle[index] + rng.normal(0, 0.2),
            1.2 * cells.nucleus_axes[index, 0] + 2,
            size,
            0.05,
        )
        inside = (distance < 1.0) & (nuclei[box] == 0)
        nuclei[box][inside] = label
        nucleus_radius[box][inside] = distance[inside]
    cell_labels = np.where(cell_best < 1.0, cell_owner, 0).astype(np.int32)
    cell_labels[nuclei > 0] = nuclei[nuclei > 0]
    return nuclei, _keep_nucleus_component(cell_labels, nuclei), nucleus_radius


def _keep_nucleus_component(cell_labels: np.ndarray, nuclei: np.ndarray) -> np.ndarray:
    """Drop fragments of a cell cut off from its nucleus (weighted-Voronoi leftovers)."""
    cleaned = cell_labels.copy()
    for label, box in enumerate(ndimage.find_objects(cell_labels), start=1):
        if box is None:
            continue
        mask = cell_labels[box] == label
        parts, count = ndimage.label(mask)
        if count <= 1:
            continue
        own = np.unique(parts[(nuclei[box] == label) & mask])
        cleaned[box][mask & ~np.isin(parts, own[own > 0])] = 0
    return cleaned


def _normalized(noise: np.ndarray) -> np.ndarray:
    return (noise - noise.mean()) / (noise.std() + 1e-6)


def _textures(rng: np.random.Generator, size: int, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Shared noise fields: fine and coarse grain, and fibres in four orientations."""
    white = rng.normal(0.0, 1.0, (3, size, size)).astype(np.float32)
    textures = {
        "fine": _normalized(ndimage.gaussian_filter(white[0], 0.9 * scale)),
        "grain": _normalized(ndimage.gaussian_filter(white[1], 1.6 * scale)),
    }
    spectrum = np.fft.rfft2(white[2])
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    fibres = []
    for k in range(_ORIENTATIONS):
        theta = np.pi * k / _ORIENTATIONS
        along = fx * np.cos(theta) + fy * np.sin(theta)
        across = -fx * np.sin(theta) + fy * np.cos(theta)
        # Long (6 px) along the fibre, thin (0.8 px) across it: a line-like texture.
        kernel = np.exp(-2 * np.pi**2 * ((6.0 * scale * along) ** 2 + (0.8 * scale * across) ** 2))
        fibres.append(_normalized(np.fft.irfft2(spectrum * kernel, s=(size, size))))
    textures["fibres"] = np.stack(fibres).astype(np.float32)
    return textures


def _stain(
    rng: np.random.Generator,
    cells: _Cells,
    nuclei: np.ndarray,
    cell_labels: np.ndarray,
    nucleus_radius: np.ndarray,
    texture_scale: float = 1.0,
) -> np.ndarray:
    """Noise-free signal per channel (5, Y, X), float32, in ADU above the camera offset."""
    size = cell_labels.shape[0]
    tex = _textures(rng, size, texture_scale)

    # Per-pixel lookups of per-cell parameters (index 0 = background, zeros).
    def per_pixel(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.asarray(values, np.float64)]).astype(np.float32)[labels]

    in_nucleus = nuclei > 0
    in_cytoplasm = (cell_labels > 0) & ~in_nucleus
    radius = np.where(in_nucleus, nucleus_radius, 0).astype(np.float32)
    distance = ndimage.distance_transform_edt(~in_nucleus).astype(np.float32)
    cell_size = per_pixel(np.sqrt(cells.cell_axes.prod(axis=1)), cell_labels)
    spread = per_pixel(cells.spread, cell_labels)
    decay = np.where(in_cytoplasm, np.exp(-distance / np.maximum(spread * cell_size, 1.0)), 0)
    granular = 1.0 + per_pixel(cells.granularity, cell_labels) * tex["grain"]
    level = [per_pixel(cells.levels[:, c], cell_labels) for c in range(len(CHANNELS))]
    orientation = np.round(cells.angle / (np.pi / _ORIENTATIONS)).astype(int) % _ORIENTATIONS
    fibre_index = np.concatenate([[0], orientation])[cell_labels]
    fibres = np.take_along_axis(tex["fibres"], fibre_index[None], axis=0)[0]
    mito_index = np.concatenate([[0], (orientation + 2) % _ORIENTATIONS])[cell_labels]
    mito_fibres = np.take_along_axis(tex["fibres"], mito_index[None], axis=0)[0]

    signal = np.zeros((len(CHANNELS), size, size), np.float32)
    # DNA: domed nucleus with chromatin texture (condensation raises its contrast).
    dna_texture = per_pixel(cells.dna_texture, nuclei)
    dome = 0.8 + 0.2 * (1.0 - np.minimum(radius, 1.0) ** 2)
    chromatin = np.maximum(1.0 + dna_texture * 1.6 * tex["fine"], 0.2)
    signal[0] = np.where(in_nucleus, per_pixel(cells.levels[:, 0], nuclei) * dome * chromatin, 0)
    # ER: perinuclear reticulum plus the nuclear envelope, little inside the nucleus.
    envelope = np.where(in_nucleus, np.exp(-((radius - 0.95) ** 2) / 0.01), 0)
    er_nucleus = per_pixel(cells.levels[:, 1], nuclei)
    signal[1] = level[1] * decay * granular * np.maximum(1 + 0.35 * tex["fine"], 0)
    signal[1] += er_nucleus * (0.12 + 0.7 * envelope)
    # RNA: cytoplasm and nucleoplasm, bright nucleoli.
    signal[2] = level[2] * (0.35 * decay + 0.15 * in_cytoplasm) * granular
    signal[2] += np.where(in_nucleus, 0.3 * per_pixel(cells.levels[:, 2], nuclei), 0)
    signal[2] += _nucleoli(rng, cells, size)
    # AGP: actin fibres along the cell axis and a bright cortex at the cell outline.
    actin = per_pixel(cells.actin, cell_labels)
    outline = ndimage.gaussian_filter(_outline(cell_labels), 0.7)
    body = (cell_labels > 0) * (0.45 + actin * np.maximum(fibres, 0) * 0.8)
    signal[3] = level[3] * (body + 1.4 * outline)
    # Mito: punctate (thresholded grain) or tubular (fibres), concentrated near the nucleus.
    tubular = per_pixel(cells.tubular, cell_labels)
    punctate = np.maximum(tex["fine"] - 0.3, 0)
    threads = np.maximum(mito_fibres - 0.2, 0)
    mito = (1 - tubular) * punctate + tubular * threads
    signal[4] = level[4] * np.where(in_cytoplasm, (0.15 + mito) * (0.25 + decay), 0)
    return signal


def _outline(labels: np.ndarray) -> np.ndarray:
    """1.0 on the pixels of a cell that touch another label or the background."""
    padded = np.pad(labels, 1, mode="edge")
    center = padded[1:-1, 1:-1]
    edge = np.zeros(labels.shape, bool)
    for dy, dx in ((0, 1), (2, 1), (1, 0), (1, 2)):
        edge |= padded[dy : dy + labels.shape[0], dx : dx + labels.shape[1]] != center
    return (edge & (labels > 0)).astype(np.float32)


def _nucleoli(rng: np.random.Generator, cells: _Cells, size: int) -> np.ndarray:
    """Bright blobs (sigma ~1.3 px) inside each nucleus, ``cells.nucleoli`` of them."""
    impulses = np.zeros((size, size), np.float32)
    for index in range(len(cells.angle)):
        count = int(cells.nucleoli[index])
        if count == 0:
            continue
        radius = 0.5 * cells.nucleus_axes[index, 1] * np.sqrt(rng.random(count))
        theta = rng.uniform(0, 2 * np.pi, count)
        y = np.clip(np.round(cells.center[index, 0] + radius * np.sin(theta)), 0, size - 1)
        x = np.clip(np.round(cells.center[index, 1] + radius * np.cos(theta)), 0, size - 1)
        np.add.at(impulses, (y.astype(int), x.astype(int)), cells.levels[index, 2])
    sigma = 1.3
    return ndimage.gaussian_filter(impulses, sigma) * (2 * np.pi * sigma**2) * 1.6


def _camera(
    rng: np.random.Generator,
    signal: np.ndarray,
    illumination: np.ndarray | None,
    style: RenderStyle = _DEFAULT_STYLE,
) -> np.ndarray:
    """Optics blur, flat-field, Poisson shot noise, offset and read noise -> uint16 12-bit."""
    sigma = style.psf_sigma
    blurred = ndimage.gaussian_filter(signal, (0, sigma, sigma), truncate=3.0)
    blurred += style.background  # autofluorescence / out-of-focus haze
    if illumination is not None:
        blurred *= np.asarray(illumination, np.float32)[None]
    # Shot noise as its Gaussian limit (variance = mean, exact enough above ~10 counts and
    # several times faster than Poisson draws), plus read noise, both in float32.
    photons = np.maximum(blurred, 0)
    noise = rng.standard_normal(photons.shape, dtype=np.float32)
    counts = photons + noise * np.sqrt(photons + READ_NOISE**2) + CAMERA_OFFSET
    return np.clip(np.round(counts), 0, MAX_VALUE).astype(np.uint16)
