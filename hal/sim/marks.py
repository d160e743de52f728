"""Find the simulator's sync marks (white frames, beeps) in captured media.

Used by the hardware self-demo and tests to measure from the output alone what the
simulated camera and microphone actually delivered: frames decode, flashes and beeps
land on whole seconds, and audio and video agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import av
import numpy as np

from bodycam.hal.interfaces import AudioChunk, VideoPacket
from bodycam.hal.sim.microphone import BEEP_AMPLITUDE

WHITE_MIN_LUMA = 235  # mean Y of a decoded full-white frame is ~235 (video range)
_BEEP_THRESHOLD = BEEP_AMPLITUDE // 4
_BEEP_GAP_US = 100_000  # above-threshold samples closer than this belong to one beep


@dataclass(frozen=True)
class DecodedVideo:
    frames: int  # frames the decoder produced
    keyframe_pts_us: list[int]  # pts of packets flagged as keyframes
    flash_pts_us: list[int]  # pts of decoded full-white frames


def decode_video(packets: Iterable[VideoPacket]) -> DecodedVideo:
    """Decode H.264 packets in memory with PyAV (nothing written to disk)."""
    decoder = av.CodecContext.create("h264", "r")
    frames = 0
    keyframes: list[int] = []
    flashes: list[int] = []

    def take(decoded: Iterable[av.VideoFrame]) -> None:
        nonlocal frames
        for frame in decoded:
            frames += 1
            if frame.pts is not None and frame.to_ndarray(format="gray").mean() >= WHITE_MIN_LUMA:
                flashes.append(int(frame.pts))

    for packet in packets:
        if packet.keyframe:
            keyframes.append(packet.pts_us)
        av_packet = av.Packet(packet.data)
        av_packet.pts = packet.pts_us
        take(decoder.decode(av_packet))
    take(decoder.decode(None))
    return DecodedVideo(frames, keyframes, flashes)


def beep_onsets_us(chunks: Sequence[AudioChunk]) -> list[int]:
    """Start times of the beeps in channel 0: first sample of each loud burst.

    Accurate to within a quarter period of the 1 kHz tone (the sine starts at zero and
    crosses the threshold a few samples later: about 40 us at 48 kHz).
    """
    onsets: list[int] = []
    last_loud = -(10**18)
    for chunk in chunks:
        samples = np.frombuffer(chunk.pcm, dtype="<i2")[::chunk.channels]
        for i in np.flatnonzero(np.abs(samples.astype(np.int32)) > _BEEP_THRESHOLD):
            t_us = chunk.pts_us + int(i) * 1_000_000 // chunk.sample_rate
            if t_us - last_loud > _BEEP_GAP_US:
                onsets.append(t_us)
            last_loud = t_us
    return onsets
