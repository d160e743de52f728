"""Bech32 (BIP-173 checksum, not Bech32m) as age spells its keys.

age's variant has no 90-character length limit (a post-quantum ``age1pq1...`` recipient
is 1959 characters) and puts identities in upper case, which general-purpose Bech32
libraries reject or do not offer, and none of them is maintained for this use; so the
few lines are written here, checked against BIP-173's own test strings, keys from
`age-keygen` and typage, and the age conformance vectors.

Errors name the position (1-based character) of what is wrong, never the text around
it: the string may be a mistyped secret key.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["bech32_decode", "bech32_encode"]

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {c: i for i, c in enumerate(_CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
CHECKSUM_LEN = 6


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
        raise ValueError("non-canonical: the last character carries non-zero padding bits "
                         "(the key was altered, or truncated and re-checksummed)")
    return out


def encoded_length(hrp: str, data_len: int) -> int:
    """Characters of the Bech32 string of `data_len` bytes under `hrp` (for messages)."""
    return len(hrp) + 1 + -(-data_len * 8 // 5) + CHECKSUM_LEN


def bech32_encode(hrp: str, data: bytes) -> str:
    """Bech32 string of `data`; upper case when `hrp` is upper case (age identities)."""
    lower_hrp = hrp.lower()
    values = _convert_bits(data, 8, 5, pad=True)
    polymod = _polymod([*_hrp_expand(lower_hrp), *values, *([0] * CHECKSUM_LEN)]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(CHECKSUM_LEN)]
    text = lower_hrp + "1" + "".join(_CHARSET[v] for v in values + checksum)
    return text.upper() if hrp.isupper() else text


def bech32_decode(text: str) -> tuple[str, bytes]:
    """(hrp in its original case, data). Raises ValueError naming what is wrong and where."""
    if text.lower() != text and text.upper() != text:
        first_upper = next(i for i, c in enumerate(text) if c.isupper())
        first_lower = next(i for i, c in enumerate(text) if c.islower())
        where = max(first_upper, first_lower) + 1
        raise ValueError(f"mixed upper and lower case (character {where} differs in case "
                         "from those before it)")
    pos = text.rfind("1")
    if pos < 1 or pos + 1 + CHECKSUM_LEN > len(text):
        raise ValueError("missing or misplaced '1' separator (truncated, or not a key)")
    hrp = text[:pos]
    bad_hrp = next((i for i, c in enumerate(hrp) if not 33 <= ord(c) <= 126), None)
    if bad_hrp is not None:
        raise ValueError(f"invalid character at position {bad_hrp + 1} in the prefix")
    values: list[int] = []
    for offset, char in enumerate(text[pos + 1:].lower(), start=pos + 2):
        value = _CHARSET_INDEX.get(char)
        if value is None:
            shown = repr(char) if char.isascii() and char.isprintable() else f"U+{ord(char):04X}"
            raise ValueError(f"invalid Bech32 character {shown} at position {offset} "
                             "(Bech32 has no 1, b, i or o after the separator)")
        values.append(value)
    if _polymod([*_hrp_expand(hrp.lower()), *values]) != 1:
        raise ValueError("checksum mismatch (a typo, or the key was cut short or run "
                         "together with other text)")
    return hrp, bytes(_convert_bits(values[:-CHECKSUM_LEN], 5, 8, pad=False))
