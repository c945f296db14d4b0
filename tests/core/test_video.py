"""How complete a decoded video is: a container's frame count may be off by a frame or two; a video
cut short, or one FFmpeg reports damage in, is partial, with the reason in words."""

from __future__ import annotations

import numpy as np

from signlang.core.video import Video


def video(expected: int, decoded: int, messages: list[str] | None = None) -> Video:
    return Video([], np.zeros(0, np.int64), 30.0, expected, decoded, messages or [])


def test_a_whole_video_is_not_partial_even_when_its_header_counts_two_more_frames():
    assert video(64, 62).partial is None  # FOOTBALL.mp4 says 64 and decodes 62
    assert video(0, 40).partial is None  # a container that does not say
    assert video(64, 64, ["[mov,mp4 @ 0x5] stream 1, timescale not set"]).partial is None  # a note, not damage


def test_a_video_cut_short_or_reported_damaged_is_partial_and_says_why():
    cut = video(64, 13, ["[h264 @ 0x55d0] Invalid NAL unit size (1127 > 913).", "[h264 @ 0x55d0] missing picture"])
    assert (
        cut.partial
        == "decoding stopped after 13 of 64 frames (FFmpeg: Invalid NAL unit size (1127 > 913); 2 such lines)"
    )
    damaged = video(64, 64, ["[h264 @ 0x1] error while decoding MB 3 4"])
    assert damaged.partial == "64 frames decoded with errors (FFmpeg: error while decoding MB 3 4)"
