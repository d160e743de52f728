"""Fixtures for the camera tests. The helpers themselves live in device_rig.py, because a
test module that imports from `conftest` breaks as soon as a subdirectory (tests/server)
has a conftest.py of its own: pytest imports each under the same module name."""

from __future__ import annotations

import pytest
from device_rig import authority_identity, make_sim_config, make_sim_device, sim_config, sim_device

__all__ = ["authority_identity", "make_sim_config", "make_sim_device",
           "pytest_collection_modifyitems", "sim_config", "sim_device"]

# What runs on a SimClock: simulated time tied to real time (several simulated seconds per
# real second), so the test's presses and the device's timeouts race on the host's clock.
_REAL_TIME_FIXTURES = frozenset({"sim_device", "make_sim_device"})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `realtime` every test of the simulated device on a SimClock (through the rig's
    fixtures, or a SimClock the module builds itself) and every `slow` end-to-end test.
    `make test` runs these alone, one at a time, as before pytest-xdist: a second worker's
    load beside them (a PostgreSQL cluster starting, argon2 hashing on every core) could
    hold a test's thread past a simulated timeout, which no wait on a condition can fix.
    tryfirst: the marks must be on before `-m` selects."""
    for item in items:
        module = getattr(item, "module", None)
        if (_REAL_TIME_FIXTURES & set(getattr(item, "fixturenames", ()))
                or item.get_closest_marker("slow") is not None
                or (module is not None and hasattr(module, "SimClock"))):
            item.add_marker(pytest.mark.realtime)
