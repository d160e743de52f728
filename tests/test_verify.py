"""`bodycam-evidence verify`: every kind of tampering is caught and located."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_evidence_support import age_identity, make_store, new_session, record

from bodycam.firmware.evidence.device_key import SoftwareKeyStore
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.evidence.signed_log import (
    GENESIS_PREV,
    SignedLog,
    canonical_json,
    line_hash,
    signed_bytes,
)
from bodycam.firmware.evidence.verify import verify_log, verify_recording
from bodycam.firmware.evidence.verify_links import check_links
from bodycam.hal.clocks import ManualClock
from bodycam.tools.custody.cli import main as evidence_main


@pytest.fixture
def key() -> SessionKey:
    return new_session()


@pytest.fixture
def recording(tmp_path: Path, key: SessionKey) -> Path:
    """A sealed recording: header, open/close x2, marker, seal (7 lines)."""
    clock = ManualClock()
    writer = record(make_store(tmp_path, age_identity(tmp_path), clock, key), clock)
    writer.seal("stopped by wearer")
    return writer.directory


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = evidence_main(["verify", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _lines(directory: Path) -> list[bytes]:
    return (directory / "manifest.jsonl").read_bytes().splitlines(keepends=True)


def _write_lines(directory: Path, lines: list[bytes]) -> None:
    (directory / "manifest.jsonl").write_bytes(b"".join(lines))


def _forge(directory: Path, signer: SessionKey,
           edit: Callable[[list[dict[str, Any]]], None]) -> None:
    """What a forger with their own key would do: edit, then re-chain and re-sign."""
    records = [json.loads(line) for line in _lines(directory)]
    edit(records)
    prev, out = GENESIS_PREV, []
    for seq, item in enumerate(records):
        item.update(seq=seq, prev=prev)
        item["sig"] = base64.b64encode(signer.sign(signed_bytes(item))).decode()
        line = canonical_json(item)
        prev = line_hash(line)
        out.append(line + b"\n")
    _write_lines(directory, out)


def test_untouched_recording_verifies(recording: Path, key: SessionKey,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out = verify(capsys, str(recording))
    assert code == 0
    assert "VERIFIED" in out and "NOT pinned" in out and "only detected with --device-key" in out
    code, out = verify(capsys, str(recording), "--device-key", key.device_key.b64)
    assert code == 0 and "pinned" in out and "NOT pinned" not in out


def _flip_byte(d: Path) -> None:
    data = bytearray((d / "00000.age").read_bytes())
    data[len(data) // 2] ^= 0x01
    (d / "00000.age").write_bytes(bytes(data))


def _truncate(d: Path) -> None:
    with (d / "00001.age").open("r+b") as f:
        f.truncate(1000)


def _swap(d: Path) -> None:
    os.rename(d / "00000.age", d / "tmp")
    os.rename(d / "00001.age", d / "00000.age")
    os.rename(d / "tmp", d / "00001.age")


def _reorder(d: Path) -> None:
    lines = _lines(d)
    lines[2], lines[3] = lines[3], lines[2]
    _write_lines(d, lines)


def _insert(d: Path) -> None:
    lines = _lines(d)
    _write_lines(d, [*lines[:4], lines[3], *lines[4:]])  # a replayed marker line


def _drop(d: Path) -> None:
    lines = _lines(d)
    _write_lines(d, [*lines[:3], *lines[4:]])  # the marker vanishes


def _edit(d: Path) -> None:
    lines = _lines(d)
    lines[3] = lines[3].replace(b'"media_us":3000000', b'"media_us":4000000')
    _write_lines(d, lines)


def _resign_line(d: Path) -> None:
    lines = _lines(d)
    item = json.loads(lines[3])
    item["media_us"] = 4_000_000
    item["sig"] = base64.b64encode(new_session().sign(signed_bytes(item))).decode()
    lines[3] = canonical_json(item) + b"\n"
    _write_lines(d, lines)


@pytest.mark.parametrize(("tamper", "expected"), [
    (_flip_byte, "00000.age: SHA-256 differs from the one listed at manifest.jsonl line 3"),
    (_truncate, "00001.age: 1000 bytes, but"),
    (lambda d: (d / "00001.age").unlink(), "00001.age: missing (listed at manifest.jsonl "
                                           "line 6"),
    (_swap, "00001.age: SHA-256 differs"),
    (_reorder, "manifest.jsonl line 3 (seq 3): seq 3 where 2 was expected"),
    (_insert, "manifest.jsonl line 5 (seq 3): seq 3 where 4 was expected"),
    (_drop, "manifest.jsonl line 4 (seq 4): hash chain broken"),
    (_edit, "manifest.jsonl line 4 (seq 3): signature does not verify"),
    (_resign_line, "manifest.jsonl line 4 (seq 3): signature does not verify"),
    (lambda d: (d / "00002.age").write_bytes(b"x"),
     "00002.age: a segment file for index 2, which the manifest never opened"),
])
def test_tampering_is_an_integrity_failure_naming_where(
        recording: Path, capsys: pytest.CaptureFixture[str],
        tamper: Callable[[Path], None], expected: str) -> None:
    tamper(recording)
    code, out = verify(capsys, str(recording))
    assert code == 1, out
    assert "INTEGRITY FAILURE" in out
    assert expected in out


def test_forged_manifest_is_caught_only_with_the_pinned_key(
        recording: Path, key: SessionKey, capsys: pytest.CaptureFixture[str]) -> None:
    forger = new_session()

    def drop_marker(records: list[dict[str, Any]]) -> None:
        del records[3]
        records[0]["device_public_key"] = forger.device_key.b64
        records[0]["signer"] = dict(forger.certificate)  # their own device key certifies

    _forge(recording, forger, drop_marker)
    code, out = verify(capsys, str(recording))
    assert code == 0  # internally consistent: exactly why keys must be pinned
    assert "NOT pinned" in out
    key_file = recording.parent / "device.pub"
    key_file.write_text(key.device_key.b64 + "\n")
    code, out = verify(capsys, str(recording), "--device-key", str(key_file))
    assert code == 1
    assert f"not the pinned key {key.device_key.fingerprint}" in out
    assert "line 1 (seq 0)" in out


def test_unsealed_recording_exits_3(recording: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write_lines(recording, _lines(recording)[:-1])
    code, out = verify(capsys, str(recording))
    assert code == 3 and "NOT SEALED" in out


def test_json_report(recording: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _flip_byte(recording)
    code, out = verify(capsys, str(recording), "--json")
    report = json.loads(out)
    assert code == report["exit_code"] == 1
    assert report["status"] == "failed" and report["kind"] == "recording"
    assert report["sealed"] and report["segments"] == 2 and not report["key_pinned"]
    assert report["problems"][0]["file"] == "00000.age"


def test_audit_log_file_and_directory(tmp_path: Path, key: SessionKey,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    audit = tmp_path / "audit"
    audit.mkdir()
    with SignedLog.open(audit / "audit.jsonl", key, ManualClock()) as log:
        log.append("boot", firmware="0.1.0")
        log.append("state", to="recording")
    assert verify(capsys, str(audit))[0] == 0
    assert verify(capsys, str(audit / "audit.jsonl"), "--device-key", key.device_key.b64)[0] == 0
    lines = (audit / "audit.jsonl").read_bytes().replace(b"recording", b"idle")
    (audit / "audit.jsonl").write_bytes(lines)
    code, out = verify(capsys, str(audit))
    assert code == 1 and "audit.jsonl line 2 (seq 1): signature does not verify" in out


def test_usage_errors_exit_2(tmp_path: Path, recording: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out = verify(capsys, str(tmp_path / "nope"))
    assert code == 2 and "does not exist" in out
    code, out = verify(capsys, str(recording), "--device-key", "not-a-key")
    assert code == 2 and "--device-key" in out
    (tmp_path / "empty").mkdir()
    code, out = verify(capsys, str(tmp_path / "empty"))
    assert code == 2 and "neither a recording directory" in out


def test_missing_manifest_is_a_failure(recording: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (recording / "manifest.jsonl").unlink()
    code, out = verify(capsys, str(recording))
    assert code == 1 and "manifest.jsonl: missing" in out


# ------------------------------------------------------------------ adversarial review


def _swap_segments_and_records(d: Path) -> None:
    """Both files and both open/close record pairs exchanged, as consistently as a
    forger without the key can: the chain and the seq give it away."""
    _swap(d)
    lines = _lines(d)  # header, open0, close0, marker, open1, close1, seal
    _write_lines(d, [lines[0], *lines[4:6], *lines[1:4], lines[6]])


def _duplicate_segment_under_another_index(d: Path) -> None:
    (d / "00002.age").write_bytes((d / "00001.age").read_bytes())


def _extra_unsigned_field(d: Path) -> None:
    lines = _lines(d)
    item = json.loads(lines[3])
    item["note"] = "added later"
    lines[3] = canonical_json(item) + b"\n"
    _write_lines(d, lines)


def _reformatted_line(d: Path) -> None:
    """Same record, same signature, but spaces and another key order."""
    lines = _lines(d)
    item = json.loads(lines[3])
    lines[3] = json.dumps(dict(reversed(item.items()))).encode() + b"\n"
    _write_lines(d, lines)


def _not_a_number(d: Path) -> None:
    lines = _lines(d)
    lines[3] = lines[3].replace(b'"media_us":3000000', b'"media_us":NaN')
    _write_lines(d, lines)


def _deeply_nested(d: Path) -> None:
    lines = _lines(d)
    _write_lines(d, [*lines[:3], b"[" * 100_000 + b"]" * 100_000 + b"\n", *lines[3:]])


def _huge_seq(d: Path) -> None:
    lines = _lines(d)
    lines[3] = lines[3].replace(b'"seq":3', b'"seq":' + b"9" * 30)
    _write_lines(d, lines)


def _bytes_after_the_seal(d: Path) -> None:
    with (d / "manifest.jsonl").open("ab") as f:
        f.write(b'{"event":"marker"')  # no newline: it would look like a torn line


@pytest.mark.parametrize(("tamper", "expected"), [
    (_swap_segments_and_records, "seq 4 where 1 was expected"),
    (_duplicate_segment_under_another_index,
     "00002.age: a segment file for index 2, which the manifest never opened"),
    (_extra_unsigned_field, "line 4 (seq 3): signature does not verify"),
    (_reformatted_line, "line 4 (seq 3): not in canonical JSON form"),
    (_not_a_number, "line 4 (seq 3): not in canonical JSON form"),
    (_deeply_nested, "line 4: not a JSON record"),
    (_huge_seq, "seq 999999999999999999999999999999 where 3 was expected"),
    (_bytes_after_the_seal, "17 bytes after the seal"),
])
def test_adversarial_tampering_is_an_integrity_failure(
        recording: Path, key: SessionKey, capsys: pytest.CaptureFixture[str],
        tamper: Callable[[Path], None], expected: str) -> None:
    tamper(recording)
    code, out = verify(capsys, str(recording), "--device-key", key.device_key.b64)
    assert code == 1, out
    assert expected in out


def test_another_recording_of_the_same_device_in_its_place_is_caught(
        tmp_path: Path, key: SessionKey, capsys: pytest.CaptureFixture[str]) -> None:
    """Same key, so every signature verifies: only the signed recording id tells."""
    clock = ManualClock()
    store = make_store(tmp_path, age_identity(tmp_path), clock, key)
    wanted, substitute = record(store, clock), record(store, clock)
    wanted.seal("stopped by wearer")
    substitute.seal("stopped by wearer")
    for path in wanted.directory.iterdir():
        path.unlink()
    for path in substitute.directory.iterdir():
        (wanted.directory / path.name).write_bytes(path.read_bytes())

    code, out = verify(capsys, str(wanted.directory), "--device-key", key.device_key.b64)
    assert code == 1, out
    assert f"the manifest is signed for recording {substitute.recording_id}" in out
    renamed = tmp_path / "case-17"  # a custodian's own name is not an id: only a note
    os.rename(substitute.directory, renamed)
    code, out = verify(capsys, str(renamed))
    assert code == 0 and f"recording id {substitute.recording_id}" in out


def test_cut_off_end_is_not_verified_and_says_it_may_be_incomplete(
        recording: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Last segment and seal removed: a prefix of a valid chain is valid, so this reads
    exactly like a power cut before the restart; it must never read as complete."""
    _write_lines(recording, _lines(recording)[:4])
    (recording / "00001.age").unlink()
    code, out = verify(capsys, str(recording))
    assert code == 3
    assert "may be incomplete" in out


def _append_signed(directory: Path, key: SessionKey, event: str, **fields: Any) -> None:
    """What buggy firmware would write: properly chained and signed, but wrong."""
    lines = _lines(directory)
    last = json.loads(lines[-1])
    item = {**fields, "event": event, "seq": last["seq"] + 1, "prev": line_hash(lines[-1]),
            "time": last["time"]}
    item["sig"] = base64.b64encode(key.sign(signed_bytes(item))).decode()
    _write_lines(directory, [*lines, canonical_json(item) + b"\n"])


@pytest.mark.parametrize(("record_", "expected"), [
    (("marker", {"media_us": -5, "wall": "2025-01-01T08:00:00.000Z"}), "marker at -5"),
    (("marker", {"media_us": "soon", "wall": "2025-01-01T08:00:00.000Z"}),
     "marker at 'soon'"),
    (("gap", {"source": "camera", "start_us": 5_000_000, "end_us": 4_000_000}),
     "gap from 5000000 µs to 4000000 µs"),
    (("gap", {"source": "gps", "start_us": 0, "end_us": None}), "gap source 'gps'"),
])
def test_marker_and_gap_records_out_of_range_are_failures(
        tmp_path: Path, key: SessionKey, capsys: pytest.CaptureFixture[str],
        record_: tuple[str, dict[str, Any]], expected: str) -> None:
    clock = ManualClock()
    writer = record(make_store(tmp_path, age_identity(tmp_path), clock, key), clock)
    event, fields = record_
    _append_signed(writer.directory, key, event, **fields)
    code, out = verify(capsys, str(writer.directory), "--device-key", key.device_key.b64)
    assert code == 1, out
    assert expected in out


def test_segment_renamed_before_its_record_is_unsealed_not_tampered(
        recording: Path, key: SessionKey, capsys: pytest.CaptureFixture[str]) -> None:
    """Power lost between the rename of 00001.age and its segment record: the device
    renames first, so this is a legitimate state; it verifies as not sealed (3) until
    the next start's recovery records the segment, after which it verifies (0)."""
    from bodycam.firmware.evidence.recovery import recover_unfinished
    from bodycam.firmware.evidence.verify import verify_recording

    _write_lines(recording, _lines(recording)[:5])  # header, open0, close0, marker, open1
    code, out = verify(capsys, str(recording))
    assert code == 3, out
    assert "00001.age: the open segment, complete and renamed" in out
    assert len(recover_unfinished(recording.parent.parent, key, ManualClock())) == 1
    after = verify_recording(recording, [key.device_key])
    assert after.status == "verified", after.summary()
    assert after.segments == 2  # the recovered segment counts


def test_a_file_that_is_not_a_log_is_a_usage_error(
        recording: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = verify(capsys, str(recording / "00000.age"))
    assert code == 2
    assert "is not a manifest or audit log" in out and "give a recording directory" in out
    notes = recording.parent / "notes.txt"
    notes.write_text("custodian's notes\n")
    assert verify(capsys, str(notes))[0] == 2
    # A damaged *.jsonl stays an integrity failure, never a usage error.
    broken = recording.parent / "audit.jsonl"
    broken.write_text("garbage\n")
    assert verify(capsys, str(broken))[0] == 1


def test_pinned_key_is_named_even_without_a_manifest(
        recording: Path, key: SessionKey, capsys: pytest.CaptureFixture[str]) -> None:
    (recording / "manifest.jsonl").unlink()
    code, out = verify(capsys, str(recording), "--device-key", key.device_key.b64)
    assert code == 1
    assert f"device key {key.device_key.fingerprint}: pinned" in out and "None" not in out


def test_usage_error_with_json_answers_on_stdout(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = evidence_main(["verify", str(tmp_path / "nope"), "--json"])
    out = capsys.readouterr().out
    assert code == 2
    answer = json.loads(out)
    assert answer["status"] == "usage_error" and answer["exit_code"] == 2
    assert "does not exist" in answer["error"]


def test_a_device_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = verify(capsys, "/dev/null")
    assert code == 2 and "is not a regular file or a directory" in out


def test_reader_going_away_is_not_a_traceback(recording: Path) -> None:
    """`bodycam-evidence verify ... | head -1`: the pipe closes early; exit quietly."""
    import subprocess
    import sys
    script = ("import sys; from bodycam.tools.custody.cli import main; "
              "sys.exit(main(['verify', sys.argv[1]]))")
    proc = subprocess.Popen([sys.executable, "-c", script, str(recording)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything was printed
    err = proc.stderr.read().decode()
    assert proc.wait(30) == 141, err
    assert "Traceback" not in err


def _legacy_log(path: Path, device: SoftwareKeyStore, events: list[dict[str, Any]]) -> None:
    """A log as firmware before session keys wrote it: the first record names the
    Ed25519 device key and that key signs every line itself."""
    prev, out = GENESIS_PREV, []
    for seq, fields in enumerate(events):
        item = {**fields, "seq": seq, "prev": prev, "time": "2025-01-01T08:00:00.000Z"}
        if seq == 0:
            item["device_public_key"] = device.public_key.b64
        item["sig"] = base64.b64encode(device.sign(signed_bytes(item))).decode()
        line = canonical_json(item)
        prev = line_hash(line)
        out.append(line + b"\n")
    path.write_bytes(b"".join(out))


def test_logs_of_the_firmware_before_session_keys_still_verify(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Recordings and audit logs made before this format change stay evidence: verified
    against the pinned Ed25519 key; tampering with them is still caught; an audit log
    continued by the new firmware (a session certified by the same key) verifies whole."""
    device = SoftwareKeyStore.generate()
    audit = tmp_path / "audit.jsonl"
    _legacy_log(audit, device, [{"event": "boot"}, {"event": "state", "to": "idle"}])
    pin = device.public_key.b64
    assert verify(capsys, str(audit), "--device-key", pin)[0] == 0
    other = SoftwareKeyStore.generate().public_key.b64
    code, out = verify(capsys, str(audit), "--device-key", other)
    assert code == 1 and "not the pinned key" in out

    clock = ManualClock()
    with SignedLog.open(audit, SessionKey(device, clock), clock) as log:  # new firmware
        log.append("boot")
    code, out = verify(capsys, str(audit), "--device-key", pin)
    assert code == 0, out
    lines = audit.read_bytes().replace(b'"to":"idle"', b'"to":"rec"')
    audit.write_bytes(lines)
    code, out = verify(capsys, str(audit), "--device-key", pin)
    assert code == 1 and "line 2 (seq 1): signature does not verify" in out


def test_a_log_cannot_be_passed_off_as_legacy_by_stripping_its_certificate(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without its `signer` a new-format first line names no device key that signed it:
    whoever strips the certificate gets a log nothing verifies."""
    device = SoftwareKeyStore.generate()
    clock = ManualClock()
    path = tmp_path / "audit.jsonl"
    with SignedLog.open(path, SessionKey(device, clock), clock) as log:
        log.append("boot")
        log.append("state", to="idle")
    records = [json.loads(line) for line in path.read_bytes().splitlines()]
    del records[0]["signer"]
    records[0]["device_public_key"] = device.public_key.b64  # claim the legacy form
    path.write_bytes(b"".join(canonical_json(r) + b"\n" for r in records))
    code, out = verify(capsys, str(path), "--device-key", device.public_key.b64)
    assert code == 1 and "signature does not verify" in out


@pytest.mark.parametrize("bad", [[1], {}, {"a": [1]}, None, 1.5, -1, 10**30])
def test_no_field_of_any_record_crashes_verify(tmp_path: Path, bad: object) -> None:
    """Acceptance audit N4: one unhashable field (`"index":[1]`, `"event":{}`) in any
    manifest or audit record crashed verify with a traceback, leaving no report for the
    other recordings. Every field of every line, replaced: a report, never an exception."""
    clock = ManualClock()
    key = new_session(clock)
    writer = record(make_store(tmp_path, age_identity(tmp_path), clock, key), clock)
    writer.seal("stopped by wearer")
    audit = tmp_path / "audit.jsonl"
    with SignedLog.open(audit, key, clock) as log:
        log.append("boot")
        log.append("recording_sealed", recording_id=writer.recording_id, manifest_seq=6,
                   manifest_hash="a" * 64, counter=None, sealed=True)
    for path in (writer.directory / "manifest.jsonl", audit):
        original = path.read_bytes()
        lines = original.splitlines()
        for number, line in enumerate(lines):
            fields = json.loads(line)
            for name in fields:
                damaged = {**fields, name: bad}
                path.write_bytes(b"\n".join([*lines[:number], json.dumps(damaged).encode(),
                                             *lines[number + 1:]]) + b"\n")
                logs, recording = verify_log(audit), verify_recording(writer.directory)
                links = check_links(logs, [recording])
                for report in (logs, recording, links):
                    report.summary()
                    json.dumps(report.to_json())
        path.write_bytes(original)


def test_a_damaged_index_does_not_crash_a_forced_export(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Acceptance audit N4, export side: `"index":[1]` in a segment_open record."""
    clock = ManualClock()
    identity = age_identity(tmp_path)
    writer = record(make_store(tmp_path, identity, clock, new_session(clock)), clock,
                    segments=1, packets=50)
    writer.seal("stopped by wearer")
    manifest = writer.directory / "manifest.jsonl"
    records = [json.loads(line) for line in manifest.read_bytes().splitlines()]
    records[1]["index"] = [1]
    manifest.write_bytes(b"".join(canonical_json(r) + b"\n" for r in records))
    code = evidence_main(["export", str(writer.directory), "-i", str(identity.identity_file),
                          "-o", str(tmp_path / "out.mp4"), "--force"])
    out = capsys.readouterr()
    assert "Traceback" not in out.err and code in (0, 1), out.err
