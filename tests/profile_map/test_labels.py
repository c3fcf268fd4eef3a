"""Label placement for marked points: no two labels overlap, each stays near its point."""

from __future__ import annotations

import itertools

import numpy as np

from napari_phenoscope.profile_map.labels import label_box, place_labels


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_labels_of_a_cluster_of_close_points_do_not_overlap_and_stay_near():
    rng = np.random.default_rng(3)
    anchors = rng.normal(scale=4.0, size=(6, 2)) + 100.0  # six points within a few units
    sizes = np.array([[60, 12], [40, 12], [40, 12], [55, 12], [50, 12], [35, 12]], float)
    offsets = place_labels(anchors, sizes, gap=8, step=6, rings=12)
    boxes = [label_box(a, o, s) for a, o, s in zip(anchors, offsets, sizes, strict=True)]
    for a, b in itertools.combinations(boxes, 2):
        assert not _overlap(a, b)
    assert np.all(np.abs(offsets) <= 8 + 11 * 6)
    # the first (most important) label keeps the usual place, up and right of its point
    np.testing.assert_array_equal(offsets[0], [8, 8])


def test_labels_of_the_same_point_are_stacked_not_drawn_over_each_other():
    anchors = np.full((4, 2), 50.0)
    sizes = np.full((4, 2), [30.0, 10.0])
    offsets = place_labels(anchors, sizes)
    assert len({tuple(o) for o in offsets}) == 4
    boxes = [label_box(a, o, s) for a, o, s in zip(anchors, offsets, sizes, strict=True)]
    assert not any(_overlap(a, b) for a, b in itertools.combinations(boxes, 2))


def test_far_apart_labels_all_keep_the_usual_place():
    anchors = np.array([[0, 0], [500, 0], [0, 500]], float)
    offsets = place_labels(anchors, np.full((3, 2), [40.0, 10.0]), gap=8)
    np.testing.assert_array_equal(offsets, np.full((3, 2), 8.0))


def test_label_box_to_the_left_ends_at_its_offset():
    assert label_box((10, 10), (-8, -8), (20, 5)) == (-18, -3, 2, 2)
    assert label_box((10, 10), (8, 8), (20, 5)) == (18, 18, 38, 23)


def test_labels_at_the_edge_of_the_bounds_turn_inwards():
    anchors = np.array([[98.0, 98.0], [97.0, 96.0]])
    sizes = np.full((2, 2), [30.0, 10.0])
    offsets = place_labels(anchors, sizes, bounds=(0, 0, 100, 100))
    boxes = [label_box(a, o, s) for a, o, s in zip(anchors, offsets, sizes, strict=True)]
    assert all(b[0] >= 0 and b[1] >= 0 and b[2] <= 100 and b[3] <= 100 for b in boxes)
    assert not _overlap(*boxes)
