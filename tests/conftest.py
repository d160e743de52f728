"""Fixtures for the camera tests. The helpers themselves live in device_rig.py, because a
test module that imports from `conftest` breaks as soon as a subdirectory (tests/server)
has a conftest.py of its own: pytest imports each under the same module name."""

from __future__ import annotations

import pytest
from device_rig import authority_identity, make_sim_config, make_sim_device, sim_config, sim_device

__all__ = ["authority_identity", "make_sim_config", "make_sim_device",
           "pytest_collection_modifyitems", "pytest_configure", "sim_config", "sim_device"]

# What runs on a SimClock: simulated time tied to real time (several simulated seconds per
# real second), so the test's presses and the device's timeouts race on the host's clock.
_REAL_TIME_FIXTURES = frozenset({"sim_device", "make_sim_device"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "system_clock: a slow test that runs nothing on simulated time (the "
        "system clock only, no timing limits), so it runs beside the others, not as realtime")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `realtime` every test of the simulated device on a SimClock (through the rig's
    fixtures, or a SimClock the module builds itself) and every `slow` end-to-end test.
    `make test` runs these one at a time in one process at normal CPU priority, the others
    beside them at a lower one (Makefile): a second worker at the same priority beside them
    (a PostgreSQL cluster starting, argon2 hashing on every core) could hold a test's
    thread past a simulated timeout, which no wait on a condition can fix.
    A `slow` test also marked `system_clock` (a benchmark on the system clock, say) is not
    realtime unless it uses a SimClock after all. tryfirst: the marks must be on before
    `-m` selects."""
    for item in items:
        module = getattr(item, "module", None)
        slow = (item.get_closest_marker("slow") is not None
                and item.get_closest_marker("system_clock") is None)
        if (_REAL_TIME_FIXTURES & set(getattr(item, "fixturenames", ()))
                or slow
                or (module is not None and hasattr(module, "SimClock"))):
            item.add_marker(pytest.mark.realtime)
