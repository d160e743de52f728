"""The security audit's attacks by whoever holds the card (H1, H2, M1, M2, C1), replayed
on the simulated camera: each fails against the fixed code.

Every test records with the real device program, tampers with the card's files exactly
as the audit's reproduction does (head, rm, cp, mv: no cryptography), boots the camera
again where the audit did, and checks what the camera and `bodycam-evidence verify` say.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from device_rig import MakeDevice, RunningSimDevice
from test_evidence_support import TS_PACKET, age_identity, make_store

from bodycam.firmware.evidence.device_key import KEY_FILE_NAME, SoftwareKeyStore
from bodycam.firmware.evidence.public_keys import parse_public_key
from bodycam.firmware.evidence.recovery import QUARANTINE_DIR, recover_unfinished
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.evidence.signed_log import SignedLog
from bodycam.firmware.evidence.verify import verify_log, verify_recording
from bodycam.hal.clocks import ManualClock
from bodycam.tools.custody.cli import main as evidence_main
from bodycam.tools.dev.swtpm import SwTpm

Record = dict[str, Any]
SEGMENTED = "evidence.segment_seconds=2"


def events(records: list[Record], name: str) -> list[Record]:
    return [r for r in records if r["event"] == name]


def record_and_stop(rig: RunningSimDevice, seconds: float = 7.0) -> Path:
    """Record, stop by holding RECORD, power off cleanly; the sealed recording."""
    before = set(rig.recordings())
    rig.tap("record")
    rig.wait_state("recording")
    rig.sleep(seconds)
    rig.hold("record", rig.config.buttons.hold_seconds + 0.3)
    rig.wait_state("display_on")
    rig.wait_audit(lambda r: r["event"] == "recording_sealed")
    rig.stop()
    [recording] = set(rig.recordings()) - before
    return recording


def device_key(rig: RunningSimDevice) -> str:
    return rig.device.identity.session.device_key.b64


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = evidence_main(["verify", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def keep_lines(path: Path, count: int) -> None:
    path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:count]))


def boot_again(make: MakeDevice, *overrides: str) -> RunningSimDevice:
    rig = make(*overrides)
    rig.wait_state("idle", "fault")
    return rig


def still_records(rig: RunningSimDevice) -> None:
    """M2's rule after every attack: the camera can record whatever it found."""
    rig.tap("record")
    rig.wait_state("recording")
    rig.sleep(1.0)
    rig.stop()


# ------------------------------------------------------------------------------ H1


def test_h1_a_sealed_recording_cut_back_is_quarantined_not_recovered(
        make_sim_device: MakeDevice, capsys: pytest.CaptureFixture[str]) -> None:
    """Audit H1 (a): keep the first 5 manifest lines, delete the later segments, boot.
    It used to be sealed as "recovered after power loss" and verify."""
    rig = make_sim_device(SEGMENTED)
    recording = record_and_stop(rig)
    data = rig.config.storage.data_dir
    pub = device_key(rig)
    assert verify_recording(recording).segments >= 3
    keep_lines(recording / "manifest.jsonl", 5)
    for segment in sorted(recording.glob("*.age"))[2:]:
        segment.unlink()

    rig = boot_again(make_sim_device, SEGMENTED)
    records = rig.audit()
    [refused] = events(records, "recovery_refused")
    assert refused["recording_id"] == recording.name
    assert any("records it as sealed" in reason for reason in refused["reasons"])
    assert not events(records[-10:], "recovery")
    assert any(r["alarm"] == "integrity" for r in events(records, "alarm"))
    assert "integrity" in rig.device.controller._feedback.active_alarms
    moved = data / QUARANTINE_DIR / recording.name
    assert not recording.exists() and moved.is_dir()
    assert "seal" not in (moved / "manifest.jsonl").read_text()  # never sealed by recovery
    still_records(rig)

    code, out = verify(capsys, str(moved), "--device-key", pub)
    assert code == 3 and "NOT SEALED" in out  # exactly what the card holder left
    code, out = verify(capsys, str(data), "--device-key", pub)
    assert code == 1
    assert f"knows the seal of {recording.name}" in out and "cut back" in out


def test_h1_a_foreign_segment_spliced_in_is_quarantined(
        make_sim_device: MakeDevice) -> None:
    """Audit H1 (b): keep 3 manifest lines, delete segments 1-5, copy a segment of
    another recording in as 00001.age, boot. It used to verify, spliced into the MP4."""
    other = record_and_stop(make_sim_device(name="other"))
    rig = make_sim_device(SEGMENTED)
    recording = record_and_stop(rig)
    keep_lines(recording / "manifest.jsonl", 3)
    for segment in sorted(recording.glob("*.age"))[1:]:
        segment.unlink()
    shutil.copy(other / "00000.age", recording / "00001.age")

    rig = boot_again(make_sim_device, SEGMENTED)
    [refused] = events(rig.audit(), "recovery_refused")
    assert any("00001.age" in r and "never opened" in r for r in refused["reasons"]), refused
    assert (rig.config.storage.data_dir / QUARANTINE_DIR / recording.name / "00001.age"
            ).read_bytes() == (other / "00000.age").read_bytes()  # kept as found
    still_records(rig)


def test_h1_a_genuine_power_cut_is_still_recovered(make_sim_device: MakeDevice) -> None:
    """The fix must not cost real power cuts: an unsealed recording whose chain is the
    device's own and that the audit log does not call sealed is recovered and verifies."""
    rig = make_sim_device(SEGMENTED)
    recording = record_and_stop(rig)
    # What a power cut before the seal leaves: the seal line and the audit's seal gone.
    keep_lines(recording / "manifest.jsonl", len(
        (recording / "manifest.jsonl").read_bytes().splitlines()) - 1)
    audit = rig.device.audit.path
    lines = audit.read_bytes().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if b'"recording_sealed"' in line)
    audit.write_bytes(b"".join(lines[:cut]))

    rig = boot_again(make_sim_device, SEGMENTED)
    [recovered] = [r for r in events(rig.audit(), "recovery")
                   if r["recording_id"] == recording.name]
    assert recovered["manifest_hash"]
    report = verify_recording(recording, [parse_public_key(device_key(rig))])
    assert report.status == "verified" and report.recovered, report.summary()
    rig.stop()


def test_h1_verify_flags_a_recovery_record_for_a_segment_never_opened(
        tmp_path: Path) -> None:
    """Recordings recovered by the old firmware carry such records: they now fail."""
    clock = ManualClock()
    session = SessionKey(SoftwareKeyStore.generate(), clock)
    directory = tmp_path / "BC-0001-20250101T080000Z-abcd"
    directory.mkdir()
    (directory / "00001.age").write_bytes(b"spliced")
    with SignedLog.open(directory / "manifest.jsonl", session, clock) as log:
        log.append("header", recording_id=directory.name, device_public_key=session.device_key.b64)
        log.append("recovery", index=1, file="00001.age", size=7,
                   sha256="3b4f2b19b38a9f8b1b1d9d5b7b38f1c0d8b4e38b1e0d2c6b5e7f9e1a2b3c4d5e")
        log.append("seal", reason="recovered after power loss", segments=0, counter=None)
    report = verify_recording(directory)
    assert any("never opened" in str(p) for p in report.problems), report.summary()


# ------------------------------------------------------------------------------ H2


def test_h2_every_link_between_audit_log_and_recordings_is_checked(
        make_sim_device: MakeDevice, capsys: pytest.CaptureFixture[str]) -> None:
    rig = make_sim_device()
    first = record_and_stop(rig)
    rig = make_sim_device()
    second = record_and_stop(rig)
    data, pub = rig.config.storage.data_dir, device_key(rig)
    assert verify(capsys, str(data), "--device-key", pub)[0] == 0

    # A whole recording deleted: the audit log names it.
    held = data.parent / "held"
    shutil.move(first, held)
    code, out = verify(capsys, str(data), "--device-key", pub)
    assert code == 1 and f"recording {first.name} is named here but is not among" in out
    shutil.move(held, first)

    # The audit log cut back behind a recording made later: the header names its head.
    audit = data / "audit" / "audit.jsonl"
    kept = audit.read_bytes()
    header = json.loads((second / "manifest.jsonl").read_bytes().splitlines()[0])
    keep_lines(audit, header["audit_head"]["seq"] - 2)
    code, out = verify(capsys, str(data), "--device-key", pub)
    assert code == 1 and f"recording {second.name} began when the audit log had reached" in out
    audit.write_bytes(kept)

    # A recording that no audit record names came from elsewhere.
    stranger = record_and_stop(make_sim_device(name="stranger"))
    shutil.copytree(stranger, data / "evidence" / stranger.name)
    code, out = verify(capsys, str(data))
    assert code == 1 and f"recording {stranger.name} is not named in the audit log" in out


def test_h2_audit_log_cut_back_and_recording_deleted_against_an_outside_anchor(
        make_sim_device: MakeDevice, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Audit H2 with the software key store: cut the audit log to 4 lines, delete the
    recording, boot again. Nothing on the card can tell (the key is on the card too), so
    the heads kept outside the camera (what the offload receipts carry) must."""
    rig = make_sim_device(SEGMENTED)
    record_and_stop(rig)
    data, pub = rig.config.storage.data_dir, device_key(rig)
    anchor = tmp_path / "heads.json"
    assert verify(capsys, str(data), "--device-key", pub, "--heads-out", str(anchor))[0] == 0

    keep_lines(data / "audit" / "audit.jsonl", 4)
    for recording in (data / "evidence").iterdir():
        shutil.rmtree(recording)
    boot_again(make_sim_device, SEGMENTED).stop()

    code, out = verify(capsys, str(data), "--device-key", pub)
    assert code == 0  # the card alone: consistent, exactly the audit's finding
    code, out = verify(capsys, str(data), "--device-key", pub, "--anchor", str(anchor))
    assert code == 1, out
    assert "rewritten since (a fork)" in out or "cut back (rolled back)" in out
    assert "was held by an earlier anchor but is not among those given" in out


@pytest.fixture
def swtpm(tmp_path: Path) -> Iterator[SwTpm]:
    with SwTpm(tmp_path / "tpm-state") as running:
        yield running


def test_h2_with_a_tpm_the_counter_shows_the_cut_on_the_card_alone(
        make_sim_device: MakeDevice, swtpm: SwTpm,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The same attack on a camera with a TPM: every boot and every seal took the next
    value of the TPM's monotonic counter, so the removed records leave a gap."""
    tpm = ('device.key_store="tpm"', f'device.tpm_tcti="{swtpm.tcti}"')
    rig = make_sim_device(SEGMENTED, *tpm)
    record_and_stop(rig)
    data, pub = rig.config.storage.data_dir, device_key(rig)
    assert parse_public_key(pub).algorithm == "ecdsa-p256"
    assert not list(rig.config.storage.state_dir.glob("*.pem"))  # no key on the card
    assert verify(capsys, str(data), "--device-key", pub)[0] == 0

    keep_lines(data / "audit" / "audit.jsonl", 4)
    for recording in (data / "evidence").iterdir():
        shutil.rmtree(recording)
    boot_again(make_sim_device, SEGMENTED, *tpm).stop()

    code, out = verify(capsys, str(data), "--device-key", pub)
    assert code == 1, out
    assert "counter jumps from" in out


# ------------------------------------------------------------------------------ C1


def test_c1_with_a_tpm_a_copy_of_the_card_cannot_forge(
        make_sim_device: MakeDevice, swtpm: SwTpm, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Audit C1: copy the card, record "anything" with what is on it, verify against the
    registered key. With the TPM key store the card holds no signing key at all; the
    best a forger can do is a key of their own, which the pinned key refuses."""
    tpm = ('device.key_store="tpm"', f'device.tpm_tcti="{swtpm.tcti}"')
    rig = make_sim_device(*tpm)
    record_and_stop(rig)
    pub = device_key(rig)
    card = rig.config.storage.state_dir.parent
    copy = tmp_path / "forge"
    shutil.copytree(card, copy)
    swtpm.stop()  # the forger has the card, not the camera's TPM

    forged = make_sim_device('device.key_store="software"', name="forge")
    shutil.rmtree(forged.config.storage.state_dir, ignore_errors=True)
    recording = record_and_stop(forged)
    code, out = verify(capsys, str(recording), "--device-key", pub)
    assert code == 1 and "not the pinned key" in out
    assert not [p for p in copy.rglob("*") if p.is_file() and b"PRIVATE KEY" in p.read_bytes()]


# ------------------------------------------------------------------------------ M1


def test_m1_a_missing_key_is_an_audited_rekey_with_an_alarm(
        make_sim_device: MakeDevice, capsys: pytest.CaptureFixture[str]) -> None:
    rig = make_sim_device()
    rig.stop()
    old = device_key(rig)
    state = rig.config.storage.state_dir
    (state / KEY_FILE_NAME).rename(state.parent / "moved.pem")

    rig = boot_again(make_sim_device)
    records = rig.audit()
    [rekey] = events(records, "rekey")
    new = device_key(rig)
    assert rekey["old_device_key_fingerprint"] == parse_public_key(old).fingerprint
    assert rekey["device_key_fingerprint"] == parse_public_key(new).fingerprint
    assert "no device key" in rekey["reason"]
    assert any(r["alarm"] == "integrity" and "device key changed" in r["detail"]
               for r in events(records, "alarm"))
    assert events(records, "boot")[-1]["device_key_fingerprint"] == rekey[
        "device_key_fingerprint"]
    rig.stop()

    audit = rig.config.storage.data_dir / "audit"
    code, out = verify(capsys, str(audit), "--device-key", old)
    assert code == 1
    assert out.count("PROBLEM") == 1 and "not the pinned key" in out  # one problem, located
    code, out = verify(capsys, str(audit), "--device-key", old, "--device-key", new)
    assert code == 0 and "the device key changed from" in out


def test_m1_a_foreign_key_in_a_world_writable_state_dir_is_not_used(
        make_sim_device: MakeDevice) -> None:
    """Audit M1: state dir 0777 and a foreign 0666 key: it was tightened and used."""
    rig = make_sim_device()
    rig.stop()
    state = rig.config.storage.state_dir
    foreign = SoftwareKeyStore.create(state.parent / "foreign")
    (state / KEY_FILE_NAME).unlink()
    shutil.copy(state.parent / "foreign" / KEY_FILE_NAME, state / KEY_FILE_NAME)
    (state / KEY_FILE_NAME).chmod(0o666)
    state.chmod(0o777)

    rig = boot_again(make_sim_device)
    assert rig.device.identity.fingerprint != foreign.fingerprint
    [rekey] = events(rig.audit(), "rekey")
    assert "can be written by others" in rekey["reason"] and rekey["set_aside"]
    assert Path(rekey["set_aside"]).read_bytes() == \
        (state.parent / "foreign" / KEY_FILE_NAME).read_bytes()  # kept, not deleted
    still_records(rig)


# ------------------------------------------------------------------------------ M2


def test_m2_a_manifest_record_without_an_index_does_not_stop_the_camera(
        make_sim_device: MakeDevice) -> None:
    rig = make_sim_device()
    rig.stop()
    bad = rig.config.storage.data_dir / "evidence" / "X"
    bad.mkdir(parents=True)
    (bad / "manifest.jsonl").write_text('{"event":"segment_open","seq":0,"sig":"x"}\n')
    rig = boot_again(make_sim_device)
    [refused] = events(rig.audit(), "recovery_refused")
    assert refused["recording_id"] == "X"
    assert (rig.config.storage.data_dir / QUARANTINE_DIR / "X" / "manifest.jsonl").exists()
    still_records(rig)


def test_m2_a_deeply_nested_audit_line_does_not_stop_the_camera(
        make_sim_device: MakeDevice) -> None:
    rig = make_sim_device()
    rig.stop()
    audit = rig.config.storage.data_dir / "audit" / "audit.jsonl"
    with audit.open("a") as out:
        out.write('{"seq":99,"sig":"x","x":' + "[" * 5000 + "]" * 5000 + "}\n")
    rig = boot_again(make_sim_device)
    assert events(rig.audit(), "torn_tail")  # set aside and recorded, the chain goes on
    still_records(rig)
    assert verify_log(audit).status == "verified"


def test_m2_an_audit_log_that_cannot_be_continued_is_set_aside(
        make_sim_device: MakeDevice) -> None:
    rig = make_sim_device()
    rig.stop()
    audit = rig.config.storage.data_dir / "audit" / "audit.jsonl"
    before = audit.read_bytes()
    audit.write_bytes(before + b"\0" * (20 * 1024 * 1024))  # no line end for 20 MiB
    rig = boot_again(make_sim_device)
    aside = audit.with_name("audit-damaged-0.jsonl")
    assert aside.read_bytes().startswith(before)
    records = rig.audit()
    assert any("audit log damaged" in r.get("reason", "") for r in events(records, "fault"))
    assert any(r["alarm"] == "integrity" for r in events(records, "alarm"))
    still_records(rig)


def test_m2_a_damaged_key_file_is_set_aside_and_the_camera_records(
        make_sim_device: MakeDevice) -> None:
    rig = make_sim_device()
    rig.stop()
    key_file = rig.config.storage.state_dir / KEY_FILE_NAME
    key_file.write_text("garbage\n")
    rig = boot_again(make_sim_device)
    [rekey] = events(rig.audit(), "rekey")
    assert "damaged" in rekey["reason"]
    assert Path(rekey["set_aside"]).read_text() == "garbage\n"
    still_records(rig)


# ------------------------------------------------------------------------------ review


def test_a_tpm_that_does_not_answer_for_one_boot_costs_that_boot_only(
        make_sim_device: MakeDevice, swtpm: SwTpm,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A TPM camera whose TPM is silent for one start must neither stop recording nor
    become a camera with a copyable key file: it signs that boot with a key held only in
    RAM (audited, alarmed, never written, never offered for enrolment) and goes back to
    its TPM key at the next start. verify names the boot as lacking the TPM's word."""
    tpm = ('device.key_store="tpm"', f'device.tpm_tcti="{swtpm.tcti}"')
    rig = make_sim_device(*tpm)
    rig.stop()
    tpm_key = device_key(rig)
    state = rig.config.storage.state_dir
    snapshot = (state / "device-identity.txt").read_bytes()

    swtpm.stop()
    rig = boot_again(make_sim_device, *tpm)
    [rekey] = events(rig.audit(), "rekey")
    assert "TPM unavailable" in rekey["reason"] and "only in RAM" in rekey["reason"]
    assert rig.device.identity.store.kind == "ephemeral"
    still_records(rig)
    assert not list(state.glob("*.pem"))  # no key file was made
    assert (state / "device-identity.txt").read_bytes() == snapshot  # nothing to enrol

    swtpm.start()  # on new ports: a TCTI for them
    rig = boot_again(make_sim_device, 'device.key_store="tpm"',
                     f'device.tpm_tcti="{swtpm.tcti}"')
    assert device_key(rig) == tpm_key  # the TPM key again
    rig.stop()
    code, out = verify(capsys, str(rig.config.storage.data_dir / "audit"),
                       "--device-key", tpm_key)
    assert code == 1 and "a downgrade" in out


def test_files_and_links_where_storage_directories_belong_are_set_aside(
        make_sim_device: MakeDevice, tmp_path: Path) -> None:
    """H4 through a link (data_dir -> RAM: evidence gone at the next restart) and M2
    through files named like the camera's directories: the camera sets each aside (never
    follows, never deletes), records into real directories and says so."""
    rig = make_sim_device()
    rig.stop()
    data = rig.config.storage.data_dir
    ram = tmp_path / "dev-shm"
    ram.mkdir()
    shutil.move(data, tmp_path / "held")
    data.symlink_to(ram)
    rig = boot_again(make_sim_device)
    assert not data.is_symlink() and data.is_dir()
    assert (data.parent / "data.not-a-directory-0").is_symlink()
    faults = [r["reason"] for r in events(rig.audit(), "fault")]
    assert any("was not a directory" in reason for reason in faults)
    still_records(rig)
    assert list((data / "evidence").iterdir()) and not list(ram.iterdir())

    (data / "audit").rename(tmp_path / "audit-held")
    (data / "audit").write_text("not a directory")
    shutil.move(data / "evidence", tmp_path / "evidence-held")
    (data / "evidence").mkdir()
    (data / "evidence" / "stray-file").write_text("x")
    (data / QUARANTINE_DIR).write_text("not a directory either")
    rig = boot_again(make_sim_device)
    [refused] = events(rig.audit(), "recovery_refused")
    assert refused["recording_id"] == "stray-file"
    assert (data / QUARANTINE_DIR / "stray-file").read_text() == "x"
    assert (data / "audit.not-a-directory-0").read_text() == "not a directory"
    still_records(rig)


def test_the_key_and_the_audit_log_deleted_together_is_still_a_rekey(
        make_sim_device: MakeDevice) -> None:
    """Without its audit log the camera still knows its previous key from the identity
    it left, so a key deleted with the audit log is not a silent new key."""
    rig = make_sim_device()
    rig.stop()
    old = parse_public_key(device_key(rig)).fingerprint
    (rig.config.storage.state_dir / KEY_FILE_NAME).unlink()
    shutil.rmtree(rig.config.storage.data_dir / "audit")
    rig = boot_again(make_sim_device)
    records = rig.audit()
    [rekey] = events(records, "rekey")
    assert rekey["old_device_key_fingerprint"] == old
    assert any("audit log is missing" in r["reason"] for r in events(records, "fault"))
    rig.stop()


def test_verify_of_a_camera_checks_logs_set_aside_with_the_live_one(
        make_sim_device: MakeDevice, capsys: pytest.CaptureFixture[str]) -> None:
    """After a damaged audit log was set aside (M2), the recordings made before it still
    link to it: the camera-wide verify reads every audit log, not only the live one."""
    rig = make_sim_device()
    record_and_stop(rig)
    data, pub = rig.config.storage.data_dir, device_key(rig)
    audit = data / "audit" / "audit.jsonl"
    audit.write_bytes(audit.read_bytes() + b"\0" * (20 * 1024 * 1024))
    rig = boot_again(make_sim_device)
    rig.stop()
    (data / "audit" / "audit-damaged-0.jsonl").write_bytes(
        (data / "audit" / "audit-damaged-0.jsonl").read_bytes().rstrip(b"\0"))
    code, out = verify(capsys, str(data), "--device-key", pub)
    assert "is not named in the audit log" not in out
    assert "was rewritten or replaced" not in out
    assert code == 0, out


def test_a_file_put_in_place_of_the_segment_a_power_cut_left_open_is_not_recovered(
        tmp_path: Path) -> None:
    """Acceptance audit N1: pull the battery while recording, encrypt any video to the
    authority's public key (no secret needed), put it in place of the open segment's
    .partial, boot. Recovery used to vouch for it ("recovered after power loss") and the
    export showed the planted picture. The segment's open record now signs the hash of the
    age header and nonce the camera made, which no other file can match."""
    identity = age_identity(tmp_path)
    clock = ManualClock()
    session = SessionKey(SoftwareKeyStore.generate(), clock)
    writer = make_store(tmp_path, identity, clock, session).begin_recording(
        wall_start=clock.wall(), clock_synchronised=True, prerecord_us=0)
    segment = writer.open_segment(0, clock.wall())
    segment.write(TS_PACKET * 2000)
    segment.tick(clock.monotonic() + 1.0)  # a sealed chunk reached the card: power cut
    partial = writer.directory / "00000.age.partial"
    genuine = partial.read_bytes()
    planted = tmp_path / "planted.ts"
    planted.write_bytes(TS_PACKET * 2000)
    subprocess.run(["age", "-r", identity.recipient, "-o", str(partial), str(planted)],
                   check=True)
    report = verify_recording(writer.directory, [session.device_key])
    assert any("not the one the camera signed" in str(p) for p in report.problems)

    [refused] = recover_unfinished(tmp_path / "data", session, clock)
    assert any("not the one the camera signed" in r for r in refused.refused)
    assert refused.directory.parent.name == QUARANTINE_DIR

    # The genuine cut file, put back, is recovered as before.
    held = tmp_path / "data" / "evidence" / writer.directory.name
    shutil.move(refused.directory, held)
    (held / "00000.age.partial").write_bytes(genuine)
    [recovered] = recover_unfinished(tmp_path / "data", session, clock)
    assert not recovered.refused and recovered.seal is not None
    assert verify_recording(held, [session.device_key]).status == "verified"


def test_a_foreign_key_with_the_right_mode_and_owner_is_never_used(
        make_sim_device: MakeDevice) -> None:
    """Acceptance audit N3: a planted 0600 key of the service user used to sign the next
    boot (only a rekey record said so), and the README told custodians to register a
    re-keyed camera's new key. Now it is set aside like an untrusted one."""
    rig = make_sim_device()
    rig.stop()
    state = rig.config.storage.state_dir
    foreign = SoftwareKeyStore.create(state.parent / "attacker")
    (state / KEY_FILE_NAME).unlink()
    shutil.copy(state.parent / "attacker" / KEY_FILE_NAME, state / KEY_FILE_NAME)
    (state / KEY_FILE_NAME).chmod(0o600)

    rig = boot_again(make_sim_device)
    assert rig.device.identity.fingerprint != foreign.fingerprint
    [rekey] = events(rig.audit(), "rekey")
    assert "a key put in its place" in rekey["reason"]
    assert Path(rekey["set_aside"]).read_bytes() == \
        (state.parent / "attacker" / KEY_FILE_NAME).read_bytes()
    still_records(rig)
