"""The shift benchmark: timelines, energy, hours lasting, capacity needed, the command."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from bodycam.firmware.cli import main
from bodycam.firmware.config.loader import shipped_file
from bodycam.firmware.device.feedback import STATE_LEDS
from bodycam.firmware.power.table import PowerTable, load_power_table
from bodycam.tools.bench.shift import (
    HOUR,
    MINUTE,
    POLICIES,
    Policy,
    Segment,
    ShiftPattern,
    lit_load,
    shift_segments,
)
from bodycam.tools.bench.shift_run import (
    critical_reserve_mwh,
    hours_lasting,
    run_policy,
    shift_energy,
    with_capacity,
)

PATTERN = ShiftPattern()
BY_NAME = {p.name: p for p in POLICIES}


@pytest.fixture(scope="module")
def table() -> PowerTable:
    return load_power_table()


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_segments_fill_the_shift_exactly(policy: Policy) -> None:
    segments = shift_segments(PATTERN, policy)
    assert sum(s.seconds for s in segments) == pytest.approx(PATTERN.hours * HOUR)
    assert all(s.seconds > 0 for s in segments)
    recording = sum(s.seconds for s in segments if s.state == "recording")
    assert recording == pytest.approx(sum(m for _, m in PATTERN.recordings) * MINUTE)
    # Cues: markers and reminders sound the buzzer and run the motor while recording.
    assert any(s.load.state("vibration") == "on" for s in segments)
    assert any(s.load.state("buzzer") == "on" for s in segments)


def test_each_choice_idles_in_its_own_mode() -> None:
    states = {p.name: {s.state for s in shift_segments(PATTERN, p)} for p in POLICIES}
    assert "buffering" in states["prerecord_all_shift"]
    assert not {"standby", "sleeping"} & states["prerecord_all_shift"]
    assert "standby" in states["prerecord_off"]
    assert not {"buffering", "sleeping"} & states["prerecord_off"]
    assert {"buffering", "sleeping"} <= states["sleep_after_10_min"]


def test_sleep_comes_after_ten_idle_minutes_and_a_press_wakes_it() -> None:
    segments = shift_segments(PATTERN, BY_NAME["sleep_after_10_min"])
    assert (segments[0].state, segments[0].seconds) == ("buffering", 10 * MINUTE)
    assert segments[1].state == "sleeping"
    # After every activity the buffer runs again for ten minutes before sleeping.
    for before, after in itertools.pairwise(segments):
        if after.state == "sleeping":
            assert before.state == "buffering"
            assert before.seconds == pytest.approx(10 * MINUTE)


def test_sleep_needs_prerecord(table: PowerTable) -> None:
    never = Policy("x", "x", prerecord=False, sleep_after_idle_min=10)
    assert "sleeping" not in {s.state for s in shift_segments(PATTERN, never)}


def test_energy_adds_up_and_orders_the_choices(table: PowerTable) -> None:
    results = {p.name: run_policy(table, PATTERN, p, critical_minutes=5)
               for p in POLICIES}
    for result in results.values():
        assert sum(result["by_state_mwh"].values()) == pytest.approx(result["cell_mwh"])
        rail = sum(result["by_part_mwh"].values())
        assert result["cell_mwh"] - rail == pytest.approx(result["converter_loss_mwh"])
    energy = {k: r["cell_mwh"] for k, r in results.items()}
    assert energy["prerecord_all_shift"] > energy["sleep_after_10_min"] > energy["prerecord_off"]


def test_a_constant_load_lasts_capacity_over_draw(table: PowerTable) -> None:
    load = lit_load("buffering", STATE_LEDS["idle"])
    hours = hours_lasting(table, [Segment(HOUR, "buffering", load)])
    assert hours is not None
    ideal = table.battery.capacity_mwh.value / 1000 / table.cell_watts(load)
    # The voltage sag under load ends it a little before all the energy is out.
    assert 0.97 * ideal <= hours <= ideal + 1 / 60


def test_the_capacity_said_to_be_needed_does_last_the_shift(table: PowerTable) -> None:
    for policy in POLICIES:
        needed = run_policy(table, PATTERN, policy, critical_minutes=5)["needed_mwh"]
        lasts = hours_lasting(with_capacity(table, needed), shift_segments(PATTERN, policy))
        assert lasts is None or lasts >= PATTERN.hours, policy.name
        reserve = critical_reserve_mwh(table, 5)
        short = hours_lasting(with_capacity(table, needed - 3 * reserve),
                              shift_segments(PATTERN, policy))
        assert short is not None and short < PATTERN.hours, policy.name


def test_energy_by_state_is_the_table_times_the_time(table: PowerTable) -> None:
    load = lit_load("recording", STATE_LEDS["recording"])
    energy = shift_energy(table, [Segment(HOUR, "recording", load)])
    assert energy["cell_mwh"] == pytest.approx(table.cell_watts(load) * 1000)
    assert energy["by_part_mwh"]["camera.running"] == pytest.approx(
        table.watts("camera", "running") * 1000)


def test_overlapping_pattern_is_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        ShiftPattern(encounter_hours=(1.0,), recordings=((1.0, 5.0),)).activities()


def test_command_prints_the_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shift"]) == 0
    text = capsys.readouterr().out
    for words in ("pre-record all shift", "pre-record off", "sleep after 10 min idle",
                  "hours this battery lasts", "capacity for the shift", "camera.running"):
        assert words in text
    assert main(["shift", "--json", "--battery-mwh", "20000"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["battery_mwh"] == 20000
    assert set(report["policies"]) == {p.name for p in POLICIES}
    for result in report["policies"].values():
        assert result["cell_mwh"] > 0 and result["needed_mwh"] > result["cell_mwh"]


def test_command_refuses_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["shift", "--battery-mwh", "3"]) == 2
    assert "--battery-mwh 3: allowed a number from 500 to 100000 mWh" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text(shipped_file("power-model.toml").read_text().replace(
        "on = { watts = 0.25,", "on = { watts = 250,"))
    assert main(["shift", "--table", str(bad)]) == 2
    assert f"{bad}: parts.vibration.on.watts: got 250" in capsys.readouterr().err
    assert main(["shift", "--hours", "8"]) == 2
    assert "runs past the end" in capsys.readouterr().err


def test_the_documented_results_are_what_the_benchmark_prints(table: PowerTable) -> None:
    """docs/power-model.md quotes the shipped table's results: they must stay true."""
    doc = (Path(__file__).parent.parent / "docs" / "power-model.md").read_text()
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:5]]
            for line in doc.splitlines() if line.startswith("| ") and line.count("|") == 5}
    results = [run_policy(table, PATTERN, p, critical_minutes=5) for p in POLICIES]
    assert rows["hours on 10800 mWh (3000 mAh)"] == [
        f"{r['hours_lasting']:.1f} h" for r in results]
    assert [c.split(" ")[0] for c in rows["capacity a 12 h shift needs"]] == [
        f"{r['needed_mwh']:.0f}" for r in results]
    assert rows["energy per 12 h shift"] == [f"{r['cell_mwh'] / 1000:.1f} Wh" for r in results]
    bigger = with_capacity(table, 18000)
    assert rows["hours on 18000 mWh (5000 mAh)"] == [
        f"{hours_lasting(bigger, shift_segments(PATTERN, p)):.1f} h" for p in POLICIES]
