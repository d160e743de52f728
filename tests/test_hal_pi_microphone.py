"""PiMicrophone on the real PyAudio classes with PortAudio (pyaudio._portaudio) faked.

The fake stands in for the sound card layer only: PyAudio, PyAudio.Stream and the
adapter are the real code. The stream callback is driven the way PortAudio's audio
thread calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyaudio
import pytest

from bodycam.firmware.config.model import AudioConfig
from bodycam.hal.clocks import ManualClock
from bodycam.hal.interfaces import AudioChunk, HardwareError
from bodycam.hal.pi.microphone import DisabledMicrophone, PiMicrophone

AUDIO = AudioConfig(enabled=True, sample_rate=48_000, channels=1, bitrate_kbps=96)
BUFFER = 960  # 20 ms at 48 kHz
PCM = bytes(range(256)) * (BUFFER * 2 // 256) + bytes(BUFFER * 2 % 256)


@dataclass
class FakeDeviceInfo:
    """Shape of PortAudio's PaDeviceInfo as _portaudio returns it."""

    name: bytes
    maxInputChannels: int  # noqa: N815 - PortAudio's field name
    maxOutputChannels: int = 0  # noqa: N815
    structVersion: int = 2  # noqa: N815
    hostApi: int = 0  # noqa: N815
    defaultLowInputLatency: float = 0.01  # noqa: N815
    defaultLowOutputLatency: float = 0.01  # noqa: N815
    defaultHighInputLatency: float = 0.05  # noqa: N815
    defaultHighOutputLatency: float = 0.05  # noqa: N815
    defaultSampleRate: float = 48_000.0  # noqa: N815


class FakeStream:
    inputLatency = 0.02  # noqa: N815
    outputLatency = 0.0  # noqa: N815

    def __init__(self, arguments: dict[str, Any]) -> None:
        self.arguments = arguments
        self.active = False
        self.closed = False


class FakePortAudio:
    """pyaudio._portaudio with a configurable set of sound devices."""

    def __init__(self, devices: list[FakeDeviceInfo], default_input: int | None,
                 open_error: OSError | None = None) -> None:
        self.devices = devices
        self.default_input = default_input
        self.open_error = open_error
        self.stream: FakeStream | None = None
        self.terminated = False

    def initialize(self) -> None:
        self.terminated = False

    def terminate(self) -> None:
        self.terminated = True

    def get_device_count(self) -> int:
        return len(self.devices)

    def get_device_info(self, index: int) -> FakeDeviceInfo:
        return self.devices[index]

    def get_default_input_device(self) -> int:
        if self.default_input is None:  # what real PortAudio raises without a sound card
            raise OSError("No Default Input Device Available")
        return self.default_input

    def open(self, **arguments: Any) -> FakeStream:
        if self.open_error is not None:
            raise self.open_error
        self.stream = FakeStream(arguments)
        return self.stream

    def start_stream(self, stream: FakeStream) -> None:
        stream.active = True

    def stop_stream(self, stream: FakeStream) -> None:
        stream.active = False

    def close(self, stream: FakeStream) -> None:
        stream.closed = True

    # the audio thread
    def capture(self, data: bytes, adc: float, now: float, flags: int = 0) -> tuple[Any, int]:
        assert self.stream is not None
        callback: Callable[..., tuple[Any, int]] = self.stream.arguments["stream_callback"]
        time_info = {"input_buffer_adc_time": adc, "current_time": now,
                     "output_buffer_dac_time": 0.0}
        return callback(data, len(data) // 2, time_info, flags)


DEVICES = [
    FakeDeviceInfo(b"bcm2835 Headphones: - (hw:0,0)", maxInputChannels=0, maxOutputChannels=8),
    FakeDeviceInfo(b"USB PnP Sound Device: Audio (hw:2,0)", maxInputChannels=1),
    FakeDeviceInfo(b"default", maxInputChannels=32, maxOutputChannels=32),
]


def install(monkeypatch: pytest.MonkeyPatch, portaudio: FakePortAudio) -> FakePortAudio:
    monkeypatch.setattr(pyaudio, "pa", portaudio)
    return portaudio


@pytest.fixture
def portaudio(monkeypatch: pytest.MonkeyPatch) -> FakePortAudio:
    return install(monkeypatch, FakePortAudio(DEVICES, default_input=2))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(start_monotonic=50.0)


@pytest.fixture
def mic(portaudio: FakePortAudio, clock: ManualClock) -> Iterator[PiMicrophone]:
    microphone = PiMicrophone(AUDIO, clock)
    yield microphone
    microphone.close()


def test_opens_a_16_bit_callback_stream_on_the_default_input(
    portaudio: FakePortAudio, mic: PiMicrophone
) -> None:
    assert portaudio.stream is not None
    arguments = portaudio.stream.arguments
    assert arguments["format"] == pyaudio.paInt16
    assert (arguments["rate"], arguments["channels"]) == (48_000, 1)
    assert arguments["input"] is True
    assert arguments["input_device_index"] == 2
    assert arguments["frames_per_buffer"] == BUFFER
    assert callable(arguments["stream_callback"])
    assert not portaudio.stream.active  # opened at boot, started on demand


def test_callback_wraps_pcm_with_the_adc_time_on_the_monotonic_clock(
    portaudio: FakePortAudio, mic: PiMicrophone
) -> None:
    chunks: list[AudioChunk] = []
    mic.start(chunks.append)
    assert mic.running
    # PortAudio's clock is unrelated to ours: only "captured 5 ms ago" is used
    result = portaudio.capture(PCM, adc=9000.000, now=9000.005)
    assert result == (None, pyaudio.paContinue)
    assert chunks == [AudioChunk(pcm=PCM, pts_us=49_995_000, sample_rate=48_000, channels=1)]
    assert chunks[0].frames == BUFFER
    assert chunks[0].duration_us == 20_000


def test_chunks_are_contiguous_despite_callback_jitter(
    portaudio: FakePortAudio, mic: PiMicrophone, clock: ManualClock
) -> None:
    chunks: list[AudioChunk] = []
    mic.start(chunks.append)
    for late_ms in (0, 7, 2, 11, 0):  # scheduling jitter within a buffer or two
        portaudio.capture(PCM, adc=1.0, now=1.0 + late_ms / 1000)
        clock.advance(0.020)
    starts = [chunk.pts_us for chunk in chunks]
    assert starts == [50_000_000 + 20_000 * i for i in range(5)]
    assert mic.resyncs == 0


def test_a_gap_larger_than_two_buffers_reanchors(
    portaudio: FakePortAudio, mic: PiMicrophone, clock: ManualClock
) -> None:
    chunks: list[AudioChunk] = []
    mic.start(chunks.append)
    portaudio.capture(PCM, adc=1.0, now=1.0)
    clock.advance(0.500)  # an overrun lost 480 ms of audio
    portaudio.capture(PCM, adc=1.5, now=1.5, flags=pyaudio.paInputOverflow)
    assert [chunk.pts_us for chunk in chunks] == [50_000_000, 50_500_000]
    assert (mic.resyncs, mic.overflows) == (1, 1)


def test_backends_without_adc_time_use_the_buffer_duration(
    portaudio: FakePortAudio, mic: PiMicrophone
) -> None:
    chunks: list[AudioChunk] = []
    mic.start(chunks.append)
    portaudio.capture(PCM, adc=0.0, now=0.0)
    assert chunks[0].pts_us == 50_000_000 - 20_000


def test_a_failing_consumer_never_stops_the_stream(
    portaudio: FakePortAudio, mic: PiMicrophone
) -> None:
    def broken(chunk: AudioChunk) -> None:
        raise RuntimeError("queue closed")

    mic.start(broken)
    assert portaudio.capture(PCM, adc=1.0, now=1.0) == (None, pyaudio.paContinue)
    assert mic.callback_errors == 1


def test_stop_and_close(portaudio: FakePortAudio, clock: ManualClock) -> None:
    chunks: list[AudioChunk] = []
    mic = PiMicrophone(AUDIO, clock)
    mic.start(chunks.append)
    with pytest.raises(RuntimeError, match="already started"):
        mic.start(chunks.append)
    mic.stop()
    mic.stop()
    assert portaudio.stream is not None and not portaudio.stream.active
    portaudio.capture(PCM, adc=1.0, now=1.0)  # a late callback after stop
    assert chunks == []
    mic.close()
    assert portaudio.stream.closed and portaudio.terminated


def test_device_selected_by_name_substring(
    monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> None:
    portaudio = install(monkeypatch, FakePortAudio(DEVICES, default_input=2))
    mic = PiMicrophone(AUDIO, clock, device="usb pnp")
    assert portaudio.stream is not None
    assert portaudio.stream.arguments["input_device_index"] == 1
    mic.close()


def test_unknown_device_name_lists_the_inputs_found(
    monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> None:
    portaudio = install(monkeypatch, FakePortAudio(DEVICES, default_input=2))
    with pytest.raises(HardwareError) as caught:
        PiMicrophone(AUDIO, clock, device="seeed")
    text = str(caught.value)
    assert "'seeed'" in text
    assert "USB PnP Sound Device" in text and "Headphones" not in text
    assert portaudio.terminated


def assert_names_microphone_and_fix(error: HardwareError) -> None:
    text = str(error)
    assert text.startswith("microphone (")
    assert "arecord -l" in text
    assert "dtoverlay" in text
    assert "USB" in text


def test_no_sound_card_is_a_hardware_error(
    monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> None:
    portaudio = install(monkeypatch, FakePortAudio([], default_input=None))
    with pytest.raises(HardwareError) as caught:
        PiMicrophone(AUDIO, clock)
    assert_names_microphone_and_fix(caught.value)
    assert "No Default Input Device Available" in str(caught.value)
    assert portaudio.terminated


def test_open_failure_9996_names_the_device(
    monkeypatch: pytest.MonkeyPatch, clock: ManualClock
) -> None:
    error = OSError(-9996, "Invalid input device (no default output device)")
    portaudio = install(monkeypatch, FakePortAudio(DEVICES, default_input=1, open_error=error))
    with pytest.raises(HardwareError) as caught:
        PiMicrophone(AUDIO, clock)
    assert_names_microphone_and_fix(caught.value)
    text = str(caught.value)
    assert "USB PnP Sound Device: Audio (hw:2,0)" in text
    assert "-9996" in text and "48000 Hz" in text
    assert portaudio.terminated


def test_disabled_microphone_opens_nothing() -> None:
    mic = DisabledMicrophone()
    mic.start(lambda chunk: pytest.fail("no audio expected"))
    assert mic.running
    mic.stop()
    assert not mic.running
