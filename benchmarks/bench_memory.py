"""Peak RSS of ``phenoscope profile`` on a 384-well plate of 1080 px fields (target < 3 GiB).

Run: ``.venv/bin/python benchmarks/bench_memory.py [--wells 384] [--features both]``.

A 384-well profile run has two phases whose memory does not depend on each other: fields
are streamed one at a time (read, segment, crop, embed / measure, cache), then every cached
field is concatenated into the single-cell table and the well profiles. Computing 384
fields of 1080 px takes hours on two shared cores, so the benchmark measures each phase on
its own, with the real command in a child process (peak RSS from ``getrusage``):

1. ``profile --wells`` over ``--distinct`` rendered fields (two of them DMSO wells): the
   streaming phase (encoder loaded, one field in memory at a time);
2. the caches of those fields resampled into every other well but one (renamed),
   then ``profile`` of the whole plate: it resumes, computes the one remaining field (the
   encoder is loaded again) and assembles all wells: the assembly phase at full size.

It prints the peak RSS of each phase, cells, wall time and the ratio to the target.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import tifffile

from napari_phenoscope.constants import (
    CHANNELS,
    CPJUMP1_CHANNEL_MAP,
    WELL,
    well_name,
    well_row_col,
)
from napari_phenoscope.demo import render_field
from napari_phenoscope.profiling.outputs import field_cache_path, write_parquet_atomic

TARGET_GIB = 3.0
BARCODE = "BR00116991"
CHANNEL_NUMBER = {name: number for number, name in CPJUMP1_CHANNEL_MAP.items()}


def write_plate(root: Path, n_wells: int, computed: list[str], size: int) -> tuple[Path, list[str]]:
    """A CPJUMP1-layout compound plate: the ``computed`` wells get their own rendered field,
    every other well a hard link to one of them (its pixels are never read: phase 2 finds
    its cells in the cache)."""
    images = root / "images" / f"{BARCODE}__2020-11-05T19_51_35-Measurement1" / "Images"
    images.mkdir(parents=True)
    wells = [well_name(row, col) for row in range(1, 17) for col in range(1, 25)][:n_wells]
    wells = computed + [well for well in wells if well not in computed][: n_wells - len(computed)]
    for index, well in enumerate(wells):
        row, col = well_row_col(well)
        names = [
            f"r{row:02d}c{col:02d}f01p01-ch{CHANNEL_NUMBER[channel]}sk1fk1fl1.tiff"
            for channel in CHANNELS
        ]
        if index < len(computed):
            field = render_field(index, size=size)
            for name, plane in zip(names, field.image, strict=True):
                tifffile.imwrite(images / name, plane)
        else:
            first = wells[index % len(computed)]
            source_row, source_col = well_row_col(first)
            for name in names:
                source = f"r{source_row:02d}c{source_col:02d}" + name[6:]
                os.link(images / source, images / name)
    bundled = resources.files("napari_phenoscope") / "data" / "jump_target"
    batch = root / "metadata" / "platemaps" / "2020_11_04_CPJUMP1"
    (batch / "platemap").mkdir(parents=True)
    map_name = "JUMP-Target-1_compound_platemap"
    (batch / "barcode_platemap.csv").write_text(
        f"Assay_Plate_Barcode,Plate_Map_Name\n{BARCODE},{map_name}\n"
    )
    (batch / "platemap" / f"{map_name}.txt").write_bytes(
        (bundled / "compound_platemap.tsv").read_bytes()
    )
    external = root / "metadata" / "external_metadata"
    external.mkdir(parents=True)
    (external / "JUMP-Target-1_compound_metadata.tsv").write_bytes(
        (bundled / "compound_metadata.tsv").read_bytes()
    )
    return images, wells


def _profile(images: Path, out: Path, features: str, wells: list[str] | None) -> float:
    """Run ``phenoscope profile`` in a child process; return its wall time (s)."""
    command = [
        sys.executable, "-c",
        "import sys; from napari_phenoscope.cli import main; sys.exit(main())",
        "profile", str(images), "--out", str(out), "--features", features, "--no-progress",
        *(["--wells", ",".join(wells)] if wells else []),
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start


def _peak_rss_gib() -> float:
    """Largest peak RSS of any child process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20


def _copy_field_caches(out: Path, sources: list[str], targets: list[str]) -> None:
    """Give every target well a bootstrap sample of a source well's cached cells, renamed.

    Resampling (not copying) keeps wells distinct, as real wells are: identical control
    wells would have no spread to normalise to.
    """
    for index, well in enumerate(targets):
        source = field_cache_path(out, BARCODE, sources[index % len(sources)], 1)
        table = pq.read_table(source)
        signature = json.loads(table.schema.metadata[b"phenoscope"])
        cells = table.to_pandas().sample(frac=1.0, replace=True, random_state=index)
        cells[WELL] = well
        write_parquet_atomic(cells, field_cache_path(out, BARCODE, well, 1), signature)


def _distinct_wells(n_distinct: int) -> list[str]:
    """The first wells of the plate map, two of them negative controls (to normalise to)."""
    bundled = resources.files("napari_phenoscope") / "data" / "jump_target"
    design = pd.read_csv(bundled / "compound_platemap.tsv", sep="\t", dtype=str).fillna("")
    controls = design.loc[design["broad_sample"] == "", "well_position"].tolist()[:2]
    treated = design.loc[design["broad_sample"] != "", "well_position"].tolist()
    return controls + treated[: n_distinct - 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wells", type=int, default=384, help="wells of the plate (<= 384)")
    parser.add_argument("--distinct", type=int, default=8, help="fields computed in phase 1")
    parser.add_argument("--size", type=int, default=1080, help="field side in px")
    parser.add_argument("--features", default="both", help="vit, classical or both")
    parser.add_argument("--keep", metavar="DIR", help="work here and keep it (default: temp)")
    args = parser.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-memory-"))
    try:
        computed = _distinct_wells(args.distinct)
        images, wells = write_plate(work / "plate", args.wells, computed, args.size)
        out = work / "out"
        seconds = _profile(images, out, args.features, computed)
        streaming_gib = _peak_rss_gib()
        print(
            f"phase 1, streaming: {len(computed)} fields of {args.size} px computed in "
            f"{seconds:.0f} s; peak RSS {streaming_gib:.2f} GiB"
        )
        _copy_field_caches(out, computed, wells[len(computed) : -1])  # the last one: computed
        seconds = _profile(images, out, args.features, None)
        assembly_gib = _peak_rss_gib()  # the max over both children: phase 2 if it is larger
        cells = pd.read_parquet(out / "single_cells.parquet", columns=["label"])
        peak = max(streaming_gib, assembly_gib)
        print(
            f"phase 2, assembly: {args.wells} wells, {len(cells)} cells, 1 field computed, "
            f"{seconds:.0f} s; peak RSS {assembly_gib:.2f} GiB (max of both phases)\n"
            f"profile --features {args.features}, {args.wells} wells x 1 field of {args.size} "
            f"px: peak RSS {peak:.2f} GiB = {peak / TARGET_GIB:.2f} x the "
            f"{TARGET_GIB:.0f} GiB target"
        )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
