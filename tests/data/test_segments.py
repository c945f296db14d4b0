"""The segmenter: signs are runs of frames with a hand up, closed after a pause, found the same way
frame by frame (live) and over a recording; on real FSL-105 clips put end to end it finds each one."""

from __future__ import annotations

import numpy as np
import pytest

from signlang.core.errors import ConfigError
from signlang.core.layout import LEFT_HAND, NUM_POINTS, RIGHT_HAND
from signlang.data.segments import OnlineSegmenter, find_segments, hands_up, iou, match, regions


def mask_of(pattern: str) -> np.ndarray:
    """``[T,78]`` from a string: ``L``/``R`` a hand up in that frame, ``.`` hands down (pose always seen)."""
    mask = np.zeros((len(pattern), NUM_POINTS), dtype=bool)
    mask[:, :25] = True
    for t, c in enumerate(pattern):
        if c == "L":
            mask[t, LEFT_HAND.start : LEFT_HAND.stop] = True
        elif c == "R":
            mask[t, RIGHT_HAND.start : RIGHT_HAND.stop] = True
    return mask


def spans(pattern: str, **settings) -> list[tuple[int, int]]:
    settings = {"close_gap_s": 0.3, "min_sign_s": 0.3, "context_s": 0.2, **settings}
    return [(s.start, s.stop) for s in find_segments(mask_of(pattern), 10.0, **settings)]


def test_hands_up_reads_either_hand_and_nothing_else():
    assert hands_up(mask_of("..LR.")).tolist() == [False, False, True, True, False]


def test_a_short_gap_stays_inside_a_sign_and_a_pause_ends_it():
    # at 10 fps: close_gap 0.3 s = 3 frames; a 2-frame gap stays in, a 3-frame pause ends the sign
    assert spans("..RRRR..RRRR...RRRR....") == [(2, 12), (15, 19)]


def test_a_hand_passing_through_is_not_a_sign():
    assert spans("..RR......RRRRR.....") == [(10, 15)]  # 2 frames < min_sign 3
    assert spans("..RR......RRRRR.....", min_sign_s=0.1) == [(2, 4), (10, 15)]


def test_the_sign_still_open_at_the_end_is_kept():
    assert spans("....RRRRR") == [(4, 9)]


def test_contexts_hold_rest_either_side_and_never_overlap():
    found = find_segments(mask_of("..RRRR..........RRRR.RRRR..."), 10.0, close_gap_s=0.3, min_sign_s=0.3, context_s=1.0)
    assert [(s.context_start, s.context_stop) for s in found] == [(0, 9), (9, 28)]
    assert all(s.context_start <= s.start < s.stop <= s.context_stop for s in found)


def test_live_frames_with_gaps_are_placed_by_their_time():
    segmenter = OnlineSegmenter(10.0, close_gap_s=0.3, min_sign_s=0.3, context_s=0.0)
    out = [segmenter.push(up, t) for up, t in [(True, 0), (True, 2), (True, 4), (False, 6), (False, 8)]]
    assert [s for s in out if s] and (out[-1].start, out[-1].stop) == (0, 5)
    with pytest.raises(ValueError, match="in order"):
        segmenter.push(True, 3)


def test_settings_that_cannot_work_are_refused():
    with pytest.raises(ConfigError, match="frame rate"):
        OnlineSegmenter(0)
    with pytest.raises(ConfigError, match="close_gap_s"):
        OnlineSegmenter(30, close_gap_s=0)


def test_regions_cut_halfway_between_signs_and_reach_the_ends():
    assert regions([(2, 4), (10, 12), (20, 22)], 30) == [(0, 7), (7, 16), (16, 30)]


def test_matching_pairs_each_span_once_best_overlap_first():
    assert iou((0, 10), (5, 15)) == pytest.approx(5 / 15)
    found, truth = [(0, 10), (9, 20), (40, 50)], [(0, 9), (9, 21), (30, 35)]
    assert match(found, truth) == [(0, 0), (1, 1)]
    assert match([(0, 10), (0, 10)], [(0, 10)]) == [(0, 0)]  # a true sign is matched once


def test_real_fsl105_clips_end_to_end_are_found_one_by_one(shared_data):
    """Streams of real FSL-105 clips (rest frames included): each found sign's stretch matches its
    clip at IoU >= 0.5 for at least 95% of found signs and of clips (the issue's target)."""
    folder = shared_data / "fsl105" / "keypoints"
    files = sorted(folder.glob("*.npz"))
    rng = np.random.default_rng(0)
    pick = rng.choice(len(files), 120, replace=False)
    masks = []
    for i in pick:
        with np.load(files[i]) as z:
            masks.append(z["mask"])
    tp = n_found = n_true = 0
    for start in range(0, 120, 6):  # 20 streams of 6 clips
        part = masks[start : start + 6]
        bounds = np.cumsum([0] + [len(m) for m in part])
        truth = [(int(bounds[j]), int(bounds[j + 1])) for j in range(len(part))]
        found = [(s.start, s.stop) for s in find_segments(np.concatenate(part), 30.0)]
        tp += len(match(regions(found, int(bounds[-1])), truth))
        n_found, n_true = n_found + len(found), n_true + len(truth)
    assert tp / n_found >= 0.95 and tp / n_true >= 0.95, (tp, n_found, n_true)
