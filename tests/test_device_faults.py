"""Bad conditions during a recording, through the simulated hardware: the recording is
sealed with a reason that names the cause, the wearer's state and the audit log say what
happened, and evidence already on the card is never touched."""

from __future__ import annotations

import errno
import hashlib
import io
import itertools
import json
from pathlib import Path
from typing import Any

import av
import pytest
from device_rig import MIB, AuthorityIdentity, MakeDevice, RunningSimDevice

from bodycam.firmware.device.feedback import ALARMS
from bodycam.firmware.evidence.age import decrypt
from bodycam.firmware.evidence.age.keys import parse_identity
from bodycam.firmware.evidence.signed_log import SignedLog
from bodycam.firmware.evidence.verify import verify_log, verify_recording

Record = dict[str, Any]
STALL_S = 5.0  # longer than evidence.stall_seconds (3 s), so it counts as a stall


def events(records: list[Record], name: str) -> list[Record]:
    return [r for r in records if r["event"] == name]


def transitions(records: list[Record]) -> list[tuple[str, str]]:
    return [(r["from"], r["to"]) for r in events(records, "state")]


def manifest(recording: Path) -> list[Record]:
    return [json.loads(line) for line in (recording / "manifest.jsonl").open()]


def tree_digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.iterdir())}


def record_for(rig: RunningSimDevice, seconds: float) -> None:
    rig.tap("record")
    rig.wait_state("recording")
    rig.sleep(seconds)


def stop_by_hold(rig: RunningSimDevice) -> None:
    rig.hold("record", rig.config.buttons.hold_seconds + 0.3)
    rig.wait_state("display_on")


def sealed_report(recording: Path) -> Any:
    report = verify_recording(recording)
    assert report.status == "verified", report.summary()
    assert report.sealed
    return report


def test_battery_critical_seals_then_powers_off(sim_device: RunningSimDevice) -> None:
    rig = sim_device
    record_for(rig, 2.0)
    rig.hardware.power.set_battery(rig.config.power.battery_critical_percent - 2)
    rig.wait_state("off")
    rig.stop()

    records = rig.audit()
    assert transitions(records)[-3:] == [("idle", "recording"), ("recording", "shutting_down"),
                                         ("shutting_down", "off")]
    assert "battery" in events(records, "state")[-2]["cause"]
    assert {r["alarm"] for r in events(records, "alarm")} >= {"battery_low", "battery_critical"}
    [sealed] = events(records, "recording_sealed")  # audited before powering off
    [recording] = rig.recordings()
    report = sealed_report(recording)
    assert report.seal_reason == sealed["reason"]
    assert "battery critical" in report.seal_reason
    assert verify_log(rig.device.audit.path).status == "verified"


def test_storage_full_mid_recording_seals_faults_and_keeps_older_evidence(
        sim_device: RunningSimDevice) -> None:
    rig = sim_device
    record_for(rig, 2.0)
    stop_by_hold(rig)
    rig.wait_audit(lambda r: r["event"] == "recording_sealed")
    [earlier] = rig.recordings()
    earlier_files = tree_digest(earlier)

    record_for(rig, 2.0)
    rig.free_space.set(rig.config.storage.reserve_mb * MIB - MIB)  # below the reserve
    rig.wait_state("fault")
    rig.wait_audit(lambda r: r["event"] == "recording_sealed"
                   and r["recording_id"] != earlier.name)
    rig.tap("record")  # still full: refused, stays in fault, nothing written
    refused = rig.wait_audit(lambda r: r["event"] == "refused")
    assert rig.state == "fault"
    rig.stop()

    records = rig.audit()
    assert records[refused]["reason"].startswith("storage full")
    assert ("recording", "fault") in transitions(records)
    assert [r["alarm"] for r in events(records, "alarm")].count("storage_full") == 1
    earlier_again, latest = rig.recordings()
    assert earlier_again == earlier and tree_digest(earlier) == earlier_files
    sealed_report(earlier)
    report = sealed_report(latest)
    assert report.seal_reason is not None and report.seal_reason.startswith("storage full")
    assert report.segments >= 1
    assert verify_log(rig.device.audit.path).status == "verified"


@pytest.mark.parametrize("source", ["camera", "microphone"])
def test_stall_during_recording_is_a_gap_not_an_end(
        source: str, make_sim_device: MakeDevice,
        authority_identity: AuthorityIdentity) -> None:
    rig = make_sim_device("evidence.segment_seconds=30")  # one segment to inspect
    record_for(rig, 1.5)
    stalled = rig.hardware.camera if source == "camera" else rig.hardware.microphone
    changes_before = len(rig.output_changes())
    stalled.stall(STALL_S)
    started = rig.wait_audit(lambda r: r["event"] == "stall_started")
    # the wearer is told: the amber LED blinks the media_stall pattern
    rig.wait_until(lambda: ("led_amber", True) in rig.output_changes(changes_before))
    ended = rig.wait_audit(lambda r: r["event"] == "stall_ended", after=started)
    rig.wait_audit(lambda r: r["event"] == "alarm_cleared"
                   and r["alarm"] == f"{source}_stall", after=ended)
    rig.sleep(1.5)
    assert rig.state == "recording"
    stop_by_hold(rig)
    rig.stop()

    records = rig.audit()
    assert records[started]["source"] == records[ended]["source"] == source
    assert any(r["event"] == "alarm" and r["alarm"] == f"{source}_stall" for r in records)
    during = records[started:ended]
    assert not events(during, "state") and not events(during, "recording_sealed")
    [recording] = rig.recordings()
    report = sealed_report(recording)
    assert report.seal_reason is not None and report.seal_reason.startswith("stopped by wearer")
    gaps = [r for r in manifest(recording) if r["event"] == "gap"]
    assert {g["source"] for g in gaps} == {source}
    closed = [g for g in gaps if g["end_us"] is not None]
    assert closed and closed[-1]["end_us"] - closed[-1]["start_us"] >= 2_000_000

    longest = longest_silence_s(recording, authority_identity)
    other = "audio" if source == "camera" else "video"
    stalled_kind = "video" if source == "camera" else "audio"
    assert longest[stalled_kind] >= 2.0
    assert longest[other] < 1.0, f"{other} stopped flowing during the {source} stall"


def longest_silence_s(recording: Path, authority: AuthorityIdentity) -> dict[str, float]:
    """Per stream kind, the longest time between consecutive packets in the recording."""
    identity = parse_identity(authority.secret)
    times: dict[str, list[float]] = {"video": [], "audio": []}
    for segment in sorted(recording.glob("*.age")):
        plain = io.BytesIO()
        with segment.open("rb") as src:
            decrypt([identity], src, plain)
        plain.seek(0)
        with av.open(plain, mode="r", format="mpegts") as container:
            for packet in container.demux():
                if packet.pts is not None and packet.stream.type in times:
                    times[packet.stream.type].append(float(packet.pts * packet.time_base))
    longest = {}
    for kind, stamps in times.items():
        stamps.sort()
        assert len(stamps) > 10, f"too few {kind} packets"
        longest[kind] = max(b - a for a, b in itertools.pairwise(stamps))
    return longest


def test_no_recipient_refuses_and_writes_nothing(make_sim_device: MakeDevice) -> None:
    rig = make_sim_device(recipients=())
    rig.wait_state("fault")  # the boot check already says so
    rig.tap("display")  # the wearer acknowledges ...
    rig.wait_state("idle")
    rig.tap("record")  # ... and tries anyway
    refused = rig.wait_audit(lambda r: r["event"] == "refused")
    assert rig.state == "fault"
    rig.sleep(1.0)
    rig.stop()

    records = rig.audit()
    assert "no evidence recipient" in records[refused]["reason"]
    assert transitions(records) == [
        ("booting", "fault"), ("fault", "idle"), ("idle", "fault"),
        ("fault", "shutting_down"), ("shutting_down", "off")]
    assert events(records, "state")[2]["cause"].startswith("record refused")
    evidence = rig.device.store.evidence_dir
    assert not evidence.exists() or not any(evidence.iterdir())
    assert verify_log(rig.device.audit.path).status == "verified"


def test_store_refusal_is_known_before_entering_recording(sim_device: RunningSimDevice) -> None:
    """Free space just above the reserve: too little for the store to begin a recording
    (header and first chunks), which the controller now asks before the state changes,
    so the device goes straight to a storage fault instead of recording, then refused."""
    rig = sim_device
    rig.wait_state("idle")
    rig.free_space.set(rig.config.storage.reserve_mb * MIB + 1)
    rig.sleep(1.5)  # polls: nearly full, but not at the reserve, so no fault by itself
    assert rig.state == "idle"
    rig.tap("record")
    rig.wait_state("fault")
    refused = rig.wait_audit(lambda r: r["event"] == "refused")
    rig.free_space.set(rig.config.storage.nearly_full_mb * MIB + 64 * MIB)  # offloaded
    rig.wait_state("idle")
    rig.stop()

    records = rig.audit()
    assert records[refused]["reason"].startswith("storage full")
    assert transitions(records)[:3] == [("booting", "idle"), ("idle", "fault"),
                                        ("fault", "idle")]
    assert not events(records, "recording_refused")  # the recorder was never asked
    assert [r["alarm"] for r in events(records, "alarm")] == ["storage_nearly_full",
                                                             "storage_full"]
    assert [r["alarm"] for r in events(records, "alarm_cleared")] == ["storage_full"]
    assert rig.recordings() == []


def test_unwritable_seal_alarms_and_the_next_start_seals_it(
        make_sim_device: MakeDevice, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SD card fails exactly when the seal record is written (the simulated hardware
    has no storage fault control, so the manifest's write of that one line is made to
    fail with EIO, as the card would): the wearer gets the storage fault alarm, the
    audit log says what happened, and recovery at the next start seals the recording."""
    real_append = SignedLog.append

    def failing_seal(log: SignedLog, event: str, **fields: Any) -> dict[str, Any]:
        if event == "seal":
            raise OSError(errno.EIO, "Input/output error")
        return real_append(log, event, **fields)

    rig = make_sim_device(name="camera")
    record_for(rig, 1.5)
    monkeypatch.setattr(SignedLog, "append", failing_seal)
    stop_by_hold(rig)
    found = rig.wait_audit(lambda r: r["event"] == "alarm" and r["alarm"] == "storage_fault")
    assert rig.hardware.indicators.led_state("amber") == ALARMS["storage_fault"].amber
    assert rig.state == "display_on"
    rig.stop()
    monkeypatch.undo()

    records = rig.audit()
    [sealed] = events(records, "recording_sealed")
    assert sealed["sealed"] is False
    assert records.index(sealed) < found
    assert records[found]["detail"] == (f"recording {sealed['recording_id']}: the seal record "
                                        "could not be written; recovery seals it at the "
                                        "next start")
    [recording] = rig.recordings()
    assert verify_recording(recording).sealed is False

    again = make_sim_device(name="camera")  # same card, next start
    again.wait_state("idle")
    again.stop()
    [recovery] = events(again.audit(), "recovery")
    assert recovery["recording_id"] == recording.name
    report = verify_recording(recording)
    assert report.status == "verified" and report.sealed
