"""`camera-offload.toml`: the [offload] table a technician adds to a camera's provisioning.

Everything inline (no paths: it travels on the camera's boot partition, and `bodycam
--config` layers it as it is): the URL cameras sign requests for, the CA that signs the
server's TLS certificate, and the server's signing key that receipts and time must
verify under. Key names are docs/offload-protocol.md's.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from bodycam.firmware.evidence.durable import write_new_file
from bodycam.server.settings import toml_string

__all__ = ["write_offload_table"]


def write_offload_table(path: Path, *, url: str, host: str, ca_pem: str,
                        server_key: str) -> None:
    """Write the table (FileExistsError if the file exists: never silently re-pinned)."""
    if "'''" in ca_pem:
        raise ValueError("the CA PEM contains ''' and cannot be written inline")
    try:
        ipaddress.ip_address(host)
        address = ""
    except ValueError:
        address = ("# The camera looks up no names: give the server's address on the dock "
                   "network.\n# server_address = \"192.0.2.10\"\n")
    text = (
        "# The evidence server this camera offloads to (written by `bodycam-server init`).\n"
        "# Add it to the camera's provisioning file as it is; every value is pinned.\n"
        "[offload]\n"
        f"server_url = {toml_string(url)}\n"
        f"{address}"
        f"server_key = {toml_string(server_key)}\n"
        f"server_ca = '''\n{ca_pem.strip()}\n'''\n"
        "bandwidth_kbps = 0\n"
    )
    write_new_file(path, text.encode("utf-8"), 0o644)
