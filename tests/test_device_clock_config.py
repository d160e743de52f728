"""Clock changes and configuration changes reach the signed audit log; clock steps while
recording also reach the manifest and the export report (L12), and a configuration
change names the recipients before and after (H3)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from device_rig import AuthorityIdentity, MakeConfig, MakeDevice, RunningSimDevice

from bodycam.firmware.evidence.age.keys import generate_identity, recipient_fingerprint
from bodycam.firmware.evidence.signed_log import canonical_json, line_hash, read_records
from bodycam.firmware.evidence.store import MANIFEST_NAME
from bodycam.firmware.evidence.verify import verify_log, verify_recording


def test_clock_sync_changes_and_steps_are_audited(make_sim_device: MakeDevice) -> None:
    rig = make_sim_device()
    rig.clock.set_synchronised(False)
    lost = rig.wait_audit(lambda r: r["event"] == "clock" and r["synchronised"] is False)
    rig.clock.set_wall(rig.clock.wall() + timedelta(hours=1))
    stepped = rig.wait_audit(lambda r: r["event"] == "clock" and r["step_seconds"] > 3000,
                             after=lost)
    assert 3590 < rig.audit()[stepped]["step_seconds"] < 3610
    rig.clock.set_synchronised(True)
    synced = rig.wait_audit(lambda r: r["event"] == "clock" and r["synchronised"] is True,
                            after=stepped)
    rig.wait_audit(lambda r: r["event"] == "alarm_cleared" and r["alarm"] == "clock_unset",
                   after=synced)
    path = rig.device.audit.path
    rig.stop()
    assert verify_log(path).status == "verified"


def test_configuration_change_is_audited_once_at_the_start_that_uses_it(
        make_sim_device: MakeDevice) -> None:
    def config_changes(*overrides: str) -> list[dict[str, object]]:
        rig = make_sim_device(*overrides, name="camera")
        rig.stop()
        return [r for r in rig.audit() if r["event"] == "config_changed"]

    first = config_changes()
    assert len(first) == 1 and first[0]["previous_digest"] is None
    assert len(config_changes()) == 1  # same configuration: nothing new
    changed = config_changes("evidence.prerecord_seconds=5")
    assert len(changed) == 2
    assert changed[1]["previous_digest"] == first[0]["config_digest"]
    assert changed[1]["config_digest"] != first[0]["config_digest"]


# ------------------------------------------------------------------ recipients (H3 part)


def test_swapped_or_added_recipients_are_named_in_the_signed_log(
        make_sim_device: MakeDevice, authority_identity: AuthorityIdentity) -> None:
    """One line in bodycam-recipients.txt could send all future evidence to another key;
    the signed `config_changed` record must show who could decrypt before and after."""
    _secret, attacker = generate_identity()
    authority = recipient_fingerprint(authority_identity.recipient)
    stranger = recipient_fingerprint(attacker)

    def boot(recipients: tuple[str, ...]) -> list[dict[str, Any]]:
        rig = make_sim_device(recipients=recipients, name="camera")
        rig.stop()
        assert verify_log(rig.device.audit.path).status == "verified"
        return [r for r in rig.audit() if r["event"] == "config_changed"]

    [first] = boot((authority_identity.recipient,))
    assert first["previous_recipients"] is None and first["recipients"] == [authority]
    swapped = boot((attacker,))[-1]
    assert swapped["previous_recipients"] == [authority]
    assert swapped["recipients"] == [stranger]
    added = boot((authority_identity.recipient, attacker))[-1]
    assert added["previous_recipients"] == [stranger]
    assert added["recipients"] == [authority, stranger]


def config_changes(rig: RunningSimDevice) -> list[dict[str, Any]]:
    return [r for r in rig.audit() if r["event"] == "config_changed"]


def test_editing_the_card_cannot_hide_a_swap_of_the_recipients(
        make_sim_config: MakeConfig, make_sim_device: MakeDevice,
        authority_identity: AuthorityIdentity) -> None:
    """/etc/bodycam and the state directory are on the card's ext4 partition: the card
    holder swaps the recipients in the installed configuration and rewrites what the
    camera remembered (state/config.json, as the firmware before this fix kept it) to
    match. The next start still signs the swap, because the previous configuration comes
    from the camera's own signed `boot` record."""
    first = make_sim_device(name="camera")
    first.stop()
    [boot] = [r for r in first.audit() if r["event"] == "boot"]
    authority = recipient_fingerprint(authority_identity.recipient)
    assert boot["recipients"] == [authority]
    _secret, attacker = generate_identity()
    edited = make_sim_config(recipients=(attacker,), name="camera")
    state_dir = edited.storage.state_dir
    (state_dir / "config.json").write_text(json.dumps({
        "format": "bodycam-config-memory/1", "config_digest": edited.digest,
        "recipients": [recipient_fingerprint(attacker)]}), encoding="ascii")
    (state_dir / "config.digest").write_text(f"{edited.digest}\n", encoding="ascii")
    rig = make_sim_device(recipients=(attacker,), name="camera")
    rig.stop()
    changed = config_changes(rig)[-1]
    assert changed["previous_digest"] == boot["config_digest"]
    assert changed["config_digest"] == edited.digest
    assert changed["previous_recipients"] == [authority]
    assert changed["recipients"] == [recipient_fingerprint(attacker)]
    assert verify_log(rig.device.audit.path).status == "verified"


def append_line(path: Path, **fields: Any) -> None:
    """Append a record the way the card holder can: chained to the last line, but
    signed with nothing the camera trusts (its own signature field is junk)."""
    last = path.read_bytes().splitlines()[-1]
    record = {**fields, "seq": json.loads(last)["seq"] + 1, "prev": line_hash(last),
              "time": "2025-01-01T08:00:00.000Z", "sig": "AAAA"}
    with path.open("ab") as stream:
        stream.write(canonical_json(record) + b"\n")


def test_a_forged_boot_line_cannot_hide_a_change(
        make_sim_config: MakeConfig, make_sim_device: MakeDevice) -> None:
    """The card holder appends a `boot` line naming the edited configuration, so that it
    looks like the one the camera last ran with: unsigned, it is passed over."""
    first = make_sim_device(name="camera")
    first.stop()
    edited = make_sim_config("evidence.prerecord_seconds=5", name="camera")
    append_line(first.device.audit.path, event="boot", config_digest=edited.digest,
                recipients=[recipient_fingerprint(r) for r in edited.evidence.recipients])
    rig = make_sim_device("evidence.prerecord_seconds=5", name="camera")
    rig.stop()
    changed = config_changes(rig)[-1]
    assert changed["previous_digest"] == first.config.digest
    assert changed["config_digest"] == edited.digest


def test_an_old_boot_line_copied_to_the_end_cannot_hide_going_back(
        make_sim_device: MakeDevice) -> None:
    """The agency changed the configuration from A to B; the card holder puts A back and
    copies the camera's own (genuinely signed) boot line of A to the end of the log. It
    is no longer tied to the log by the hash chain, so the previous configuration is
    unknown, and the start with A is audited."""
    first = make_sim_device(name="camera")
    first.stop()
    path = first.device.audit.path
    [boot_a] = [line for line in path.read_bytes().splitlines(keepends=True)
                if json.loads(line)["event"] == "boot"]
    second = make_sim_device("evidence.prerecord_seconds=5", name="camera")
    second.stop()
    assert config_changes(second)[-1]["config_digest"] == second.config.digest
    with path.open("ab") as stream:
        stream.write(boot_a)
    rig = make_sim_device(name="camera")
    rig.stop()
    changed = config_changes(rig)[-1]
    assert changed["config_digest"] == first.config.digest
    assert changed["previous_digest"] is None and changed["previous_recipients"] is None


def test_a_boot_record_without_recipients_says_the_old_recipients_are_unknown(
        make_sim_device: MakeDevice) -> None:
    """Firmware before this change signed the digest into `boot` but not the
    recipients: after the upgrade, a change says so (null) instead of guessing."""
    old = make_sim_device("evidence.prerecord_seconds=5", name="camera")
    old.device.audit.record("boot", firmware_version="0.0.9", device_id="BC-0001",
                            config_digest=old.config.digest, clock_synchronised=True)
    old.stop()
    rig = make_sim_device(name="camera")
    rig.stop()
    changed = config_changes(rig)[-1]
    assert changed["previous_digest"] == old.config.digest
    assert changed["previous_recipients"] is None
    assert changed["recipients"] == [recipient_fingerprint(r)
                                     for r in rig.config.evidence.recipients]


# ------------------------------------------------------------------ clock steps (L12)


def test_a_clock_step_while_recording_is_signed_into_the_manifest(
        make_sim_device: MakeDevice) -> None:
    """The audit's clockjump.py: the wall clock set back a year mid-recording."""
    rig = make_sim_device()
    rig.tap("record")
    rig.wait_state("recording")
    rig.sleep(2.0)
    before = rig.clock.wall()
    rig.clock.set_wall(before - timedelta(days=365))
    rig.wait_audit(lambda r: r["event"] == "clock" and r["step_seconds"] < -3e7)
    rig.sleep(1.5)
    rig.clock.set_synchronised(False)
    rig.wait_audit(lambda r: r["event"] == "clock" and r["synchronised"] is False)
    rig.sleep(1.5)
    rig.hold("record", rig.config.buttons.hold_seconds + 0.3)
    rig.wait_state("display_on")
    rig.clock.set_wall(rig.clock.wall() + timedelta(hours=2))  # not recording: audit only
    rig.wait_audit(lambda r: r["event"] == "clock" and r["step_seconds"] > 7000)
    rig.stop()

    [recording] = rig.recordings()
    report = verify_recording(recording)
    assert report.status == "verified" and report.sealed, report.summary()
    records = read_records(recording / MANIFEST_NAME)
    steps = [r for r in records if r["event"] == "clock"]
    assert len(steps) == 2
    year, unsync = steps
    assert -365 * 86400 - 5 < year["step_seconds"] < -365 * 86400 + 5
    wall_before = datetime.fromisoformat(year["wall_before"])
    wall_after = datetime.fromisoformat(year["wall_after"])
    assert abs((wall_after - wall_before).total_seconds() - year["step_seconds"]) < 0.002
    assert abs((wall_before - before).total_seconds()) < 3  # the old clock, when noticed
    assert year["synchronised"] is True
    assert unsync["synchronised"] is False and abs(unsync["step_seconds"]) <= 2
    media = [r["media_us"] for r in (year, unsync)]
    segments = [r for r in records if r["event"] == "segment"]
    assert 1_000_000 < media[0] < media[1] <= segments[-1]["media_end_us"]
    assert records[-1]["event"] == "seal"


@pytest.mark.slow
def test_the_export_report_explains_a_marker_after_the_step_by_the_clock_record(
        make_sim_device: MakeDevice, authority_identity: AuthorityIdentity,
        tmp_path: Path) -> None:
    """The two halves of L12 together: the camera signs the step into the manifest, the
    custodian's export report flags the marker's wall time and names that record."""
    rig = make_sim_device()
    rig.tap("record")
    rig.wait_state("recording")
    rig.sleep(2.0)
    rig.clock.set_wall(rig.clock.wall() - timedelta(days=365))
    rig.wait_audit(lambda r: r["event"] == "clock" and r["step_seconds"] < -3e7)
    rig.sleep(1.5)
    rig.tap("record")  # a marker, on the new clock
    rig.wait_audit(lambda r: r["event"] == "marker")
    rig.sleep(1.5)
    rig.hold("record", rig.config.buttons.hold_seconds + 0.3)
    rig.wait_state("display_on")
    rig.stop()

    [recording] = rig.recordings()
    out = tmp_path / "case.mp4"
    done = subprocess.run([sys.executable, "-m", "bodycam.tools.custody.cli", "export",
                           str(recording), "-i", str(authority_identity.path), "-o", str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    [report_path] = tmp_path.glob("case*.json")
    clock = json.loads(report_path.read_text(encoding="utf-8"))["clock"]
    assert len(clock["steps"]) == 1
    [flag] = [f for f in clock["flagged_wall_times"] if f["what"] == "marker 1"]
    assert flag["went_back"] is True and flag["explained_by"] == [0]
    assert flag["off_s"] < -3e7
