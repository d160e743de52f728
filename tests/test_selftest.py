"""run_selftest on the simulated hardware, with faults injected through the sim's controls."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bodycam.firmware.config.loader import load_config, shipped_file
from bodycam.firmware.config.model import (
    AudioConfig,
    Config,
    EvidenceConfig,
    StorageConfig,
    VideoConfig,
)
from bodycam.firmware.device.card_speed import (
    MIB,
    RecordingLoad,
    SyncedWriteProbe,
    synced_write_bytes_per_s,
)
from bodycam.firmware.device.selftest import (
    PARTS,
    PartResult,
    check_clock,
    check_device_key,
    check_recipients,
    check_storage,
    colour_bars,
    judge_audio,
    run_selftest,
)
from bodycam.firmware.device.selftest_cmd import UnavailableDisplay
from bodycam.firmware.evidence.age.keys import generate_identity
from bodycam.firmware.evidence.device_key import KEY_FILE_NAME, SoftwareKeyStore
from bodycam.hal.clocks import ManualClock, SimClock
from bodycam.hal.interfaces import AudioCallback, AudioChunk, Hardware, HardwareError
from bodycam.hal.sim.hardware import SimHardware, build_sim_hardware

SECONDS = 1.5  # simulated; long enough for two keyframes at keyframe_interval = fps
SPEED = 2.0  # simulated seconds per real second


def sim_device_config(tmp_path: Path, *overrides: str) -> Config:
    """sim.toml with one recipient, small video, storage and a device key in tmp_path."""
    device_file = tmp_path / "device.toml"
    device_file.write_text(f'[evidence]\nrecipients = ["{generate_identity()[1]}"]\n')
    (tmp_path / "data").mkdir()
    SoftwareKeyStore.create(tmp_path / "state")
    return load_config(shipped_file("sim.toml"), device_file, overrides=[
        f'storage.data_dir="{tmp_path / "data"}"', f'storage.state_dir="{tmp_path / "state"}"',
        "storage.reserve_mb=16", "storage.nearly_full_mb=32",
        "video.width=320", "video.height=180", "video.bitrate_kbps=300", *overrides])


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return sim_device_config(tmp_path)


@pytest.fixture
def hardware(config: Config) -> Iterator[SimHardware]:
    hw = build_sim_hardware(config, SimClock(speed=SPEED))
    yield hw
    hw.close()


def by_part(results: list[PartResult]) -> dict[str, PartResult]:
    assert [r.part for r in results] == list(PARTS)
    return {r.part: r for r in results}


def test_all_parts_of_the_simulated_device_pass(hardware: SimHardware, config: Config) -> None:
    results = by_part(run_selftest(hardware, config, SECONDS))
    assert [r for r in results.values() if not r.ok] == []
    assert results["camera"].detail.startswith("30.0 fps, keyframes every 1.0 s")
    assert results["microphone"].detail.startswith("48000 Hz x1")
    assert results["battery"].detail.startswith("100 %; no gauge rate (CRATE) to measure; "
                                                "model (")
    assert hardware.display.last_image is not None
    assert not hardware.display.is_on  # test pattern shown, then switched off
    assert not hardware.camera.running and not hardware.microphone.running


def test_stalled_microphone_fails_with_the_fix(hardware: SimHardware, config: Config) -> None:
    hardware.microphone.stall(60.0)
    results = by_part(run_selftest(hardware, config, SECONDS))
    mic = results["microphone"]
    assert not mic.ok
    assert mic.detail == "microphone delivered no audio in 1.5 s"
    assert "arecord -l" in mic.fix
    assert results["display"].ok and results["battery"].ok  # the others are still tested


def test_microphone_that_dies_after_starting_fails(hardware: SimHardware,
                                                   config: Config,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    mic = hardware.microphone
    start = mic.start

    def start_then_die(on_audio: AudioCallback) -> None:
        start(on_audio)
        mic.fail()

    monkeypatch.setattr(mic, "start", start_then_die)
    result = by_part(run_selftest(hardware, config, SECONDS))["microphone"]
    assert not result.ok
    assert result.detail.startswith("microphone delivered ")
    assert "audio in 1.5 s" in result.detail


def test_unreadable_battery_gauge_fails(hardware: SimHardware, config: Config) -> None:
    hardware.power.set_battery(None)
    battery = by_part(run_selftest(hardware, config, SECONDS))["battery"]
    assert battery == PartResult(
        "battery", False, "battery fuel gauge not readable",
        "check the gauge's I2C wiring (`i2cdetect -y 1` must show 0x36) and "
        "[power] i2c_bus/i2c_address")


def test_button_pressed_at_start_is_reported_as_stuck(hardware: SimHardware,
                                                      config: Config) -> None:
    hardware.panel.press("record")
    buttons = by_part(run_selftest(hardware, config, SECONDS))["buttons"]
    assert not buttons.ok
    assert buttons.detail == "record button reads pressed at start: stuck or wired active-high"
    assert "[buttons] active_low (now true" in buttons.fix


def test_a_part_that_could_not_be_opened_fails_and_the_others_are_tested(
        hardware: SimHardware, config: Config) -> None:
    error = HardwareError("front display ssd1351", "SPI0.0", "no answer on the bus",
                          "check the SPI wiring")
    parts = {f.name: getattr(hardware, f.name) for f in dataclasses.fields(Hardware)}
    degraded = Hardware(**{**parts, "display": UnavailableDisplay(error)})
    results = by_part(run_selftest(degraded, config, SECONDS))
    assert results["display"] == PartResult(
        "display", False, "front display ssd1351 (SPI0.0): no answer on the bus",
        "check the SPI wiring")
    assert results["camera"].ok and results["buttons"].ok and results["indicators"].ok


def test_microphone_delivering_zeros_is_silence() -> None:
    chunks = [AudioChunk(bytes(1920), i * 20_000, 48000, 1) for i in range(100)]
    result = judge_audio(chunks, 2.0)
    assert not result.ok
    assert result.detail == "microphone delivers only silence"
    assert result.fix.startswith("check the wiring/dtoverlay")


def test_disabled_audio_is_not_a_failure(tmp_path: Path) -> None:
    config = sim_device_config(tmp_path, "audio.enabled=false")
    hw = build_sim_hardware(config, SimClock(speed=SPEED))
    try:
        mic = by_part(run_selftest(hw, config, 0.5))["microphone"]
    finally:
        hw.close()
    assert mic == PartResult("microphone", True, "not used ([audio] enabled = false)")


def test_duration_must_be_positive(hardware: SimHardware, config: Config) -> None:
    with pytest.raises(ValueError, match="positive duration"):
        run_selftest(hardware, config, 0)


def test_unsynchronised_clock_fails() -> None:
    result = check_clock(ManualClock(synchronised=False))
    assert not result.ok
    assert result.detail == "wall clock not synchronised (reads 2025-01-01T08:00:00Z)"


# 4 Mbit/s, a 30 s ring (+ one GOP), 0.5 s sync interval.
_LOAD = RecordingLoad(stream_bytes_per_s=4_000_000 / 8, ring_bytes=15_500_000,
                      slice_bytes=250_000, sync_interval_s=0.5)


def test_storage_checks(tmp_path: Path) -> None:
    storage = StorageConfig(tmp_path, tmp_path, reserve_mb=16, nearly_full_mb=32)
    small = dataclasses.replace(_LOAD, ring_bytes=2_000_000)  # light on a shared CI disk
    result = check_storage(storage, small)
    assert result.ok, result.detail
    # The real card (here: the test machine's disk) was measured, with the ring window.
    assert re.search(r"card writes [0-9.]+ MB/s with syncs; the pre-record ring \(up to "
                     r"1\.9 MB\) and the live media behind it are on the card [0-9.]+ s "
                     r"after a press", result.detail), result.detail
    assert list(tmp_path.iterdir()) == []  # the probe file is gone again
    missing = check_storage(dataclasses.replace(storage, data_dir=tmp_path / "nope"), _LOAD)
    assert missing.detail == f"data directory {tmp_path / 'nope'} does not exist"
    full = check_storage(dataclasses.replace(storage, reserve_mb=1_000_000_000), _LOAD)
    assert not full.ok
    assert "below the 1000000000 MB reserve: recording is refused" in full.detail


def test_storage_speed_probe_writes_in_synced_slices(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    synced: list[int] = []
    real = os.fsync

    def spy(fd: int) -> None:
        real(fd)
        synced.append(os.fstat(fd).st_size)

    monkeypatch.setattr(os, "fsync", spy)
    speed = synced_write_bytes_per_s(tmp_path, 1_000_000, 300_000)
    assert speed > 0
    assert synced == [300_000, 600_000, 900_000, 1_000_000]  # one fsync per slice
    assert list(tmp_path.iterdir()) == []


def test_speed_probe_gives_up_on_a_card_that_takes_too_long(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dying card is judged on what it wrote within the time limit, not waited for."""
    import os

    from bodycam.firmware.device import card_speed

    real = os.fsync
    stalls = iter(range(1_000))

    def slow_fsync(fd: int) -> None:  # a card that needs 4 s per slice (the clock says)
        real(fd)
        next(stalls)

    fake_now = iter(float(4 * i) for i in range(1_000))
    monkeypatch.setattr(os, "fsync", slow_fsync)
    monkeypatch.setattr(card_speed.time, "perf_counter", lambda: next(fake_now))
    speed = synced_write_bytes_per_s(tmp_path, 16 * MIB, MIB)
    assert next(stalls) == 3  # three slices (12 s > the 10 s limit), not sixteen
    assert speed == 3 * MIB / 12


# A card that cannot exist on this machine: the measured speed is injected.
def _card(mb_per_s: float) -> SyncedWriteProbe:
    return lambda _dir, _total, _slice: mb_per_s * MIB


def test_slow_card_fails_with_the_fix(tmp_path: Path) -> None:
    storage = StorageConfig(tmp_path, tmp_path, reserve_mb=0, nearly_full_mb=0)
    slow = check_storage(storage, _LOAD, _card(0.8))
    assert not slow.ok
    assert slow.detail == ("card writes 0.8 MB/s with syncs, recording needs 0.95 MB/s "
                           "(2x the 4.0 Mbit/s stream)")
    assert "A1 / video class V30" in slow.fix and "video.bitrate_kbps" in slow.fix


def test_flush_window_counts_the_live_backlog_and_names_what_shortens_it(
        tmp_path: Path) -> None:
    storage = StorageConfig(tmp_path, tmp_path, reserve_mb=0, nearly_full_mb=0)
    # 5 MB/s card, 0.5 MB/s stream: the backlog shrinks by 4.5 MB/s -> 15.5 MB in 3.3 s.
    result = check_storage(storage, _LOAD, _card(5.0))
    assert result.ok
    assert ("the pre-record ring (up to 14.8 MB) and the live media behind it are on the "
            "card 3.3 s after a press (over 1.5 s") in result.detail
    assert "evidence.prerecord_seconds" in result.detail
    quick = check_storage(storage, _LOAD, _card(50.0))
    assert "on the card 0.3 s after a press" in quick.detail and "over" not in quick.detail
    # A longer sync interval leaves less of the 2 s bound for the flush.
    slow_sync = dataclasses.replace(_LOAD, sync_interval_s=1.0)
    assert "(over 1 s:" in check_storage(storage, slow_sync, _card(10.0)).detail


def test_recording_load_follows_the_configuration() -> None:
    video = VideoConfig(1920, 1080, 30, 10_000, 30)
    audio = AudioConfig(True, 48_000, 1, 96)
    evidence = EvidenceConfig(("age1x",), 10, 30, False, 3, 0.5)
    load = RecordingLoad.of(video, audio, evidence)
    assert load.stream_bytes_per_s == 1_262_000
    assert load.ring_bytes == 38_750_000  # 31 s (30 + one GOP) of video: no ring audio
    assert load.slice_bytes == 631_000 and load.sync_interval_s == 0.5
    with_audio = RecordingLoad.of(video, audio, dataclasses.replace(evidence,
                                                                    prerecord_audio=True))
    assert with_audio.ring_bytes == 39_122_000
    none = RecordingLoad.of(video, audio, dataclasses.replace(evidence, prerecord_seconds=0))
    assert none.ring_bytes == 0


def test_recipient_checks() -> None:
    recipient = generate_identity()[1]
    evidence = EvidenceConfig((recipient,), 10, 0, False, 3, 0.5)
    assert check_recipients(evidence).ok
    empty = check_recipients(dataclasses.replace(evidence, recipients=()))
    assert empty.detail == "no evidence recipient configured: the camera refuses to record"
    bad = check_recipients(dataclasses.replace(evidence, recipients=("age1nonsense",)))
    assert not bad.ok
    assert bad.detail.startswith("not an age X25519 recipient")


def test_device_key_checks(tmp_path: Path) -> None:
    config = load_config(overrides=[f'storage.state_dir="{tmp_path / "state"}"',
                                    'device.key_store="software"'])
    missing = check_device_key(config)
    assert not missing.ok
    assert "bodycam identity" in missing.fix
    key = SoftwareKeyStore.create(config.storage.state_dir)
    assert check_device_key(config).detail == (
        f"fingerprint {key.fingerprint} (key file on the card: whoever copies the card can "
        "copy it)")
    (config.storage.state_dir / KEY_FILE_NAME).write_text("not a key")
    damaged = check_device_key(config)
    assert not damaged.ok
    assert "damaged" in damaged.detail
    assert "sets it aside" in damaged.detail


def test_test_pattern_fills_the_panel() -> None:
    image = colour_bars((128, 64))
    assert image.size == (128, 64)
    assert image.getpixel((20, 32)) == (255, 255, 0)  # second bar: yellow
