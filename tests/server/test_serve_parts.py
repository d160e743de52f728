"""`serve --part`: the cameras' routes and the people's routes in processes of their own,
on one data directory, so an agency can put each on its own network and CPU."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import httpx
from offload_client import OffloadClient
from server_fixtures import Backend, Camera, make_server
from server_rig import server_command

from bodycam.tools.dev.ports import free_port


def test_each_part_serves_its_own_routes_and_nothing_of_the_other(
        tmp_path: Path, camera: Camera) -> None:
    server = make_server(tmp_path, Backend("sqlite"))
    server.enrol(camera)
    office_port = free_port()
    server.serve(None, "--part", "cameras")
    server.serve(office_port, "--part", "people")
    try:
        dock = OffloadClient(server.url, server.ca, camera.key, camera.device_id)
        assert dock.audit_head().status_code == 200  # a camera reaches its part
        with httpx.Client(
                verify=ssl.create_default_context(cafile=str(server.ca)), timeout=30) as browser:
            office = f"https://127.0.0.1:{office_port}"
            assert browser.get(f"{office}/sign-in").status_code == 200
            assert browser.get(f"{office}/api/v1/health").status_code == 200
            # neither part answers for the other
            assert browser.get(f"{server.url}/sign-in").status_code == 404
            assert browser.get(f"{server.url}/api/v1/health").status_code == 404
        wrong = OffloadClient(office, server.ca, camera.key, camera.device_id,
                              origin=server.url)
        assert wrong.audit_head().status_code == 404
    finally:
        server.stop()


def test_an_unknown_part_is_refused_with_the_choices() -> None:
    result = subprocess.run(server_command("serve", "--data-dir", "/nonexistent", "--part",
                                           "web"), capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "invalid choice: 'web'" in result.stderr
    assert "'cameras'" in result.stderr and "'people'" in result.stderr
