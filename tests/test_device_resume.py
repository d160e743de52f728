"""A restart while recording records again at once (audit H5: "the recording is not
resumed"), and the wearer keeps control: their stop is final, and a recording that keeps
crashing the camera is resumed only MAX_AUTO_RESUMES times in a row."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from device_rig import AuthorityIdentity, MakeDevice, RunningSimDevice

from bodycam.firmware.device import controller as controller_module
from bodycam.firmware.device.resume import FILE_NAME, FORMAT, MAX_AUTO_RESUMES
from bodycam.firmware.device.sim_cmd import sim_state_dir
from bodycam.firmware.evidence.recovery import RECOVERED_REASON
from bodycam.firmware.evidence.signed_log import read_records
from bodycam.firmware.evidence.store import EVIDENCE_DIR
from bodycam.firmware.evidence.verify import verify_log, verify_recording
from bodycam.tools.bench.powerloss import FAST_VIDEO, SimProcess, write_scenario

Record = dict[str, Any]
SPEED = 3.0
START_TIMEOUT_S = 60.0


def events(records: list[Record], name: str) -> list[Record]:
    return [r for r in records if r["event"] == name]


def flag_path(rig: RunningSimDevice) -> Path:
    return rig.config.storage.state_dir / FILE_NAME


@pytest.fixture
def seeded(tmp_path: Path) -> Any:
    """`seeded(name, auto_resumes)`: write the flag into device `name`'s state dir (the
    conftest layout: tmp_path/name/state) before it boots; a str is written verbatim."""

    def write(name: str, auto_resumes: int | str) -> Path:
        state_dir = tmp_path / name / "state"
        state_dir.mkdir(parents=True, exist_ok=True)
        text = auto_resumes if isinstance(auto_resumes, str) else json.dumps(
            {"format": FORMAT, "auto_resumes": auto_resumes})
        path = state_dir / FILE_NAME
        path.write_text(text, encoding="utf-8")
        return path

    return write


def flag_count(path: Path) -> int | None:
    if not path.exists():
        return None
    return int(json.loads(path.read_text(encoding="utf-8"))["auto_resumes"])


# ---------------------------------------------------------------------------- the kill


def recordings(data_dir: Path) -> list[Path]:
    parent = data_dir / EVIDENCE_DIR
    return sorted(p for p in parent.iterdir() if not p.name.startswith("."))


@pytest.mark.slow
def test_killed_while_recording_records_again_at_once(
        tmp_path: Path, authority_identity: AuthorityIdentity) -> None:
    """Assemble, record, SIGKILL without sealing, start again on the same directories."""
    data_dir = tmp_path / "data"
    settings = FAST_VIDEO

    def sim(name: str, press_at_s: float | None, end_at_s: float | None) -> SimProcess:
        return SimProcess(data_dir=data_dir, recipient=authority_identity.recipient,
                          scenario=write_scenario(tmp_path / f"{name}.toml",
                                                  press_at_s=press_at_s, end_at_s=end_at_s),
                          speed=SPEED, settings=settings, log_path=tmp_path / f"{name}.log")

    first = sim("record", press_at_s=1.0, end_at_s=None)
    try:
        first.wait_for_state("recording", START_TIMEOUT_S)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (data_dir / EVIDENCE_DIR).is_dir() or not recordings(data_dir):
            assert time.monotonic() < deadline, "the recording directory never appeared"
            time.sleep(0.01)
        assert (sim_state_dir(data_dir) / FILE_NAME).exists()
        first.kill()  # the watchdog's SIGABRT, an OOM kill or a power cut: no seal
    finally:
        first.close()
    [killed] = recordings(data_dir)

    second = sim("restart", press_at_s=None, end_at_s=4.0)  # nobody presses anything
    try:
        second.wait_for_state("recording", START_TIMEOUT_S)
        assert second.wait(START_TIMEOUT_S) == 0
    finally:
        second.close()
    assert not (sim_state_dir(data_dir) / FILE_NAME).exists()  # the clean stop forgot it

    audit = read_records(data_dir / "audit" / "audit.jsonl")
    restart_boot = max(i for i, r in enumerate(audit) if r["event"] == "boot")
    after = audit[restart_boot:]
    [resumed] = events(after, "recording_resumed")
    assert resumed["reason"] == "restarted while recording"
    assert resumed["auto_resumes"] == 1
    # power-loss recovery sealed the killed recording first, at the start of the program
    [recovery] = events(audit, "recovery")
    assert recovery["recording_id"] == killed.name
    assert audit.index(recovery) < restart_boot
    states = [(r["from"], r["to"], r["cause"]) for r in events(after, "state")]
    assert states[:2] == [("booting", "idle", "boot checks"),
                          ("idle", "recording", "restarted while recording")]
    assert verify_log(data_dir / "audit").status == "verified"

    both = recordings(data_dir)
    assert len(both) == 2 and killed in both
    [new] = [r for r in both if r != killed]  # same simulated start second: ids sort at random
    assert verify_recording(killed).seal_reason == RECOVERED_REASON
    report = verify_recording(new)
    assert report.status == "verified" and report.sealed and report.segments >= 1

    third = sim("third", press_at_s=None, end_at_s=2.0)
    try:
        assert third.wait(START_TIMEOUT_S) == 0
    finally:
        third.close()
    assert len(recordings(data_dir)) == 2  # a clean stop is not resumed


# ---------------------------------------------------------------------------- in-process


def test_the_flag_lives_exactly_as_long_as_the_recording(sim_device: RunningSimDevice) -> None:
    rig = sim_device
    assert not flag_path(rig).exists()
    rig.tap("record")
    rig.wait_state("recording")
    rig.wait_until(lambda: flag_path(rig).exists())
    assert flag_count(flag_path(rig)) == 0  # started by the wearer
    assert flag_path(rig).stat().st_mode & 0o777 == 0o600
    rig.hold("record", rig.config.buttons.hold_seconds + 0.3)
    rig.wait_state("display_on")
    assert not flag_path(rig).exists()  # the wearer's stop is final
    rig.stop()
    assert not events(rig.audit(), "recording_resumed")


def test_a_resume_counts_and_is_audited(make_sim_device: MakeDevice,
                                        seeded: Any) -> None:
    path = seeded("cam", 1)
    rig = make_sim_device(name="cam")
    rig.wait_state("recording")
    rig.wait_audit(lambda r: r["event"] == "recording_resumed")
    assert flag_count(path) == 2
    rig.stop()
    [resumed] = events(rig.audit(), "recording_resumed")
    assert resumed["auto_resumes"] == 2 and "note" not in resumed
    assert not path.exists()  # a clean shutdown is an end the program decided on


def test_after_too_many_resumes_in_a_row_the_wearer_decides(
        make_sim_device: MakeDevice, seeded: Any) -> None:
    """A recording that crashes the camera must not keep it restarting forever."""
    path = seeded("cam", MAX_AUTO_RESUMES)
    rig = make_sim_device(name="cam")
    index = rig.wait_audit(lambda r: r["event"] == "recording_not_resumed")
    assert rig.state == "idle"
    assert "press RECORD" in rig.audit()[index]["reason"]
    assert not path.exists()
    # told "NOT recording": the refused cue's long vibration (nothing else vibrates at boot)
    rig.wait_until(lambda: ("vibration", True) in rig.output_changes())
    rig.tap("record")  # the wearer can still record
    rig.wait_state("recording")
    rig.wait_until(lambda: flag_count(path) == 0)
    rig.stop()
    assert not events(rig.audit(), "recording_resumed")


def test_a_resumed_recording_that_keeps_running_ends_the_row(
        make_sim_device: MakeDevice, seeded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(controller_module, "HEALTHY_SECONDS", 4.0)  # 300 s in the field
    path = seeded("cam", MAX_AUTO_RESUMES - 1)
    rig = make_sim_device(name="cam")
    rig.wait_state("recording")
    assert flag_count(path) == MAX_AUTO_RESUMES
    rig.wait_until(lambda: flag_count(path) == 0)
    assert rig.state == "recording"
    rig.stop()


def test_no_resume_when_recording_is_refused(make_sim_device: MakeDevice,
                                             seeded: Any) -> None:
    path = seeded("cam", 0)
    rig = make_sim_device(name="cam", recipients=())
    rig.wait_audit(lambda r: r["event"] == "recording_not_resumed")
    assert rig.state == "fault"
    assert not path.exists()
    rig.stop()
    records = rig.audit()
    assert events(records, "refused")
    assert not events(records, "recording_resumed")
    assert not rig.recordings()


def test_a_damaged_flag_still_resumes_and_says_so(make_sim_device: MakeDevice,
                                                 seeded: Any) -> None:
    path = seeded("cam", "{not json")
    rig = make_sim_device(name="cam")
    rig.wait_state("recording")
    index = rig.wait_audit(lambda r: r["event"] == "recording_resumed")
    assert "not a recording flag" in rig.audit()[index]["note"]
    assert flag_count(path) == 1
    rig.stop()
    [recording] = rig.recordings()
    assert verify_recording(recording).status == "verified"
