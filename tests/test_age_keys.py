"""age key strings: Bech32 encoding, parsing errors, identity files, fingerprints."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bodycam.firmware.evidence.age.keys import (
    bech32_decode,
    bech32_encode,
    format_identity,
    format_identity_file,
    format_recipient,
    generate_identity,
    parse_identity,
    parse_recipient,
    public_bytes,
    read_identity_file,
    recipient_fingerprint,
)

# From the age conformance vectors (x25519): a fixed, public test identity.
IDENTITY = "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"
# BIP-173's own valid test strings (checksums are the same algorithm age uses).
BIP173_VALID = ["A12UEL5L", "a12uel5l", "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
                "?1ezyfcl"]


@pytest.mark.parametrize("text", BIP173_VALID)
def test_bip173_vectors_decode_and_reencode(text: str) -> None:
    hrp, data = bech32_decode(text)
    assert bech32_encode(hrp, data) == text


@pytest.mark.parametrize("text", ["A12uEL5L", "a12uel5m", "1qzzfhee", "a1", "ab1cd"])
def test_bip173_invalid_strings_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        bech32_decode(text)


def test_generated_identity_round_trips() -> None:
    secret, recipient = generate_identity()
    assert secret.startswith("AGE-SECRET-KEY-1") and secret.isupper()
    assert recipient.startswith("age1") and len(recipient) == 62
    key = parse_identity(secret)
    assert format_identity(key) == secret
    assert format_recipient(key.public_key()) == recipient
    assert format_recipient(parse_recipient(recipient)) == recipient


def test_recipient_error_names_problem_and_fix() -> None:
    _, recipient = generate_identity()
    typo = recipient[:-1] + ("q" if recipient[-1] != "q" else "p")
    with pytest.raises(ValueError, match=r"not an age X25519 recipient: .*checksum.*age1pq1\.\.\."
                                         r" .*`bodycam-evidence keygen --pq`.* or age1\.\.\."):
        parse_recipient(typo)
    with pytest.raises(ValueError, match="not an age X25519 recipient"):
        parse_recipient("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5")


def test_secret_given_as_recipient_is_not_echoed() -> None:
    with pytest.raises(ValueError, match="secret identity") as info:
        parse_recipient(IDENTITY)
    assert IDENTITY[16:] not in str(info.value)


def test_identity_must_be_upper_case_and_not_echoed() -> None:
    with pytest.raises(ValueError, match="not an age X25519 identity") as info:
        parse_identity(IDENTITY.lower())
    assert IDENTITY.lower()[16:] not in str(info.value)


def test_fingerprint_is_sha256_prefix_of_raw_key() -> None:
    _, recipient = generate_identity()
    raw = public_bytes(parse_recipient(recipient))
    assert recipient_fingerprint(recipient) == hashlib.sha256(raw).hexdigest()[:16]
    assert recipient_fingerprint(" " + recipient + "\n") == recipient_fingerprint(recipient)


def test_identity_file_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    first, _ = generate_identity()
    path = tmp_path / "keys.txt"
    path.write_text(f"# agency key\n\n{first}\r\n   \n# escrow\n{IDENTITY}\n")
    keys = read_identity_file(path)
    assert [format_identity(k) for k in keys] == [first, IDENTITY]


def test_identity_file_error_has_line_number(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_text(f"# comment\n{IDENTITY}\nage1notakey\n")
    with pytest.raises(ValueError, match=r"keys\.txt, line 3: not an age X25519 identity"):
        read_identity_file(path)


def test_identity_file_without_keys_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.txt"
    path.write_text("# nothing here\n")
    with pytest.raises(ValueError, match="no identity found"):
        read_identity_file(path)
    path.write_bytes(b"\xff\xfe binary")
    with pytest.raises(ValueError, match="not a text identity file"):
        read_identity_file(path)


def test_identity_file_text_matches_age_keygen_layout(tmp_path: Path) -> None:
    secret, recipient = generate_identity()
    text = format_identity_file(secret, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert text == f"# created: 2025-01-02T03:04:05Z\n# public key: {recipient}\n{secret}\n"
    path = tmp_path / "id.txt"
    path.write_text(text)
    assert format_identity(read_identity_file(path)[0]) == secret


def test_plugin_identity_refused_clearly() -> None:
    with pytest.raises(ValueError, match=r"plugin identities .* not supported"):
        parse_identity("AGE-PLUGIN-YUBIKEY-1QQQQQQ")
