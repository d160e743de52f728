"""`bodycam-provision keygen -o FILE`: make the agency's provisioning key.

FILE gets the private key (PKCS#8 PEM, 0600, never overwritten): keep it offline, with
whoever approves camera configurations. FILE.pub gets the public half, which goes into
the camera image (/etc/bodycam/provisioning-key.pub) so cameras trust nothing else.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bodycam.firmware.device.provisioning_signature import (
    create_key_file,
    fingerprint,
    public_key_file,
)

EXIT_OK = 0
EXIT_FAILED = 1


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                        help="where the private key goes (FILE.pub gets the public key)")


def run(args: argparse.Namespace) -> int:
    private_path: Path = args.output
    public_path = private_path.with_name(private_path.name + ".pub")
    for path in (private_path, public_path):
        if os.path.lexists(path):
            print(f"ERROR: {path} exists; a key is never overwritten. Fix: choose another "
                  "name, or move the old key away if you really mean to replace it",
                  file=sys.stderr)
            return EXIT_FAILED
    try:
        key = create_key_file(private_path).public_key()
        fd = os.open(public_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as stream:
            stream.write(public_key_file(key))
    except OSError as exc:
        print(f"ERROR: cannot write the key: {exc}", file=sys.stderr)
        return EXIT_FAILED
    raw = base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    print(f"provisioning key:  {private_path} (private: keep it offline; whoever holds it "
          "can provision cameras)")
    print(f"public key file:   {public_path} (for the camera image, as "
          "/etc/bodycam/provisioning-key.pub)")
    print(f"public key:        {raw}")
    print(f"fingerprint:       {fingerprint(key)}")
    return EXIT_OK
