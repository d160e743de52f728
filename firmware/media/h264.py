"""Just enough H.264 Annex B parsing to keep every segment independently playable.

A segment's first access unit must carry the sequence and picture parameter sets (SPS,
PPS), otherwise a player opening that segment alone cannot decode anything. The
cameras are configured to repeat the headers on every keyframe (picamera2's
`repeat=True`, x264's `repeat-headers`), but this is checked rather than trusted: the
latest SPS/PPS are remembered and put in front of any keyframe that arrives without them.
"""

from __future__ import annotations

from collections.abc import Iterator

NAL_IDR = 5
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9
_VCL_TYPES = range(1, 6)  # coded slice NAL units: the parameter sets always precede them
_START = b"\x00\x00\x01"
_START4 = b"\x00\x00\x00\x01"


def iter_nal_units(data: bytes) -> Iterator[tuple[int, int, int]]:
    """Yield (nal_type, start, end) for each NAL unit before the first coded slice.

    start/end delimit the unit including its start code, so data[start:end] can be
    copied into another access unit unchanged. Stops at the first slice: everything a
    decoder needs before the picture data (AUD, SPS, PPS, SEI) comes before it.
    """
    pos = data.find(_START)
    while pos != -1 and pos + 3 < len(data):
        start = pos - 1 if pos > 0 and data[pos - 1] == 0 else pos
        nal_type = data[pos + 3] & 0x1F
        nxt = data.find(_START, pos + 3)
        end = len(data) if nxt == -1 else (nxt - 1 if data[nxt - 1] == 0 else nxt)
        yield nal_type, start, end
        if nal_type in _VCL_TYPES:
            return
        pos = nxt


class ParameterSetCache:
    """Remembers the last SPS/PPS and completes keyframes that lack them."""

    def __init__(self) -> None:
        self._sps: bytes | None = None
        self._pps: bytes | None = None
        self.repaired = 0  # keyframes that needed the cached headers (for diagnostics)

    @property
    def ready(self) -> bool:
        return self._sps is not None and self._pps is not None

    def complete(self, keyframe: bytes) -> bytes:
        """Return `keyframe` with SPS and PPS present (inserted after an AUD if missing).

        Without any cached headers yet the access unit is returned unchanged: there is
        nothing better to offer, and muxing it keeps the evidence.
        """
        units = list(iter_nal_units(keyframe))
        types = {t for t, _, _ in units}
        for nal_type, start, end in units:
            if nal_type == NAL_SPS:
                self._sps = _with_long_start(keyframe[start:end])
            elif nal_type == NAL_PPS:
                self._pps = _with_long_start(keyframe[start:end])
        if {NAL_SPS, NAL_PPS} <= types or self._sps is None or self._pps is None:
            return keyframe
        self.repaired += 1
        cut = units[0][2] if units and units[0][0] == NAL_AUD else 0
        return keyframe[:cut] + self._sps + self._pps + keyframe[cut:]


def _with_long_start(unit: bytes) -> bytes:
    return unit if unit.startswith(_START4) else b"\x00" + unit
