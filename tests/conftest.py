"""Fixtures for the camera tests. The helpers themselves live in device_rig.py, because a
test module that imports from `conftest` breaks as soon as a subdirectory (tests/server)
has a conftest.py of its own: pytest imports each under the same module name."""

from device_rig import authority_identity, make_sim_config, make_sim_device, sim_config, sim_device

__all__ = ["authority_identity", "make_sim_config", "make_sim_device", "sim_config",
           "sim_device"]
