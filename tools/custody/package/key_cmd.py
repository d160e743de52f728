"""`bodycam-evidence export-key init --out DIR --agency NAME`: the agency's export keys;
`export-key renew --keys DIR`: a new export certificate before the old one expires.

Makes the agency CA, the export leaf (signs packages and C2PA manifests) and the
timestamp leaf (the agency's RFC 3161 TSA) in DIR; private keys mode 0600, never
replaced. Prints the CA's SHA-256 fingerprint: the agency tells it to prosecutors by
another channel, so they can pin the CA (`verify --ca`). Keep agency-ca.key offline.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptography.hazmat.primitives import hashes

from bodycam.tools.custody.package.keys import CA_KEY, ExportKeyError, create, renew_export


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    init = sub.add_parser("init", help="create the agency CA, export and timestamp keys")
    init.add_argument("--out", type=Path, required=True, metavar="DIR",
                      help="directory for the keys (created mode 0700; must hold none)")
    init.add_argument("--agency", required=True, metavar="NAME",
                      help="the agency's name, as the certificates and C2PA readers show it")
    init.add_argument("--days", type=int, default=730, metavar="N",
                      help="validity of the export certificate (default 730); manifests "
                           "stay valid after it through their timestamps")
    renew = sub.add_parser("renew", help="a new export certificate from the CA key (before "
                           "the old one expires: c2pa signs with a valid one only)")
    renew.add_argument("--keys", type=Path, required=True, metavar="DIR",
                       help="the export key directory (with agency-ca.key brought back)")
    renew.add_argument("--days", type=int, default=730, metavar="N",
                       help="validity of the new export certificate (default 730)")


def run(args: argparse.Namespace) -> int:
    if args.days < 1:
        print("bodycam-evidence export-key: --days must be at least 1", file=sys.stderr)
        return 2
    if args.action == "renew":
        try:
            leaf = renew_export(args.keys, export_days=args.days).chain[0]
        except ExportKeyError as exc:
            print(f"bodycam-evidence export-key: {exc}", file=sys.stderr)
            return 2
        print(f"new export certificate valid until {leaf.not_valid_after_utc.isoformat()}; "
              f"the old one is in {args.keys / 'retired'}")
        return 0
    try:
        keys = create(args.out, args.agency, export_days=args.days)
    except ExportKeyError as exc:
        print(f"bodycam-evidence export-key: {exc}", file=sys.stderr)
        return 2
    print(f"agency CA SHA-256 fingerprint: {keys.ca.fingerprint(hashes.SHA256()).hex(':')}")
    print(f"keys in {args.out}; store {CA_KEY} offline (it only issues new export "
          "certificates)", file=sys.stderr)
    return 0
