"""`bodycam-provision`: the technician's tool for SD cards and images."""

from __future__ import annotations

from collections.abc import Sequence

from bodycam.firmware.commands import Command, dispatch

COMMANDS = (
    Command("check", "validate a provisioning file without writing anything",
            "bodycam.tools.provision.check_cmd"),
    Command("write", "validate, sign and write a provisioning file into an image, card or "
            "boot dir", "bodycam.tools.provision.write_cmd"),
    Command("keygen", "make the agency's provisioning key (signs provisioning files)",
            "bodycam.tools.provision.keygen_cmd"),
    Command("sign", "sign provisioning files (writes FILE.sig beside each)",
            "bodycam.tools.provision.sign_cmd"),
    Command("rotate", "replace the agency's provisioning key on a camera (signed by the old)",
            "bodycam.tools.provision.rotate_cmd"),
)


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch("bodycam-provision", "Technician provisioning tool.", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
