"""Which key holder this server uses: its socket and its pinned log key.

`bodycam-server keyholder connect` writes `identity/keyholder.toml` once; every server
process reads it. The log key is pinned so that the lines the server pulls into its
audit trail are known to be the key holder's (server/keyholder/pull.py). Nothing in the
file is secret: the key holder's identity never comes near the server.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bodycam.firmware.evidence.durable import replace_file
from bodycam.firmware.evidence.public_keys import DevicePublicKey, parse_public_key
from bodycam.server.keyholder.client import KeyholderClient, KeyholderUnavailableError

__all__ = ["LINK_FILE", "KeyholderLink"]

LINK_FILE: Final = "keyholder.toml"


@dataclass(frozen=True)
class KeyholderLink:
    socket: Path
    log_key: DevicePublicKey

    @classmethod
    def load(cls, identity_dir: Path) -> KeyholderLink:
        """KeyholderUnavailableError (nothing can be viewed) when none is connected."""
        path = identity_dir / LINK_FILE
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            return cls(Path(str(data["socket"])), parse_public_key(str(data["log_key"])))
        except FileNotFoundError:
            raise KeyholderUnavailableError(
                "no key holder is connected to this server, so no recording can be viewed. "
                "Fix: `bodycam-server keyholder connect --socket PATH` (docs/keyholder.md)"
                ) from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError,
                ValueError) as exc:
            raise KeyholderUnavailableError(f"{path} is unreadable ({exc}). Fix: connect the key "
                                       "holder again") from None

    def save(self, identity_dir: Path) -> None:
        text = (f"# the key holder this server asks (bodycam-server keyholder connect)\n"
                f"socket = {json.dumps(str(self.socket))}\n"
                f"log_key = {json.dumps(self.log_key.b64)}  # {self.log_key.fingerprint}\n")
        replace_file(identity_dir / LINK_FILE, text.encode("utf-8"), 0o640)

    def client(self) -> KeyholderClient:
        return KeyholderClient(self.socket)
