"""CellProfiler feature names in words, with direction and size."""

from __future__ import annotations

import pytest

from napari_phenoscope.similarity.attribution import feature_group
from napari_phenoscope.similarity.feature_words import (
    change_words,
    compared_words,
    feature_words,
    group_words,
)


@pytest.mark.parametrize(
    ("column", "words"),
    [
        ("Nuclei_Intensity_MeanIntensity_Mito", "Mito intensity in the nucleus (mean)"),
        ("Cells_Intensity_IntegratedIntensity_OrigDNA", "DNA intensity in the cell (total)"),
        ("Cytoplasm_Intensity_MassDisplacement_AGP", "AGP intensity in the cytoplasm (off-centre)"),
        ("Cells_Texture_Contrast_RNA_3", "RNA texture in the cell (contrast, scale 3)"),
        ("Cells_Texture_InverseDifferenceMoment_ER_5_00_256",
         "ER texture in the cell (inverse difference moment, scale 5)"),
        ("Cells_Granularity_1_ER", "ER granularity in the cell (scale 1)"),
        ("Cytoplasm_RadialDistribution_FracAtD_OrigMito_1of4",
         "Mito radial distribution in the cytoplasm (fraction at distance, ring 1 of 4)"),
        ("Cells_Correlation_Correlation_ER_Mito",
         "ER–Mito colocalization in the cell (correlation)"),
        ("Nuclei_AreaShape_Area", "nucleus shape and size (area)"),
        ("Cells_AreaShape_FormFactor", "cell shape and size (form factor)"),
        ("Cells_ViT_0017", "Cells_ViT_0017"),
        ("Image_Count_Cells", "Image_Count_Cells"),
    ],
)  # fmt: skip
def test_cellprofiler_columns_in_words(column: str, words: str) -> None:
    assert feature_words(column) == words


def test_groups_in_words_name_stain_measurement_and_compartment() -> None:
    assert group_words(*feature_group("Nuclei_Intensity_MeanIntensity_DNA")) == (
        "DNA intensity in the nucleus"
    )
    assert group_words(*feature_group("Cells_Correlation_Correlation_ER_Mito")) == (
        "ER–Mito colocalization in the cell"
    )
    assert group_words(*feature_group("Cytoplasm_AreaShape_Area")) == "cytoplasm shape and size"
    assert group_words(*feature_group("Cells_RadialDistribution_MeanFrac_RNA_2of4")) == (
        "RNA radial distribution in the cell"
    )
    assert group_words(*feature_group("Cells_ViT_0003")) == "Cells_ViT"  # not CellProfiler


def test_change_words_have_direction_and_size() -> None:
    assert change_words("up", 3.14) == "up 3.1 MAD"
    assert change_words("down", -0.84) == "down 0.8 MAD"
    assert change_words("changed", 2.4) == "up and down ±2.4 MAD"
    assert change_words("", 0.3) == "unchanged"


def test_two_sides_read_as_one_when_they_agree() -> None:
    subject = "Mito intensity in the nucleus"
    assert compared_words(subject, [("BI-2536", "up", 3.2), ("PLK1", "up", 3.0)]) == (
        "Mito intensity in the nucleus: up 3.1 MAD in both"
    )
    assert compared_words(subject, [("BI-2536", "up", 3.1), ("PLK1", "up", 1.0)]) == (
        "Mito intensity in the nucleus: up 3.1 MAD in BI-2536, up 1.0 in PLK1"
    )
    assert compared_words(subject, [("BI-2536", "up", 3.1), ("BRD4", "down", -1.2)]) == (
        "Mito intensity in the nucleus: up 3.1 MAD in BI-2536, down 1.2 in BRD4"
    )
    assert compared_words(subject, [("a", "", 0.1), ("b", "", 0.5)]) == (
        "Mito intensity in the nucleus: unchanged in both"
    )
