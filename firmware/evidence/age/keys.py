"""age X25519 keys in their standard text forms (``age1...`` / ``AGE-SECRET-KEY-1...``).

The keys are Bech32 strings (BIP-173 checksum, not Bech32m). age's variant has no
90-character length limit and puts the identity in upper case, which general-purpose
Bech32 libraries reject or do not offer, and none of them is maintained for this use;
so the few lines of Bech32 are written here, checked against keys from `age-keygen` and
against the age conformance vectors.
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
    PublicFormat,
)

__all__ = [
    "IDENTITY_HRP",
    "RECIPIENT_HRP",
    "bech32_decode",
    "bech32_encode",
    "format_identity",
    "format_identity_file",
    "format_recipient",
    "generate_identity",
    "parse_identity",
    "parse_recipient",
    "public_bytes",
    "read_identity_file",
    "recipient_fingerprint",
]

RECIPIENT_HRP = "age"
IDENTITY_HRP = "AGE-SECRET-KEY-"
_KEY_LEN = 32
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {c: i for i, c in enumerate(_CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_CHECKSUM_LEN = 6


# ------------------------------------------------------------------------------ Bech32


def _polymod(values: Iterable[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(_GENERATOR):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: Iterable[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    """Regroup bits; without `pad`, leftover bits must be fewer than `from_bits` and zero."""
    acc = 0
    bits = 0
    out: list[int] = []
    max_value = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & max_value)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & max_value)
    elif bits >= from_bits or (acc << (to_bits - bits)) & max_value:
        raise ValueError("invalid padding bits in Bech32 data")
    return out


def bech32_encode(hrp: str, data: bytes) -> str:
    """Bech32 string of `data`; upper case when `hrp` is upper case (age identities)."""
    lower_hrp = hrp.lower()
    values = _convert_bits(data, 8, 5, pad=True)
    polymod = _polymod([*_hrp_expand(lower_hrp), *values, *([0] * _CHECKSUM_LEN)]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(_CHECKSUM_LEN)]
    text = lower_hrp + "1" + "".join(_CHARSET[v] for v in values + checksum)
    return text.upper() if hrp.isupper() else text


def bech32_decode(text: str) -> tuple[str, bytes]:
    """(hrp in its original case, data). Raises ValueError naming what is wrong."""
    if text.lower() != text and text.upper() != text:
        raise ValueError("mixed upper and lower case")
    pos = text.rfind("1")
    if pos < 1 or pos + 1 + _CHECKSUM_LEN > len(text):
        raise ValueError("missing or misplaced '1' separator")
    hrp = text[:pos]
    if any(not 33 <= ord(c) <= 126 for c in hrp):
        raise ValueError("invalid character in the prefix")
    try:
        values = [_CHARSET_INDEX[c] for c in text[pos + 1:].lower()]
    except KeyError as exc:
        raise ValueError(f"invalid Bech32 character {exc.args[0]!r}") from None
    if _polymod([*_hrp_expand(hrp.lower()), *values]) != 1:
        raise ValueError("checksum mismatch (typo or truncated key?)")
    return hrp, bytes(_convert_bits(values[:-_CHECKSUM_LEN], 5, 8, pad=False))


# ------------------------------------------------------------------------------ keys


def public_bytes(pub: X25519PublicKey) -> bytes:
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _private_bytes(priv: X25519PrivateKey) -> bytes:
    return priv.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def _shorten(s: str) -> str:
    return repr(s if len(s) <= 24 else s[:20] + "...")


def parse_recipient(s: str) -> X25519PublicKey:
    """Public key from an ``age1...`` recipient string."""
    text = s.strip()
    if text.upper().startswith(IDENTITY_HRP):
        # Never echo it: it is a secret key given where a public one belongs.
        raise ValueError(
            "not an age X25519 recipient: this is a secret identity (AGE-SECRET-KEY-1...); "
            "expected the public age1... key printed by age-keygen or bodycam-evidence keygen"
        )
    try:
        data = _key_bytes(text, RECIPIENT_HRP)
    except ValueError as exc:
        raise ValueError(
            f"not an age X25519 recipient: {_shorten(text)} ({exc}); expected age1... "
            "from age-keygen or bodycam-evidence keygen"
        ) from None
    return X25519PublicKey.from_public_bytes(data)


def parse_identity(s: str) -> X25519PrivateKey:
    """Private key from an ``AGE-SECRET-KEY-1...`` identity string (upper case, as age)."""
    text = s.strip()
    if text.upper().startswith(("AGE-SECRET-KEY-PQ-1", "AGE-PLUGIN-")):
        raise ValueError(
            "unsupported age identity: post-quantum (AGE-SECRET-KEY-PQ-1...) and plugin "
            "(AGE-PLUGIN-...) identities are not supported; use an X25519 "
            "AGE-SECRET-KEY-1... identity, or `age -d` for such files"
        )
    try:
        data = _key_bytes(text, IDENTITY_HRP)
    except ValueError as exc:
        # Never echo the string: it may be a (mistyped) secret key.
        raise ValueError(
            f"not an age X25519 identity ({exc}); expected AGE-SECRET-KEY-1... "
            "from age-keygen or bodycam-evidence keygen"
        ) from None
    return X25519PrivateKey.from_private_bytes(data)


def _key_bytes(text: str, hrp: str) -> bytes:
    """The 32 key bytes of a Bech32 string with exactly this prefix (ValueError: why not).

    The message never quotes the input: a mistyped secret key must not reach a log.
    """
    found, data = bech32_decode(text)
    if found != hrp:
        raise ValueError(f"the prefix is not {hrp!r} (case matters)")
    if len(data) != _KEY_LEN:
        raise ValueError(f"key is {len(data)} bytes, expected {_KEY_LEN}")
    return data


def format_recipient(pub: X25519PublicKey) -> str:
    return bech32_encode(RECIPIENT_HRP, public_bytes(pub))


def format_identity(priv: X25519PrivateKey) -> str:
    return bech32_encode(IDENTITY_HRP, _private_bytes(priv))


def recipient_fingerprint(recipient: str) -> str:
    """Short stable id for manifests: first 16 hex chars of SHA-256 of the raw public key.

    Computed from the key bytes, not the string, so any valid spelling gives the same id.
    """
    return hashlib.sha256(public_bytes(parse_recipient(recipient))).hexdigest()[:16]


def read_identity_file(path: Path) -> list[X25519PrivateKey]:
    """Identities from an age identity file: '#' comments, blank lines, one key a line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(
            f"{path}: not a text identity file; pass the file written by age-keygen "
            "or bodycam-evidence keygen"
        ) from None
    keys: list[X25519PrivateKey] = []
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
            f"{path}: no identity found; the file must hold an AGE-SECRET-KEY-1... line"
        )
    return keys


def generate_identity() -> tuple[str, str]:
    """A fresh key pair as (secret ``AGE-SECRET-KEY-1...``, recipient ``age1...``)."""
    priv = X25519PrivateKey.generate()
    return format_identity(priv), format_recipient(priv.public_key())


def format_identity_file(secret: str, created: datetime | None = None) -> str:
    """The identity file text age-keygen writes: creation time (UTC), public key, secret."""
    when = (created or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    recipient = format_recipient(parse_identity(secret).public_key())
    return f"# created: {when}\n# public key: {recipient}\n{secret}\n"
