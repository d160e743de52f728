"""`bodycam-evidence keygen [--pq] -o FILE`: create the evidence authority's age identity.

`--pq` makes a post-quantum hybrid identity (ML-KEM-768 + X25519, ``age1pq1...``), the
choice for new deployments: evidence is kept for years, and files encrypted only to
X25519 can be recorded now and opened once a large quantum computer exists. Without it
the key is X25519 (``age1...``), as with age-keygen, for deployments that need the
files readable by age < 1.3 (Debian 12/13's age 1.1.1 cannot read hybrid files).

The file has age-keygen's format, so `age -d -i FILE` (age >= 1.3 for a hybrid
identity) and this tool both read it. It is
created with mode 0600 and never silently replaces an existing key: losing the agency
key loses every recording encrypted to it. The secret is never printed; only the public
recipient goes to stdout, ready to paste into a camera's configuration.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bodycam.firmware.evidence.age.keys import format_identity_file, generate_identity
from bodycam.firmware.evidence.durable import replace_file, write_new_file

EXIT_OK = 0
EXIT_FAILED = 1
_MODE = 0o600


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pq", action="store_true",
                        help="post-quantum hybrid identity (ML-KEM-768 + X25519, age1pq1...), "
                             "recommended for new deployments; readable by this tool, typage "
                             "and age >= 1.3, not by age 1.1/1.2")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                        help="identity file to create (mode 0600); the secret key is "
                             "never written to the terminal")
    parser.add_argument("--force", action="store_true",
                        help="replace FILE if it exists (the old key is lost: recordings "
                             "encrypted to it can no longer be decrypted with FILE)")


def run(args: argparse.Namespace) -> int:
    path: Path = args.output
    secret, recipient = generate_identity(post_quantum=args.pq)
    text = format_identity_file(secret).encode("ascii")
    try:
        if args.force:
            replace_file(path, text, _MODE)  # a crash leaves the old key or the new one
        else:
            _create(path, text)
    except FileExistsError:
        print(f"error: {path} already exists; keep that key safe, choose another file "
              "name, or pass --force to replace it", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"error: cannot write {path}: {exc.strerror}; check the directory exists "
              "and is writable", file=sys.stderr)
        return EXIT_FAILED
    kind = "post-quantum hybrid" if args.pq else "X25519"
    print(f"wrote {kind} identity to {path} (keep it secret; back it up offline); its public "
          "key for camera configurations:", file=sys.stderr)
    if not args.pq:
        print("note: new deployments should use --pq (post-quantum); see the custodian guide",
              file=sys.stderr)
    print(recipient)
    return EXIT_OK


def _create(path: Path, text: bytes) -> None:
    """A new key file; a half-written one is removed (it would look like a valid name)."""
    try:
        write_new_file(path, text, _MODE)
    except FileExistsError:
        raise
    except BaseException:
        path.unlink(missing_ok=True)
        raise
