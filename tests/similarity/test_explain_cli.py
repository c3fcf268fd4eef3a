"""``phenoscope explain``: the figure and tables from profile outputs; one-line errors."""

from __future__ import annotations

import pandas as pd
import pytest
from test_explain import make_profiles

from napari_phenoscope.cli import main


@pytest.fixture
def outputs(tmp_path):
    """A ``phenoscope profile`` output folder with classical well profiles only."""
    folder = tmp_path / "out"
    folder.mkdir()
    make_profiles().to_parquet(folder / "well_profiles_classical.parquet", index=False)
    return folder


def test_explain_writes_the_figure_and_tables(outputs, tmp_path, capsys):
    figure = tmp_path / "figs" / "bi2536_plk1.png"
    code = main(["explain", str(outputs), "BI-2536", "crispr:PLK1", "--out", str(figure),
                 "--null-size", "200"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert figure.read_bytes()[:4] == b"\x89PNG"
    summary = pd.read_csv(figure.with_name("bi2536_plk1_summary.csv"))
    assert summary.loc[0, "rank"] == 1 and summary.loc[0, "match"] == "PLK1 (crispr)"
    assert "classical: BI-2536 (compound), 4 wells vs PLK1 (crispr) (match): similarity +" in (
        printed
    )
    # the contrast by default: BI-2536's other annotated target, in the match's modality
    assert "vs BRD4 (crispr) (contrast): similarity -" in printed
    assert "DNA intensity in the nucleus: up " in printed and " MAD in both" in printed
    assert "not shown: no single-cell table" in printed


def test_versus_names_the_contrast(outputs, tmp_path, capsys):
    figure = tmp_path / "versus.pdf"
    code = main(["explain", str(outputs), "BI-2536", "crispr:PLK1", "--versus", "orf:PLK1",
                 "--out", str(figure), "--null-size", "50"])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert figure.read_bytes()[:5] == b"%PDF-"
    summary = pd.read_csv(tmp_path / "versus_summary.csv").set_index("side")
    assert summary.loc["contrast", "match"] == "PLK1 (orf)"
    code = main(["explain", str(outputs), "BI-2536", "crispr:PLK1", "--versus", "none",
                 "--out", str(tmp_path / "alone.svg"), "--null-size", "50"])  # fmt: skip
    assert code == 0
    assert set(pd.read_csv(tmp_path / "alone_summary.csv")["side"]) == {"match"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["BI-2536", "PLK1"], "'PLK1' is in several modalities: write crispr:PLK1 or orf:PLK1"),
        (["BI-2536", "crispr:KRAS"], "no well profile of perturbation 'KRAS' in modality crispr"),
        (["BI-2536", "BI-2536"], "BI-2536 (compound) has no well outside the query's wells"),
        (
            ["BI-2536", "crispr:PLK1", "--versus", "crispr:PLK1"],
            "the contrast 'crispr:PLK1' is the match itself",
        ),
        (["BI-2536", "crispr:PLK1", "--versus", "KRAS"], "no well profile of perturbation 'KRAS'"),
    ],
)
def test_bad_requests_are_one_line(outputs, tmp_path, capsys, arguments, message):
    code = main(["explain", str(outputs), *arguments, "--out", str(tmp_path / "f.png")])
    error = capsys.readouterr().err.strip()
    assert code == 2
    assert error == f"phenoscope explain: error: {message}"


def test_a_folder_without_profiles_is_named(tmp_path, capsys):
    code = main(["explain", str(tmp_path), "BI-2536", "crispr:PLK1", "--out", "f.png"])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"phenoscope explain: error: {tmp_path}: no well_profiles_<features>.parquet "
        "(run phenoscope profile)"
    )


def test_the_figure_must_be_png_svg_or_pdf(outputs, tmp_path, capsys):
    code = main(
        ["explain", str(outputs), "BI-2536", "crispr:PLK1", "--out", str(tmp_path / "f.jpg")]
    )
    assert code == 2
    assert "the figure must be .png, .svg or .pdf" in capsys.readouterr().err


@pytest.mark.slow
def test_explain_with_images_shows_cells_of_all_three_sides(profiled_small_demo, tmp_path, capsys):
    plates, out = profiled_small_demo
    figure = tmp_path / "bi2536.png"
    argv = ["explain", str(out), "BI-2536", "crispr:PLK1", "--images", str(plates),
            "--out", str(figure), "--cells", "2", "--null-size", "50", "--seed", "1",
            "--device", "cpu"]  # fmt: skip
    code = main(argv)
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "not shown" not in printed  # cells, images and the ViT occlusion all there
    cells = pd.read_csv(tmp_path / "bi2536_cells.csv")
    assert list(cells["role"]) == ["query"] * 2 + ["match"] * 2 + ["contrast"] * 2 + ["control"] * 2
    occlusion = pd.read_csv(tmp_path / "bi2536_occlusion.csv")
    assert list(occlusion["blanked"]) == ["none", "DNA", "ER", "RNA", "AGP", "Mito"]
    summary = pd.read_csv(tmp_path / "bi2536_summary.csv")
    assert set(summary.loc[summary["side"] == "contrast", "match"]) == {"BRD4 (crispr)"}
    assert len(summary) == 4 and (summary["null mean"].notna()).all()
    # --model: the bundled weights by path give the same occlusion
    from napari_phenoscope.models.weights import bundled_weights_path

    again = tmp_path / "again.png"
    argv[argv.index("--out") + 1] = str(again)
    assert main([*argv, "--model", str(bundled_weights_path())]) == 0
    pd.testing.assert_frame_equal(occlusion, pd.read_csv(tmp_path / "again_occlusion.csv"))
