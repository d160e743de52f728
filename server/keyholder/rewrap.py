"""Re-wrapping one segment's file key for a viewer (SYSTEM.md: why this works).

An age header is the recipient stanzas plus an HMAC keyed from the file key; the payload
depends only on the file key and the payload nonce. So the key holder opens the header
with the authority identity (the same code, `open_payload`, that `bodycam-evidence
decrypt` uses: it checks the header MAC), and writes a new header with one stanza for
the viewer and the MAC recomputed under the same file key. The payload is untouched;
the viewer's age file is the new header followed by the original bytes after the old one.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from bodycam.firmware.evidence.age import AgeError, NoIdentityMatch, open_payload, wrap_file_key
from bodycam.firmware.evidence.age.header import encode_header
from bodycam.firmware.evidence.age.keys import Identity, Recipient
from bodycam.firmware.evidence.age.stream import PAYLOAD_NONCE_SIZE
from bodycam.server.keyholder.errors import RefusedError

__all__ = ["rewrap"]


def rewrap(identities: Sequence[Identity], preamble: bytes, viewer: Recipient, file: str
           ) -> tuple[bytes, int]:
    """(the viewer's header, the length of the header it replaces), from a segment's
    preamble (age header + payload nonce); RefusedError when it cannot be opened."""
    source = io.BytesIO(preamble)
    try:
        file_key, _nonce = open_payload(identities, source)
    except NoIdentityMatch:
        raise RefusedError("no_identity", f"{file} is not encrypted to any identity this key "
                           "holder holds. Fix: give the key holder the authority identity whose "
                           "recipient the camera was provisioned with (keyholder.toml identity)"
                           ) from None
    except AgeError as exc:
        raise RefusedError("header_mismatch", f"{file}: the camera's age header cannot be "
                           f"opened ({exc})") from None
    if source.read(1):
        raise RefusedError("header_mismatch", f"{file}: the preamble sent is longer than an age "
                           "header and its payload nonce")
    new_header = encode_header([wrap_file_key(file_key, viewer)], file_key)
    return new_header, len(preamble) - PAYLOAD_NONCE_SIZE
