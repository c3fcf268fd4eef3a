"""QC measured against the demo renderer's truth, and what it does to retrieval.

Renders held-out demo plates (a seed other than the demo's) twice, clean and with a
seeded fraction of defective fields (``demo-data --defects``), then:

1. ``phenoscope qc`` on both: precision and recall of failed fields per defect kind
   against ``ground_truth/qc_truth.csv`` (a failed field counts for a kind when it has
   that defect and fails; precision: failed fields that carry any defect), and the
   fraction of clean fields failed;
2. ``profile_plates`` with classical features once per plate set (``--qc flag``: every
   field's features and QC cached), then assembled again with ``--qc off`` and
   ``--qc exclude`` from the cache: replicate and compound-gene mAP of each;
3. QC's time per field beside segmentation's, on the same fields.

Usage: ``nice -n 15 python benchmarks/bench_qc.py [WORK_DIR] [--wells 24 --sites 4]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from napari_phenoscope.constants import CHANNELS, PLATE, SITE, WELL
from napari_phenoscope.demo.project import write_demo_plates
from napari_phenoscope.evaluation.precision import MAP
from napari_phenoscope.evaluation.tasks import evaluate
from napari_phenoscope.profiling.pipeline import index_plates, profile_plates
from napari_phenoscope.qc import QC_PASS, QC_REASON, failed_tests, judge_plates
from napari_phenoscope.qc.plate import field_quality
from napari_phenoscope.qc.run import measure_fields
from napari_phenoscope.segmentation.field import segment_field

SEED = 7  # held out: the demo and the tests use seed 0
KIND_TEST = {"defocus": "blur", "debris": "saturation", "empty": "empty"}


def field_scores(project: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    fields = index_plates([project])
    measures, cells = measure_fields(fields, progress=False)
    judged, _ = judge_plates(measures, cells)
    truth_path = project / "ground_truth" / "qc_truth.csv"
    if truth_path.is_file():
        truth = pd.read_csv(truth_path, keep_default_na=False)
    else:
        truth = judged[[PLATE, WELL, SITE]].assign(defect="")
    truth[SITE] = truth[SITE].astype(int)
    return judged.merge(truth, on=[PLATE, WELL, SITE]), fields


def precision_recall(scored: pd.DataFrame) -> pd.DataFrame:
    failed = ~scored[QC_PASS]
    rows = []
    for kind, test in KIND_TEST.items():
        has = scored["defect"] == kind
        named = scored[QC_REASON].map(lambda r, t=test: t in failed_tests(r))
        rows.append(
            {
                "defect": kind,
                "fields": int(has.sum()),
                "recall (failed)": (failed & has).sum() / max(has.sum(), 1),
                "recall (reason names it)": (named & has).sum() / max(has.sum(), 1),
                f"precision ({test} reason)": (named & has).sum() / max(named.sum(), 1),
            }
        )
    table = pd.DataFrame(rows)
    defective = scored["defect"] != ""
    print(table.round(3).to_string(index=False))
    print(
        f"any defect: precision {(failed & defective).sum() / max(failed.sum(), 1):.3f}, "
        f"recall {(failed & defective).sum() / max(defective.sum(), 1):.3f}; clean fields "
        f"failed: {(failed & ~defective).sum()} of {(~defective).sum()}"
    )
    return table


def retrieval(project: Path, out: Path) -> pd.DataFrame:
    rows = []
    for mode in ("flag", "off", "exclude"):  # flag first: computes and caches everything
        outputs = profile_plates([project], out, features="classical", progress=False, qc=mode)
        profiles = pd.read_parquet(outputs.well_profiles["classical"])
        for task in ("replicate", "compound-gene"):
            summary = evaluate(profiles, task, null_size=1000, seed=0).summary
            for _, row in summary.iterrows():
                rows.append(
                    {
                        "qc": mode,
                        "task": task,
                        "modality": row.get("Metadata_modality", ""),
                        "reference": row.get("reference", ""),
                        "mAP": row[MAP],
                        "cells profiled": outputs.n_cells_profiled or outputs.n_cells,
                    }
                )
    return pd.DataFrame(rows)


def seed_clean_caches(defects: Path, clean: Path, defects_out: Path, clean_out: Path) -> int:
    """Copy the defect run's caches of its clean fields into the clean run's folder.

    Both projects are rendered with the same seed and defects are applied after rendering,
    so a field without a defect has the same pixels in both (checked here, file by file):
    its features and QC are the same and need not be computed twice. Returns the number of
    fields copied.
    """
    import filecmp
    import shutil

    truth = pd.read_csv(defects / "ground_truth" / "qc_truth.csv", keep_default_na=False)

    def by_field(project: Path) -> dict[tuple[str, str], Path]:
        # images/<BARCODE>__<timestamp>/Images/r01c01f01p01-ch1sk1fk1fl1.tiff
        return {
            (p.parents[1].name.split("__")[0], p.name): p
            for p in project.glob("images/*/Images/*.tiff")
        }

    clean_images, defect_images = by_field(clean), by_field(defects)
    copied = 0
    for row in truth[truth["defect"] == ""].itertuples():
        plate, well, site = row.Metadata_Plate, row.Metadata_Well, int(row.Metadata_Site)
        stem = f"r{ord(well[0]) - 64:02d}c{int(well[1:]):02d}f{site:02d}p01-"
        keys = [k for k in clean_images if k[0] == plate and k[1].startswith(stem)]
        if len(keys) != len(CHANNELS) or not all(
            filecmp.cmp(clean_images[k], defect_images[k], shallow=False) for k in keys
        ):
            continue
        for cache in ("fields", "fields_qc"):
            source = defects_out / cache / plate / f"{well}_s{site}.parquet"
            target = clean_out / cache / plate / source.name
            if source.is_file() and not target.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        copied += 1
    return copied


def timing(fields: pd.DataFrame, n: int = 12) -> None:
    from napari_phenoscope.io.fields import iter_fields

    seg_s = qc_s = 0.0
    for field in list(iter_fields(fields))[:n]:
        image = field.read()
        start = time.perf_counter()
        seg = segment_field(image, channels=CHANNELS)
        seg_s += time.perf_counter() - start
        start = time.perf_counter()
        field_quality(image, seg.nuclei, seg.cells, field.key)
        qc_s += time.perf_counter() - start
    side = image.shape[-1]
    print(
        f"per {side} px field ({n} fields): segmentation {1e3 * seg_s / n:.0f} ms, "
        f"QC measures {1e3 * qc_s / n:.0f} ms (QC / segmentation = {qc_s / seg_s:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", nargs="?", default="bench_qc_work")
    parser.add_argument("--wells", type=int, default=24)
    parser.add_argument("--sites", type=int, default=4)
    parser.add_argument("--defects", type=float, default=0.15)
    parser.add_argument("--no-retrieval", action="store_true")
    args = parser.parse_args()
    work = Path(args.work)
    projects = {}
    for name, defects in (("clean", 0.0), ("defects", args.defects)):
        projects[name] = work / name
        if not (projects[name] / "demo_manifest.json").is_file():
            write_demo_plates(
                projects[name],
                seed=SEED,
                n_wells=args.wells,
                n_sites=args.sites,
                n_replicates=2,
                progress=False,
                defects=defects,
            )
    print(f"held-out demo plates (seed {SEED}): {args.wells} wells x {args.sites} sites x 6 plates")
    for name, project in projects.items():
        print(f"\n== QC on the {name} plates")
        scored, fields = field_scores(project)
        precision_recall(scored)
    timing(fields)
    if not args.no_retrieval:
        tables = [
            retrieval(projects["defects"], work / "profiles_defects").assign(plates="defects")
        ]
        seed_clean_caches(
            projects["defects"],
            projects["clean"],
            work / "profiles_defects",
            work / "profiles_clean",
        )
        tables.append(retrieval(projects["clean"], work / "profiles_clean").assign(plates="clean"))
        table = pd.concat(tables, ignore_index=True)
        table["mAP"] = table["mAP"].astype(float).round(3)
        pivot = table.pivot_table(
            index=["plates", "task", "modality", "reference"],
            columns="qc",
            values="mAP",
            aggfunc="first",
        )
        print("\n== mAP (classical features), QC off / flag / exclude")
        print(pivot[["off", "flag", "exclude"]].to_string())
        cells = table.groupby(["plates", "qc"])["cells profiled"].first().unstack()
        print("\ncells in the well profiles\n" + cells.to_string())
        np.testing.assert_array_equal(pivot["off"].to_numpy(), pivot["flag"].to_numpy())


if __name__ == "__main__":
    main()
