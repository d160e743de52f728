"""Post-quantum hybrid keys (age1pq1... / AGE-SECRET-KEY-PQ-1...): round trips, and every
malformed, truncated or non-canonical string refused with its position, never echoing a
secret. Known answers for the key derivation come from the hybrid_* conformance vectors
(test_age_vectors.py) and from typage (test_age_typage.py)."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey

from bodycam.firmware.evidence.age import AgeEncryptor, bech32, decrypt
from bodycam.firmware.evidence.age.bech32 import bech32_encode
from bodycam.firmware.evidence.age.hybrid import PUBLIC_KEY_SIZE, HybridIdentity
from bodycam.firmware.evidence.age.keys import (
    MIXED_RECIPIENTS,
    format_identity,
    format_identity_file,
    format_recipient,
    generate_identity,
    parse_identity,
    parse_recipient,
    public_bytes,
    read_identity_file,
    recipient_fingerprint,
    refuse_mixed_recipients,
)

# The hybrid_* conformance vectors' public test identity.
PQ_IDENTITY = "AGE-SECRET-KEY-PQ-1HZLGZUPT4ETPKDEV8HSGFDCYZ4E522W0A7PU2LHT8EH9W6YLNC3SW78XKG"
PQ_RECIPIENT = format_recipient(parse_identity(PQ_IDENTITY).public_key())
RECIPIENT_CHARS = 1959  # "age1pq1" + 1946 data characters + 6 checksum


def _reencoded(raw: bytes) -> str:
    """A correctly checksummed age1pq1 string of `raw` (to test what lies beneath Bech32)."""
    return bech32_encode("age1pq", raw)


def test_generated_hybrid_identity_round_trips() -> None:
    secret, recipient = generate_identity(post_quantum=True)
    assert secret.startswith("AGE-SECRET-KEY-PQ-1") and secret.isupper()
    assert recipient.startswith("age1pq1") and len(recipient) == RECIPIENT_CHARS
    key = parse_identity(secret)
    assert isinstance(key, HybridIdentity)
    assert format_identity(key) == secret
    assert format_recipient(key.public_key()) == recipient
    assert format_recipient(parse_recipient(recipient)) == recipient
    assert len(public_bytes(parse_recipient(recipient))) == PUBLIC_KEY_SIZE


def test_identity_expands_as_x_wing_does() -> None:
    """seed -> SHAKE256(seed, 96): ML-KEM-768 seed (d || z), then the X25519 scalar."""
    seed = bytes(range(32))
    shake = hashlib.shake_256(seed).digest(96)
    mlkem = MLKEM768PrivateKey.from_seed_bytes(shake[:64]).public_key().public_bytes_raw()
    raw = HybridIdentity(seed).public_key().public_bytes_raw()
    assert raw[:1184] == mlkem
    assert len(raw) == 1216


def test_hybrid_fingerprint_is_sha256_prefix_of_the_whole_public_key() -> None:
    raw = public_bytes(parse_recipient(PQ_RECIPIENT))
    assert recipient_fingerprint(PQ_RECIPIENT) == hashlib.sha256(raw).hexdigest()[:16]


def test_hybrid_and_x25519_identities_share_one_file(tmp_path: Path) -> None:
    """An agency moving to hybrid keeps its X25519 identity beside the new one."""
    old, _ = generate_identity()
    path = tmp_path / "authority.key"
    path.write_text(format_identity_file(PQ_IDENTITY) + "# the X25519 key before 2026\n" + old)
    assert [format_identity(k) for k in read_identity_file(path)] == [PQ_IDENTITY, old]
    assert f"# public key: {PQ_RECIPIENT}\n" in path.read_text()


# ---------------------------------------------------------------- bad recipient strings


_R = PQ_RECIPIENT
_LOWER_HALF = "age1pq1" + _R[7:].replace("q", "Q", 1)
MALFORMED = {
    "truncated": (_R[:1500], r"checksum mismatch.*it has 1500 characters, where keys "
                             r"starting age1pq1 have 1959"),
    "last-character-missing": (_R[:-1], r"checksum mismatch.*1958 characters"),
    "run-together": (_R + "qqqq", r"checksum mismatch.*1963 characters"),
    "bad-character": (_R[:700] + "b" + _R[701:], r"invalid Bech32 character 'b' at position 701"),
    "non-ascii": (_R[:700] + "\u00e9" + _R[701:],
                  r"invalid Bech32 character U\+00E9 at position 701"),
    "mixed-case": (_LOWER_HALF,
                   rf"mixed upper and lower case \(character {_LOWER_HALF.index('Q') + 1} "),
    "upper-case": (_R.upper(), r"the prefix is not 'age1pq' \(case matters\)"),
    "prefix-only": ("age1pq1", r"misplaced '1' separator"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_hybrid_recipient_refused_with_position(name: str) -> None:
    text, problem = MALFORMED[name]
    with pytest.raises(ValueError, match=r"^not an age post-quantum recipient: ") as info:
        parse_recipient(text)
    assert re.search(problem, str(info.value)), str(info.value)
    assert "bodycam-evidence keygen --pq" in str(info.value)  # the fix


def _mlkem_part_not_reduced() -> str:
    """A correctly checksummed age1pq1 key whose first ML-KEM coefficient is 0xFFF >= q."""
    raw = bytearray(public_bytes(parse_recipient(PQ_RECIPIENT)))
    raw[0] = 0xFF
    raw[1] |= 0x0F
    return _reencoded(bytes(raw))


def _padding_bits_set() -> str:
    """The same key bytes with the last data character's two padding bits non-zero."""
    text = PQ_RECIPIENT
    charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    last = len(text) - 7  # the last data character, before the 6-character checksum
    value = charset.index(text[last]) | 0b11
    data = text[7:last] + charset[value]
    values = [charset.index(c) for c in data]
    poly = bech32._polymod([*bech32._hrp_expand("age1pq"), *values, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = "".join(charset[(poly >> 5 * (5 - i)) & 31] for i in range(6))
    return "age1pq1" + data + checksum


NON_CANONICAL = {
    "mlkem-not-reduced": (_mlkem_part_not_reduced, r"non-canonical: its ML-KEM-768 part"),
    "padding-bits": (_padding_bits_set, r"non-canonical: the last character carries non-zero "
                                        r"padding bits"),
    "one-byte-short": (lambda: _reencoded(public_bytes(parse_recipient(PQ_RECIPIENT))[:-1]),
                       r"key is 1215 bytes, expected 1216; it has 1957 characters"),
    "x25519-part-low-order": (
        lambda: _reencoded(public_bytes(parse_recipient(PQ_RECIPIENT))[:1184] + bytes(32)),
        r"X25519 part is a low-order point"),
}


@pytest.mark.parametrize("name", NON_CANONICAL)
def test_non_canonical_hybrid_recipient_refused(name: str) -> None:
    make, problem = NON_CANONICAL[name]
    text = make()
    with pytest.raises(ValueError, match=r"^not an age post-quantum recipient: ") as info:
        parse_recipient(text)
    assert re.search(problem, str(info.value)), str(info.value)


def test_x25519_low_order_recipient_refused_where_it_is_configured() -> None:
    with pytest.raises(ValueError, match=r"low-order point, which cannot receive files"):
        parse_recipient(bech32_encode("age", bytes(32)))


@pytest.mark.parametrize("spelling", [PQ_IDENTITY, PQ_IDENTITY.lower(), " " + PQ_IDENTITY,
                                      "AGE-SECRET-KEY-PQ-1QQQ-broken"])
def test_hybrid_secret_key_pasted_as_recipient_is_refused_and_not_echoed(spelling: str) -> None:
    with pytest.raises(ValueError, match=r"secret identity key .*treat that key as exposed"
                                         r".*Expected age1pq1\.\.\.") as info:
        parse_recipient(spelling)
    secret_part = PQ_IDENTITY[len("AGE-SECRET-KEY-PQ-1"):]
    assert secret_part[:8] not in str(info.value).upper()


def test_malformed_hybrid_identity_is_not_echoed() -> None:
    typo = PQ_IDENTITY[:-1] + ("Q" if PQ_IDENTITY[-1] != "Q" else "P")
    with pytest.raises(ValueError, match=r"not an age post-quantum identity \(checksum") as info:
        parse_identity(typo)
    assert typo[19:27] not in str(info.value)
    with pytest.raises(ValueError, match=r"not an age post-quantum identity \(.*case"):
        parse_identity("AGE-SECRET-KEY-PQ-1" + PQ_IDENTITY[19:].lower())


# ---------------------------------------------------------------- never mixed


def test_encryptor_refuses_hybrid_mixed_with_x25519() -> None:
    x25519 = parse_recipient(generate_identity()[1])
    hybrid = parse_recipient(PQ_RECIPIENT)
    for recipients in ([x25519, hybrid], [hybrid, x25519]):
        with pytest.raises(ValueError) as info:
            AgeEncryptor(recipients, lambda _data: None)
        assert str(info.value) == MIXED_RECIPIENTS
    refuse_mixed_recipients([hybrid, parse_recipient(generate_identity(post_quantum=True)[1])])
    refuse_mixed_recipients([x25519])


def test_mixed_message_says_why_and_what_to_do() -> None:
    assert "quantum computer" in MIXED_RECIPIENTS
    assert "list only the age1pq1... keys" in MIXED_RECIPIENTS
    assert "keep the old X25519 identity" in MIXED_RECIPIENTS


def test_several_hybrid_recipients_each_decrypt() -> None:
    secrets = [generate_identity(post_quantum=True)[0] for _ in range(3)]
    keys = [parse_identity(s) for s in secrets]
    out = io.BytesIO()
    encryptor = AgeEncryptor([k.public_key() for k in keys], out.write)
    encryptor.write(b"evidence" * 10_000)
    encryptor.close()
    for key in keys:
        plain = bytearray()
        decrypt([key], io.BytesIO(out.getvalue()), plain.extend)
        assert plain == b"evidence" * 10_000
