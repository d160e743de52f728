"""Scenario parsing: the demo scenario loads, and every malformed event is refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from bodycam.firmware.device.scenario import ScenarioError, load_scenario, parse_scenario

REPO = Path(__file__).resolve().parents[1]


def test_demo_scenario_walks_all_three_stages() -> None:
    scenario = load_scenario(REPO / "config" / "demo-scenario.toml")
    actions = [(e.action, e.target) for e in scenario.events]
    assert ("press", "display") in actions
    assert ("press", "record") in actions
    assert ("hold", "record") in actions
    assert any(e.action == "battery" for e in scenario.events)
    assert ("dock", "") in actions  # end of the shift: the demo offloads
    assert scenario.ends_when_offloaded and scenario.end_time == 88.0
    assert [e.at for e in scenario.events] == sorted(e.at for e in scenario.events)


def test_events_are_sorted_and_typed() -> None:
    scenario = parse_scenario(
        '[[event]]\nat = 5\nstall = "microphone"\nfor = 2\n'
        "[[event]]\nat = 1\ndock = true\n"
    )
    first, second = scenario.events
    assert (first.action, first.value) == ("dock", True)
    assert (second.action, second.target, second.duration) == ("stall", "microphone", 2.0)
    assert scenario.end_time is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "no [[event]]"),
        ("[[event]]\nat = 1\n", "exactly one action"),
        ('[[event]]\nat = 1\npress = "record"\ndock = true\n', "exactly one action"),
        ('[[event]]\nat = -1\npress = "record"\n', "at least 0"),
        ('[[event]]\nat = "soon"\npress = "record"\n', "'at' must be a number"),
        ('[[event]]\nat = 1\npress = "recrod"\n', "must be one of record"),
        ('[[event]]\nat = 1\nhold = "power"\n', "'for' must be a number"),
        ('[[event]]\nat = 1\npress = "power"\nfor = 3\n', "'for' is only for hold"),
        ('[[event]]\nat = 1\nbattery = 140\n', "0-100"),
        ('[[event]]\nat = 1\ndock = "yes"\n', "true or false"),
        ('[[event]]\nat = 1\nend = false\n', "'end' must be true"),
        ('[[event]]\nat = 1\nstall = "gps"\nfor = 1\n', "camera, microphone"),
        ('[[event]]\nat = 1\npres = "record"\n', "did you mean 'press'"),
        ('[[event]]\nat = 1\nbattery = true\n', "must be a number"),
        ('title = "x"\n[[event]]\nat = 1\nend = true\n', "unknown top-level"),
        ("[[event]\n", "not valid TOML"),
    ],
)
def test_bad_scenarios_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(ScenarioError, match=None) as info:
        parse_scenario(text, "demo.toml")
    assert fragment in str(info.value)
    assert "demo.toml" in str(info.value)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="--scenario"):
        load_scenario(tmp_path / "nope.toml")
