"""age keys in their standard text forms, X25519 and post-quantum hybrid.

* X25519: recipient ``age1...`` (32 bytes), identity ``AGE-SECRET-KEY-1...`` (scalar);
* post-quantum hybrid ML-KEM-768 + X25519: recipient ``age1pq1...`` (1216 bytes),
  identity ``AGE-SECRET-KEY-PQ-1...`` (a 32-byte seed).

All are Bech32 strings (bech32.py). Recipients are lower case and identities upper case,
exactly as age and typage write them; any other spelling is refused rather than
normalised, so one key has one text and one fingerprint. Error messages never quote a
string that could be a secret key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from bodycam.firmware.evidence.age.bech32 import bech32_decode, bech32_encode, encoded_length
from bodycam.firmware.evidence.age.hybrid import (
    PUBLIC_KEY_SIZE,
    SEED_SIZE,
    HybridIdentity,
    HybridRecipient,
)
from bodycam.firmware.evidence.age.x25519 import can_receive
from bodycam.firmware.evidence.age.x25519 import public_bytes as x25519_bytes

__all__ = [
    "HYBRID_IDENTITY_HRP",
    "HYBRID_RECIPIENT_HRP",
    "IDENTITY_HRP",
    "MIXED_RECIPIENTS",
    "RECIPIENT_HRP",
    "HybridIdentity",
    "HybridRecipient",
    "Identity",
    "Recipient",
    "bech32_decode",
    "bech32_encode",
    "format_identity",
    "format_identity_file",
    "format_recipient",
    "generate_identity",
    "is_post_quantum",
    "mixed_recipients_problem",
    "parse_identity",
    "parse_recipient",
    "public_bytes",
    "read_identity_file",
    "recipient_fingerprint",
    "refuse_mixed_recipients",
]

Recipient = X25519PublicKey | HybridRecipient
Identity = X25519PrivateKey | HybridIdentity

RECIPIENT_HRP = "age"
HYBRID_RECIPIENT_HRP = "age1pq"
IDENTITY_HRP = "AGE-SECRET-KEY-"  # also the start of every hybrid identity
HYBRID_IDENTITY_HRP = "AGE-SECRET-KEY-PQ-"
_X25519_LEN = 32
_HYBRID_START = HYBRID_RECIPIENT_HRP + "1"
_KEYGEN = "bodycam-evidence keygen"
_EXPECTED_RECIPIENT = (f"expected age1pq1... (post-quantum, from `{_KEYGEN} --pq` or "
                       f"`age-keygen -pq`) or age1... (X25519, from `{_KEYGEN}` or age-keygen)")
MIXED_RECIPIENTS = (
    "post-quantum (age1pq1...) and X25519 (age1...) recipients are mixed: an X25519 stanza "
    "in the same file opens it to a future quantum computer, which voids the post-quantum "
    "protection (age refuses this mix too); list only the age1pq1... keys, and keep the "
    "old X25519 identity to read the recordings made before the change"
)


def public_bytes(pub: Recipient) -> bytes:
    """The raw public key: 32 bytes (X25519) or 1216 bytes (hybrid)."""
    if isinstance(pub, HybridRecipient):
        return pub.public_bytes_raw()
    return x25519_bytes(pub)


def is_post_quantum(recipient: Recipient) -> bool:
    return isinstance(recipient, HybridRecipient)


def refuse_mixed_recipients(recipients: Iterable[Recipient]) -> None:
    """ValueError (MIXED_RECIPIENTS) when hybrid and X25519 recipients are listed together."""
    kinds = {is_post_quantum(r) for r in recipients}
    if len(kinds) > 1:
        raise ValueError(MIXED_RECIPIENTS)


def mixed_recipients_problem(labelled: Iterable[tuple[str, str]]) -> str | None:
    """For (where, recipient string) pairs, e.g. ("line 3", "age1pq1..."): None, or
    MIXED_RECIPIENTS naming where each kind is listed (for configuration messages)."""
    hybrid: list[str] = []
    classic: list[str] = []
    for where, text in labelled:
        (hybrid if text.strip().lower().startswith(_HYBRID_START) else classic).append(where)
    if not hybrid or not classic:
        return None
    return (f"{MIXED_RECIPIENTS} (post-quantum: {', '.join(hybrid)}; X25519: "
            f"{', '.join(classic)})")


def _shorten(s: str) -> str:
    return repr(s if len(s) <= 24 else s[:20] + "...")


def parse_recipient(s: str) -> Recipient:
    """Public key from an ``age1pq1...`` or ``age1...`` recipient string."""
    text = s.strip()
    if text.upper().startswith(IDENTITY_HRP):
        # Never echo it, nor its prefix (configuration messages redact that word anyway).
        raise ValueError(
            "not an age recipient: this is a secret identity key where its public key "
            "belongs; treat that key as exposed and make a new one. "
            f"{_EXPECTED_RECIPIENT[0].upper()}{_EXPECTED_RECIPIENT[1:]}; keygen prints the "
            "public key"
        )
    hybrid = text.lower().startswith(_HYBRID_START)
    kind = "post-quantum recipient" if hybrid else "X25519 recipient"
    try:
        if hybrid:
            return HybridRecipient(_key_bytes(text, HYBRID_RECIPIENT_HRP, PUBLIC_KEY_SIZE))
        key = X25519PublicKey.from_public_bytes(_key_bytes(text, RECIPIENT_HRP, _X25519_LEN))
        if not can_receive(key):
            raise ValueError("a low-order point, which cannot receive files")
    except ValueError as exc:
        raise ValueError(f"not an age {kind}: {_shorten(text)} ({exc}); "
                         f"{_EXPECTED_RECIPIENT}") from None
    return key


def parse_identity(s: str) -> Identity:
    """Secret key from an ``AGE-SECRET-KEY-PQ-1...`` or ``AGE-SECRET-KEY-1...`` string."""
    text = s.strip()
    if text.upper().startswith("AGE-PLUGIN-"):
        raise ValueError(
            "unsupported age identity: plugin identities (AGE-PLUGIN-...) are not supported; "
            "use an AGE-SECRET-KEY-PQ-1... or AGE-SECRET-KEY-1... identity, or `age -d` with "
            "the plugin for such files"
        )
    hybrid = text.upper().startswith(HYBRID_IDENTITY_HRP + "1")
    try:
        if hybrid:
            return HybridIdentity(_key_bytes(text, HYBRID_IDENTITY_HRP, SEED_SIZE))
        return X25519PrivateKey.from_private_bytes(_key_bytes(text, IDENTITY_HRP, _X25519_LEN))
    except ValueError as exc:
        # Never echo the string: it may be a (mistyped) secret key.
        kind = "post-quantum identity" if hybrid else "X25519 identity"
        raise ValueError(
            f"not an age {kind} ({exc}); expected AGE-SECRET-KEY-PQ-1... or "
            f"AGE-SECRET-KEY-1... from {_KEYGEN} or age-keygen"
        ) from None


def _key_bytes(text: str, hrp: str, size: int) -> bytes:
    """The key bytes of a Bech32 string with exactly this prefix (ValueError: why not).

    The message never quotes the input: a mistyped secret key must not reach a log. A
    string of the wrong length says so, since a cut-off paste is the commonest slip.
    """
    expected = encoded_length(hrp, size)
    length = ("" if len(text) == expected else
              f"; it has {len(text)} characters, where keys starting {hrp}1 have {expected}")
    try:
        found, data = bech32_decode(text)
    except ValueError as exc:
        raise ValueError(f"{exc}{length}") from None
    if found != hrp:
        raise ValueError(f"the prefix is not {hrp!r} (case matters)")
    if len(data) != size:
        raise ValueError(f"key is {len(data)} bytes, expected {size}{length}")
    return data


def format_recipient(pub: Recipient) -> str:
    hrp = HYBRID_RECIPIENT_HRP if is_post_quantum(pub) else RECIPIENT_HRP
    return bech32_encode(hrp, public_bytes(pub))


def format_identity(priv: Identity) -> str:
    if isinstance(priv, HybridIdentity):
        return bech32_encode(HYBRID_IDENTITY_HRP, priv.seed_bytes())
    return bech32_encode(IDENTITY_HRP,
                         priv.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))


def recipient_fingerprint(recipient: str) -> str:
    """Short stable id for manifests: first 16 hex chars of SHA-256 of the raw public key
    (32 bytes for X25519, 1216 for hybrid).

    Computed from the key bytes, not the string, so any valid spelling gives the same id.
    """
    return hashlib.sha256(public_bytes(parse_recipient(recipient))).hexdigest()[:16]


def read_identity_file(path: Path) -> list[Identity]:
    """Identities from an age identity file: '#' comments, blank lines, one key a line
    (hybrid and X25519 identities may be mixed: an agency moving to hybrid keeps both)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(
            f"{path}: not a text identity file; pass the file written by {_KEYGEN} "
            "or age-keygen"
        ) from None
    keys: list[Identity] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            keys.append(parse_identity(line))
        except ValueError as exc:
            raise ValueError(f"{path}, line {number}: {exc}") from None
    if not keys:
        raise ValueError(
            f"{path}: no identity found; the file must hold an AGE-SECRET-KEY-PQ-1... or "
            "AGE-SECRET-KEY-1... line"
        )
    return keys


def generate_identity(*, post_quantum: bool = False) -> tuple[str, str]:
    """A fresh key pair as (secret, recipient): ``AGE-SECRET-KEY-PQ-1...`` / ``age1pq1...``
    with `post_quantum`, else ``AGE-SECRET-KEY-1...`` / ``age1...``."""
    priv: Identity = HybridIdentity.generate() if post_quantum else X25519PrivateKey.generate()
    return format_identity(priv), format_recipient(priv.public_key())


def format_identity_file(secret: str, created: datetime | None = None) -> str:
    """The identity file text age-keygen writes: creation time (UTC), public key, secret."""
    when = (created or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    recipient = format_recipient(parse_identity(secret).public_key())
    return f"# created: {when}\n# public key: {recipient}\n{secret}\n"
