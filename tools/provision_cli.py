"""`bodycam-provision`: the technician's tool for SD cards and images."""

from __future__ import annotations

from collections.abc import Sequence

from bodycam.firmware.commands import Command, dispatch

COMMANDS = (
    Command("check", "validate a provisioning file without writing anything",
            "bodycam.tools.provision.check_cmd"),
    Command("write", "validate and write a provisioning file into an image, card or boot dir",
            "bodycam.tools.provision.write_cmd"),
)


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch("bodycam-provision", "Technician provisioning tool.", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
