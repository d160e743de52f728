"""`bodycam-evidence`: the evidence custodian's tools (never run on the camera)."""

from __future__ import annotations

from collections.abc import Sequence

from bodycam.firmware.commands import Command, dispatch

COMMANDS = (
    Command("keygen", "create an evidence-authority identity (--pq: post-quantum hybrid)",
            "bodycam.tools.custody.keygen_cmd"),
    Command("decrypt", "decrypt one age file (like `age -d`)",
            "bodycam.tools.custody.decrypt_cmd"),
    Command("verify", "verify recordings, audit logs, or a camera's whole data directory",
            "bodycam.tools.custody.verify_cmd"),
    Command("export", "verify, decrypt and join a recording into one MP4 with a report",
            "bodycam.tools.custody.export.command"),
    Command("server", "sign in to an evidence server; verify or export a recording from it",
            "bodycam.tools.custody.server_cmd"),
    Command("export-key", "create the agency's export keys (CA, C2PA signer, timestamps)",
            "bodycam.tools.custody.package.key_cmd"),
    Command("package", "build a prosecutor package (C2PA MP4s, reports, re-wrapped files)",
            "bodycam.tools.custody.package.command"),
    Command("bench-package", "time a prosecutor package per recorded minute",
            "bodycam.tools.custody.package.bench"),
)


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch("bodycam-evidence", "Evidence custodian tools.", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
