"""`make demo`'s key holder (tools/dev/demo_viewing.py): initialised on the demo's
authority identity, serving on its socket and connected to the demo server while the
demo lingers, so reviewer.demo can press play; stopped when the demo ends."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

from bodycam.firmware.evidence.age.keys import format_identity_file, generate_identity
from bodycam.server.cli import main as server_main
from bodycam.server.keyholder.link import KeyholderLink
from bodycam.tools.dev.demo_viewing import keyholder_running
from bodycam.tools.dev.embedded_server import EmbeddedServer


def test_demo_key_holder_serves_the_demo_server_while_the_demo_lingers(
        tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "server", tmp_path / "server.log")
    server.init()
    identity = tmp_path / "authority.txt"
    identity.write_text(format_identity_file(generate_identity(post_quantum=True)[0]))
    status = ["keyholder", "status", "--data-dir", str(server.data_dir)]
    with keyholder_running(tmp_path, server, identity):
        out = io.StringIO()
        with redirect_stdout(out):
            assert server_main(status) == 0, out.getvalue()
        link = KeyholderLink.load(server.data_dir / "identity")
        link.client().hello()
    assert not link.socket.exists()
    with redirect_stdout(io.StringIO()):
        assert server_main(status) != 0  # stopped with the demo: nothing can be viewed
