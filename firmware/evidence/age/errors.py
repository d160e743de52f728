"""Why an age file could not be decrypted, one class per failure kind.

The classes mirror the outcomes the age conformance vectors distinguish (`no match`,
`header failure`, `HMAC failure`, `payload failure`) plus features this implementation
deliberately does not offer, so the custodian tool can tell the user exactly what
went wrong and what to do.
"""

from __future__ import annotations

from typing import ClassVar


class AgeError(Exception):
    """Base class: the file could not be (completely) decrypted.

    `summary` is the failure kind in a few words, for the first word of an error line.
    """

    summary: ClassVar[str] = "decryption failed"


class HeaderError(AgeError):
    """The header is malformed or truncated: not an age v1 file, or damaged before the
    payload. Nothing was decrypted."""

    summary = "damaged or not an age file"


class NoIdentityMatch(AgeError):  # noqa: N818 (the name the evidence modules share)
    """None of the given identities is a recipient of the file. Nothing was decrypted."""

    summary = "wrong key"


class HmacError(AgeError):
    """The header MAC does not verify: the header was altered (or the file key is
    wrong). Nothing was decrypted."""

    summary = "header altered"


class UnsupportedError(AgeError):
    """A valid age feature this tool deliberately does not implement (passphrase/scrypt,
    ASCII armor, plugin recipients). Nothing was decrypted."""

    summary = "unsupported age feature"


class PayloadError(AgeError):
    """A payload chunk failed; every chunk before it was verified and released.

    `released_bytes` and `chunks` say how much plaintext was released before the failure.
    """

    summary = "damaged payload"

    def __init__(self, message: str, released_bytes: int, chunks: int) -> None:
        super().__init__(message)
        self.released_bytes = released_bytes
        self.chunks = chunks


class TruncatedError(PayloadError):
    """The payload ends early (no final chunk, or a short last piece that does not
    authenticate): typically power lost while writing. The released prefix is intact."""

    summary = "truncated file"
