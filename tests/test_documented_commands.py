"""Every command line that README.md and docs/ show runs here, on small inputs.

Extracted from the documents: the lines of ```bash / sh / shell / console blocks, lines that
start with ``phenoscope <verb>`` anywhere else, and the synopses of README's command table
(``[optional]`` parts dropped, the first of ``a|b``). Each ``phenoscope`` command runs
in-process (``cli.main``) in a fresh folder that holds the files it names, built from small
fixtures (``WORLD``), with placeholders (``PLATE_DIR``, ``OUT``, ...) replaced (``PLACEHOLDERS``)
and options that keep it small appended (``SMALLER``; argparse keeps the last value); it must
exit 0 and write what the README promises (``PROMISED``). Commands of one block run in order
in one folder, as a reader would type them. Every other line matches ``NOT_RUN`` with its
reason. A new documented command is run as it stands, so it fails until it works or is listed.

Over 400 lines because the extraction, the table of small inputs and the runner belong
together: each entry of ``WORLD`` is the stand-in for a name some document uses.
"""

from __future__ import annotations

import argparse
import glob
import re
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from _layouts import illum_function, write_gallery_source, write_jump_metadata
from conftest import REPO, copy_compound_plate, valid_well_profiles
from napari_phenoscope.cli import _build_parser, main
from napari_phenoscope.constants import CHANNELS, TARGET_LIST

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
SHELL_FENCES = {"bash", "sh", "shell", "console"}
VERBS = set(  # demo, profile, ...
    next(a for a in _build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
)


@dataclass(frozen=True)
class Documented:
    """Command lines of one place in a document, run in order in one folder."""

    document: str  # relative to the repository
    line: int
    commands: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.document}:{self.line}"


def _logical_lines(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Join backslash continuations: (first line number, whole command)."""
    joined, start, parts = [], None, []
    for number, text in lines:
        if start is None:
            start = number
        if text.rstrip().endswith("\\"):
            parts.append(text.rstrip()[:-1].strip())
            continue
        parts.append(text.strip())
        joined.append((start, " ".join(p for p in parts if p)))
        start, parts = None, []
    if parts:
        joined.append((start, " ".join(parts)))
    return joined


def synopsis_to_command(synopsis: str) -> str:
    """``phenoscope x A [--b N] --c a|b [...]`` -> ``phenoscope x A --c a``."""
    text = synopsis.replace("\\|", "|")
    while re.search(r"\[[^\[\]]*\]", text):
        text = re.sub(r"\[[^\[\]]*\]", "", text)
    text = re.sub(r"(\S+?)\|\S+", r"\1", text)  # the first alternative
    return " ".join(text.split())


_COMMAND = re.compile(r"^\s*(?:\$ )?(phenoscope ([a-z][a-z-]*)(?:\s.*)?)$")
_TABLE_SYNOPSIS = re.compile(r"^\|\s*`(phenoscope [^`]+)`\s*\|")


def extract(document: Path) -> list[Documented]:
    """The command lines of one Markdown document."""
    name = document.relative_to(REPO).as_posix()
    found: list[Documented] = []
    fence: str | None = None
    block: list[tuple[int, str]] = []
    block_start = 0
    lines = document.read_text().splitlines()
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if text.startswith("```"):
            if fence is None:
                fence, block, block_start = text[3:].strip().lower(), [], number
                continue
            commands = _block_commands(fence, block)
            if commands:
                found.append(Documented(name, block_start + 1, tuple(commands)))
            fence = None
            continue
        if fence is not None:
            block.append((number, raw))
            continue
        table = _TABLE_SYNOPSIS.match(raw)
        if table:
            found.append(Documented(name, number, (synopsis_to_command(table.group(1)),)))
            continue
        match = _COMMAND.match(raw)
        if match and match.group(2) in VERBS:  # prose may start a line with "phenoscope does"
            (_, command), *_ = _logical_lines(_continued(lines, number))
            found.append(Documented(name, number, (command,)))
    return found


def _continued(lines: list[str], number: int) -> list[tuple[int, str]]:
    taken = [(number, lines[number - 1])]
    while taken[-1][1].rstrip().endswith("\\") and taken[-1][0] < len(lines):
        taken.append((taken[-1][0] + 1, lines[taken[-1][0]]))
    return taken


def _block_commands(fence: str, block: list[tuple[int, str]]) -> list[str]:
    if fence in SHELL_FENCES:
        if fence == "console":  # only the prompts are commands; the rest is output
            block = [(n, t.strip()[2:]) for n, t in block if t.strip().startswith("$ ")]
        commands = []
        for _, command in _logical_lines(block):
            if command and not (command.startswith("#") and not command.startswith("#!")):
                is_synopsis = command.startswith("phenoscope ") and " [" in command
                commands.append(synopsis_to_command(command) if is_synopsis else command)
        return commands
    if fence:  # python, text, ...: not commands
        return []
    # an unlabelled block: its `phenoscope <verb>` lines (synopses, or a command beside output)
    commands = []
    for _, command in _logical_lines(block):
        match = _COMMAND.match(command)
        if match and not match.group(2).endswith(":"):
            is_synopsis = "[" in command or "|" in command or "..." in command
            commands.append(synopsis_to_command(command) if is_synopsis else command)
    return commands


def documented() -> list[Documented]:
    return [item for document in DOCUMENTS for item in extract(document)]


#: Lines not run here, each with the reason (a regex on the command as written).
NOT_RUN: dict[str, str] = {
    r"^python3 -m pip install \"tox>=4\.11\" && python3 -m tox -e (demo|tests)": (
        "installs and runs tox: `tox -e tests` is this suite; `tox -e demo` is the full job"
    ),
    r"^(python3 -m venv \.venv && )?\.venv/bin/pip install": (
        "creates a virtual environment from the package registry (network, minutes); "
        ".ci/fresh_install_check.py checks a fresh one"
    ),
    r"^xvfb-run -a \.venv/bin/python -m pytest": "the suite itself",
    r"^\.venv/bin/ruff check": "lint: `tox -e lint`",
    r"^napari ": "opens a napari window and waits for its user (the reader: tests/test_reader*)",
    r"^phenoscope view ": (
        "opens napari and waits for its user; tests/app/test_view.py drives view_profiles"
    ),
    r"^(xvfb-run .* )?phenoscope tour( |$)": (
        "the tour of the full default demo in a real viewer; tests/app/test_tour.py runs the "
        "same tour on the small demo"
    ),
    r"(^|/)(time -v )?phenoscope demo( |$)": (
        "the full demo job (3 modalities x 2 replicates x 64 wells, profiled on a Dask cluster: "
        "~10 min on 2 cores); `tox -e demo` runs it"
    ),
    r"^(CPG|PLATE|SRC)=|^B=": "shell variables of the commands below them",
    r"\$PLATE|\$CPG": (
        "a plate in the public Cell Painting Gallery bucket (network); the same verbs on the "
        "same layout run here from disk (source_4), and tests/io/test_remote.py and "
        "tests/profiling/test_remote_profile.py run them on a local S3 server"
    ),
    r"^aws s3 sync": "downloads from the public Gallery bucket (network)",
    r"--scheduler tcp://": (
        "needs a running Dask scheduler at that address; tests/profiling/test_execute.py "
        "profiles on a real local cluster"
    ),
    r"^(#!|source |mkdir -p logs|python profile_cpjump1\.py|export DASK_|dask worker )": (
        "the SLURM example of docs/scale.md: a batch script for a cluster"
    ),
    r"(^| )(python|\.venv/bin/python) benchmarks/": "benchmarks are not part of the suite",
}


def not_run_reason(command: str) -> str | None:
    for pattern, reason in NOT_RUN.items():
        if re.search(pattern, command):
            return reason
    return None


# --- the small world the commands find in their folder ---------------------------------------

#: Uppercase placeholders of synopses -> a name in the command's folder (or a literal value).
PLACEHOLDERS = {
    "PLATE_DIR": "project",
    "PLATE": "project",
    "PROJECT": "project",
    "OUT_DIR": "out",
    "OUT": "out",
    "DIR": "out",
    "SEG_DIR": "seg",
    "MODEL.safetensors": "model.safetensors",
    "PROFILES": "well_profiles_vit.parquet",
    "OUT.h5ad": "profiles.h5ad",
    "QUERY": "BI-2536",
    "MATCH": "crispr:PLK1",
    "CONTRAST": "crispr:BRD4",
    "FIG.png": "figure.png",
    "COL": "Metadata_broad_sample",
    # a plate of cpg0000 in docs/layouts/gallery.md -> the plate of the Gallery source here
    "source_4/workspace/load_data_csv/2020_11_04_CPJUMP1/BR00117006": (
        "source_4/workspace/load_data_csv/2021_04_26_Batch1/BR00117035"
    ),
}
#: Per verb, placeholders that mean something else there: explain's PROFILES is a profile
#: output folder (and its PLATE_DIR / PROJECT the plates profiled there).
VERB_PLACEHOLDERS = {
    "explain": {"PROFILES": "profiled/out", "OUT_DIR": "profiled/out", "PROJECT": "profiled/plates"}
}
#: Appended to keep a run small (argparse keeps the last value of an option).
SMALLER: dict[str, list[str]] = {
    "demo-data": ["--wells", "12", "--sites", "1", "--size", "128", "--replicates", "1"],
    "train": ["--epochs", "1", "--max-fields", "6", "--batch-size", "8", "--threads", "1"],
    "explain": ["--null-size", "50"],
    "evaluate": ["--null-size", "100"],
    "profile": ["--device", "cpu"],
    "tour": [],
}
NO_PROGRESS = {"demo-data", "profile", "qc", "train", "segment"}


def render_planes(seed: int, size: int = 128) -> np.ndarray:
    """Five uint16 planes (DNA, ER, RNA, AGP, Mito) of a rendered field with cells."""
    from napari_phenoscope.demo.render import render_field

    return np.asarray(render_field((seed, 1), size=size).image)


def _gallery_with_cells(folder: Path, fixtures: dict) -> None:
    """The Gallery source of tests/_layouts.py (plate BR00117035, wells A01, A02, B01, two
    sites), its planes replaced by rendered cells and its illumination functions resized."""
    source = write_gallery_source(folder)
    for index, path in enumerate(sorted(source.rglob("*.tiff"))):
        channel = next(c for c in CHANNELS if path.name.endswith(f"ch{_ch(c)}sk1fk1fl1.tiff"))
        tifffile.imwrite(path, render_planes(index // 5)[CHANNELS.index(channel)])
    for path in source.rglob("*_Illum*.npy"):
        channel = path.stem.rsplit("Illum", 1)[1]
        np.save(path, illum_function(channel, (128, 128)))


def _ch(channel: str) -> int:
    from conftest import CHANNEL_NUMBER

    return CHANNEL_NUMBER[channel]


def _ome_zarr_with_cells(path: Path, labels) -> None:
    import zarr

    from _layouts import write_ome_zarr_plate

    write_ome_zarr_plate(path, labels=labels, fields=1, shape=(128, 128))
    root = zarr.open_group(str(path), mode="r+")
    for index, (row, column) in enumerate([("A", "1"), ("A", "2"), ("B", "3")]):
        field = root[row][column]["0"]
        field[next(iter(field.array_keys()))][:] = render_planes(index)  # level 0


def _zarr_labels(command: str):
    if "w1=" in command:
        return ["w1", "w2", "w3", "w4", "w5"]
    if "1=DNA" in command:
        return None
    return ["Hoechst 33342", "ConA", "SYTO14", "Phalloidin", "MitoTracker"]


def _project(folder: Path, fixtures: dict) -> None:
    copy_compound_plate(fixtures["small_demo_project"], folder)


def _load_data(folder: Path, fixtures: dict) -> Path:
    """The compound plate of the small demo as a LoadData CSV beside its images."""
    project = fixtures["small_demo_project"]
    csv = next((project / "load_data_csv").glob("BR00116991*/load_data.csv"))
    table = pd.read_csv(csv)
    for channel in CHANNELS:
        names = table[f"PathName_Orig{channel}"].map(lambda p, base=csv.parent: base / p)
        table[f"PathName_Orig{channel}"] = [str(Path(p).resolve()) for p in names]
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "load_data.csv", index=False)
    return folder / "load_data.csv"


def _well_metadata(path: Path, plate: str, wells: list[str], column: str) -> None:
    """A --metadata table: the first two wells DMSO, the others a drug each."""
    values = ["DMSO", "DMSO", *[f"drug{k}" for k in range(len(wells) - 2)]]
    table = pd.DataFrame({"Metadata_Plate": plate, "Metadata_Well": wells, column: values})
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        table.to_parquet(path)
    else:
        table.to_csv(path, index=False)


def _demo_wells(fixtures: dict) -> list[str]:
    csv = next((fixtures["small_demo_project"] / "load_data_csv").glob("BR00116991*/*.csv"))
    return sorted(set(pd.read_csv(csv)["Metadata_Well"]))


def _phenix_other_channels(folder: Path, fixtures: dict) -> None:
    """Phenix TIFFs numbered as the pediatric cancer atlas plate: 2=ER,3=AGP,4=Mito,5=DNA,6=RNA."""
    numbers = {"ER": 2, "AGP": 3, "Mito": 4, "DNA": 5, "RNA": 6}
    folder.mkdir(parents=True)
    for index, (row, col) in enumerate([(1, 1), (1, 2), (2, 1)]):
        planes = render_planes(index)
        for channel, number in numbers.items():
            name = f"r{row:02d}c{col:02d}f01p01-ch{number}sk1fk1fl1.tiff"
            tifffile.imwrite(folder / name, planes[CHANNELS.index(channel)])


def _illum(folder: Path, fixtures: dict) -> None:
    folder.mkdir(parents=True)
    for channel in CHANNELS:
        np.save(folder / f"Illum{channel}.npy", illum_function(channel, (128, 128)))


def _profiled(folder: Path, fixtures: dict) -> None:
    plates, out = fixtures["profiled_small_demo"]
    (folder).mkdir(parents=True)
    (folder / "plates").symlink_to(plates, target_is_directory=True)
    (folder / "out").symlink_to(out, target_is_directory=True)


def _copy_well_profiles(path: Path, fixtures: dict) -> None:
    shutil.copy(fixtures["profiled_small_demo"][1] / "well_profiles_vit.parquet", path)


def _activity_table(path: Path, fixtures: dict) -> None:
    valid_well_profiles().to_csv(path, index=False)


def _consensus_table(path: Path, fixtures: dict) -> None:
    table = valid_well_profiles()
    table["Metadata_target"] = table[TARGET_LIST].where(table[TARGET_LIST] != "", "none")
    table.to_parquet(path)


def _cell_level_table(path: Path, fixtures: dict) -> None:
    """A cell-level table with plates and wells, A02 among them (the real cells' stand-in)."""
    cells = pd.read_parquet(fixtures["profiled_small_demo"][1] / "single_cells.parquet")
    numeric = [c for c in cells if c.startswith("Metadata_") or cells[c].dtype.kind == "f"]
    cells[numeric].to_csv(path, index=False)


#: Names the documents use -> how to make them in the command's folder. A value is
#: ``build(path, fixtures)``; a dict picks by document (the same name means two things).
WORLD: dict[str, Callable | dict[str, Callable]] = {
    "project": lambda p, f: _project(p, f),
    "seg": lambda p, f: (
        _project(p.parent / "project", f) if not (p.parent / "project").exists() else None,
        main(["segment", str(p.parent / "project"), "--out", str(p), "--no-progress"]),
    ),
    "profiled": _profiled,
    "source_4": lambda p, f: _gallery_with_cells(p.parent, f),
    "jump-metadata": lambda p, f: write_jump_metadata(p),
    "myscreen": lambda p, f: (
        _load_data(p, f),
        _well_metadata(p / "wells.csv", "BR00116991", _demo_wells(f), "Metadata_treatment"),
        _well_metadata(p / "wells.csv.gz", "BR00116991", _demo_wells(f), "Metadata_compound"),
    ),
    "load_data.csv": lambda p, f: _load_data(p.parent, f),
    "illum_functions": lambda p, f: _illum(p, f),
    "real-cellpainting": lambda p, f: _phenix_other_channels(
        p / "pediatric_cancer_atlas_profiling", f
    ),
    "well_profiles_vit.parquet": _copy_well_profiles,
    "BR00116991_normalized_feature_select_negcon_batch.csv.gz": _activity_table,
    "consensus.parquet": _consensus_table,
    "real_cells_robustz.csv.gz": _cell_level_table,
    "wells.csv.gz": lambda p, f: _well_metadata(
        p, "BR00116991", _demo_wells(f), "Metadata_compound"
    ),
    "wells.parquet": {
        "docs/retrieval.md": _copy_well_profiles,
        "docs/layouts/metadata.md": lambda p, f: _well_metadata(
            p, "PLATE01", ["A01", "A02", "B03"], "treatment"
        ),
    },
}


def _build_world(item: Documented, command: str, folder: Path, fixtures: dict) -> None:
    for word in _substituted(command):
        name = word.split("/", 1)[0].rstrip("/")
        if name == "plate.zarr" and not (folder / name).exists():
            _ome_zarr_with_cells(folder / name, _zarr_labels(command))
            continue
        build = WORLD.get(name)
        if isinstance(build, dict):
            build = build[item.document]
        if build is not None and not (folder / name).exists():
            build(folder / name, fixtures)


def _substituted(command: str) -> list[str]:
    """The words after ``phenoscope``, placeholders replaced."""
    words = shlex.split(command, comments=True)
    words = words[words.index("phenoscope") + 1 :]
    names = {**PLACEHOLDERS, **VERB_PLACEHOLDERS.get(words[0], {})}
    return [names.get(word, word) for word in words]


def to_argv(item: Documented, command: str, folder: Path) -> list[str]:
    """The argv of ``cli.main``: placeholders replaced, globs expanded, small options added."""
    words = _substituted(command)
    verb = words[0]
    argv = []
    for word in words:
        if any(c in word for c in "*?"):
            matches = sorted(glob.glob(word, root_dir=folder))
            assert matches, f"{item.id}: {word} matches nothing"
            argv += matches
        else:
            argv.append(word)
    argv += SMALLER.get(verb, [])
    if verb in NO_PROGRESS and "--no-progress" not in argv:
        argv.append("--no-progress")
    return argv


def _option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def promised(argv: list[str]) -> list[str]:
    """What README's command table says the command writes."""
    verb = argv[0]
    out = _option(argv, "--out")
    if verb == "demo-data":
        return [f"{argv[1]}/demo_manifest.json"]
    if verb == "segment":
        return [f"{out}/cells.parquet", f"{out}/labels"]
    if verb == "profile":
        features = _option(argv, "--features") or "vit"
        sets = ["vit", "classical"] if features == "both" else [features]
        return [f"{out}/single_cells.parquet"] + [f"{out}/well_profiles_{s}.parquet" for s in sets]
    if verb == "qc":
        return [f"{out}/qc_fields.csv", f"{out}/qc_cells.parquet"]
    if verb == "export":
        return [_option(argv, "--to")]
    return [out] if out else []  # train, evaluate, explain


ITEMS = documented()


def _runnable(item: Documented) -> list[str]:
    commands = []
    for line in item.commands:
        if not_run_reason(line) is not None:
            continue
        for command in line.split(" && "):
            if not_run_reason(command) is None:
                commands.append(command)
    return commands


def test_documents_show_commands_and_every_line_is_run_or_has_a_reason():
    assert len(ITEMS) > 40
    verbs_run = set()
    for item in ITEMS:
        for command in _runnable(item):
            assert re.match(r"^phenoscope [a-z-]+", command), (
                f"{item.id}: `{command}` is neither a phenoscope command nor listed in NOT_RUN"
            )
            verbs_run.add(command.split()[1])
    assert {"demo-data", "segment", "profile", "qc", "train", "evaluate", "explain", "export"} <= (
        verbs_run
    )
    everything = [line for item in ITEMS for line in item.commands]
    everything += [c for line in everything for c in line.split(" && ")]
    for pattern in NOT_RUN:  # no stale reasons
        assert any(re.search(pattern, c) for c in everything), f"stale NOT_RUN {pattern!r}"


def test_extraction_reads_fences_prompts_continuations_and_synopses(tmp_path, monkeypatch):
    document = tmp_path / "page.md"
    document.write_text(
        "Prose: phenoscope does things.\n"
        "```bash\n"
        "phenoscope segment a --out b \\\n    --wells A01  # comment\n"
        "# a comment line\n"
        "```\n"
        "```console\n$ phenoscope evaluate t.csv --task replicate\nmAP 0.5\n```\n"
        "```\nphenoscope qc PLATE [...] --out OUT [--qc-threshold MEASURE=Z]\n"
        "phenoscope profile: warning: output, not a command\n```\n"
        "```python\nprint('phenoscope profile x')\n```\n"
        "| `phenoscope train PLATE_DIR --method mae\\|dino --out M [--epochs N]` | what |\n"
        "phenoscope export t.csv --to x.h5ad\n"
    )
    monkeypatch.setattr("test_documented_commands.REPO", tmp_path)
    found = extract(document)
    assert [(i.line, i.commands) for i in found] == [
        (3, ("phenoscope segment a --out b --wells A01  # comment",)),
        (8, ("phenoscope evaluate t.csv --task replicate",)),
        (12, ("phenoscope qc PLATE --out OUT",)),
        (18, ("phenoscope train PLATE_DIR --method mae --out M",)),
        (19, ("phenoscope export t.csv --to x.h5ad",)),
    ]


def _fast(item: Documented) -> bool:
    return not _runnable(item)


@pytest.mark.slow
@pytest.mark.parametrize("item", [i for i in ITEMS if not _fast(i)], ids=lambda i: i.id)
def test_documented_command_runs(item: Documented, request, tmp_path, monkeypatch, capsys):
    fixtures = {
        "small_demo_project": request.getfixturevalue("small_demo_project"),
        "profiled_small_demo": request.getfixturevalue("profiled_small_demo"),
    }
    monkeypatch.chdir(tmp_path)
    for command in _runnable(item):
        _build_world(item, command, tmp_path, fixtures)
        argv = to_argv(item, command, tmp_path)
        code = main(argv)
        error = capsys.readouterr().err
        assert code == 0, f"{item.id}: phenoscope {' '.join(argv)} exited {code}: {error}"
        for path in promised(argv):
            assert (tmp_path / path).exists(), f"{item.id}: {' '.join(argv)} wrote no {path}"
