"""The software key store: made once, never silently, never trusted when others could
have read or replaced it; public keys of both algorithms; `bodycam identity`."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from bodycam.firmware.cli import main as bodycam_main
from bodycam.firmware.evidence.device_key import (
    KEY_FILE_NAME,
    DeviceKeyError,
    SoftwareKeyStore,
    UntrustedKeyError,
    set_aside,
)
from bodycam.firmware.evidence.public_keys import DevicePublicKey, parse_public_key
from bodycam.hal.keystore import KeyMissingError, KeyStoreError


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_is_created_once_with_private_modes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    key = SoftwareKeyStore.create(state)
    assert _mode(state) == 0o700
    assert _mode(state / KEY_FILE_NAME) == 0o600
    assert sorted(p.name for p in state.iterdir()) == [KEY_FILE_NAME]  # no temp file left
    again = SoftwareKeyStore.open(state)
    assert again.public_key == key.public_key
    assert len(key.fingerprint) == 16
    assert "PRIVATE" not in repr(key) and key.fingerprint in repr(key)
    with pytest.raises(KeyStoreError, match="never overwritten"):
        SoftwareKeyStore.create(state)
    assert SoftwareKeyStore.open(state).public_key == key.public_key


def test_open_never_creates_a_key(tmp_path: Path) -> None:
    """M1: only first boot makes a key; a key that vanished must be noticed, not replaced
    by whoever opens the store next."""
    with pytest.raises(KeyMissingError, match="first boot creates"):
        SoftwareKeyStore.open(tmp_path / "state")
    assert not (tmp_path / "state").exists()


def test_a_key_others_could_read_or_replace_is_not_trusted(tmp_path: Path) -> None:
    """M1: a foreign key dropped in a world-writable state dir (the audit's 0777 / 0666
    case) used to be "tightened" and used; now it is refused as untrusted."""
    state = tmp_path / "state"
    SoftwareKeyStore.create(state)
    (state / KEY_FILE_NAME).chmod(0o666)
    with pytest.raises(UntrustedKeyError, match="had mode 666"):
        SoftwareKeyStore.open(state)
    assert _mode(state / KEY_FILE_NAME) == 0o666  # nothing changed behind our back
    (state / KEY_FILE_NAME).chmod(0o600)
    state.chmod(0o777)
    with pytest.raises(UntrustedKeyError, match="can be written by others"):
        SoftwareKeyStore.open(state)


def test_a_key_owned_by_someone_else_is_not_trusted(tmp_path: Path) -> None:
    state = tmp_path / "state"
    SoftwareKeyStore.create(state)
    with pytest.raises(UntrustedKeyError):
        SoftwareKeyStore.open(state, owner_uid=os.geteuid() + 1)


def test_a_symlinked_key_is_not_followed(tmp_path: Path) -> None:
    """L4: a link planted where the key belongs (the audit's device-ed25519.pem ->
    bodycam.toml) is neither followed nor changed."""
    state = tmp_path / "state"
    SoftwareKeyStore.create(state)
    target = tmp_path / "bodycam.toml"
    target.write_text("[device]\n")
    target.chmod(0o640)
    (state / KEY_FILE_NAME).unlink()
    (state / KEY_FILE_NAME).symlink_to(target)
    with pytest.raises(UntrustedKeyError, match="symbolic link"):
        SoftwareKeyStore.open(state)
    with pytest.raises(KeyStoreError, match="never overwritten"):
        SoftwareKeyStore.create(state)
    assert _mode(target) == 0o640 and target.read_text() == "[device]\n"


def test_damaged_key_is_reported_and_set_aside_never_deleted(tmp_path: Path) -> None:
    state = tmp_path / "state"
    SoftwareKeyStore.create(state)
    damaged = b"-----BEGIN PRIVATE KEY-----\nAAAA\n"
    (state / KEY_FILE_NAME).write_bytes(damaged)
    with pytest.raises(DeviceKeyError, match="damaged"):
        SoftwareKeyStore.open(state)
    aside = set_aside(state, "damaged")
    assert aside is not None and aside.read_bytes() == damaged
    assert set_aside(state, "damaged") is None  # nothing left to move
    SoftwareKeyStore.create(state)
    assert aside.read_bytes() == damaged


def test_public_keys_of_both_algorithms() -> None:
    software = SoftwareKeyStore.generate()
    parsed = parse_public_key(software.public_key.b64 + "\n")
    assert parsed == software.public_key and parsed.algorithm == "ed25519"
    assert parsed.verify(software.sign(b"m"), b"m") and not parsed.verify(software.sign(b"m"),
                                                                           b"n")
    tpm_like = ec.generate_private_key(ec.SECP256R1())
    point = tpm_like.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    p256 = parse_public_key(base64.b64encode(point).decode())
    assert p256.algorithm == "ecdsa-p256" and len(p256.fingerprint) == 16
    signature = tpm_like.sign(b"m", ec.ECDSA(hashes.SHA256()))
    assert p256.verify(signature, b"m") and not p256.verify(signature, b"n")
    assert not p256.verify(b"garbage", b"m")  # never raises on bad input
    with pytest.raises(ValueError, match="bodycam identity --public-key"):
        parse_public_key("age1notakey")
    with pytest.raises(ValueError, match="not a P-256 point"):
        DevicePublicKey.from_raw(b"\x04" + bytes(64))


def test_identity_command_prints_id_unit_key_and_fingerprint(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    device = tmp_path / "device.toml"
    device.write_text('[device]\nid = "BC-0042"\nunit = "Ordnungsamt Mitte"\n'
                      'key_store = "software"\n')
    state = tmp_path / "state"
    assert bodycam_main(["identity", "--config", str(device), "--state-dir", str(state)]) == 1
    assert "no device key" in capsys.readouterr().err
    assert not state.exists()  # a mistyped --state-dir never yields a fresh key
    assert bodycam_main(["identity", "--config", str(device), "--state-dir", str(state),
                         "--create"]) == 0
    out = capsys.readouterr().out
    key = SoftwareKeyStore.open(state)
    assert "BC-0042" in out and "Ordnungsamt Mitte" in out
    assert key.public_key.b64 in out and key.fingerprint in out
    assert "key store:   software (ed25519)" in out

    assert bodycam_main(["identity", "--config", str(device), "--public-key",
                         "--state-dir", str(state)]) == 0
    assert capsys.readouterr().out == key.public_key.b64 + "\n"


def test_the_handed_over_identity_text_pins_the_key() -> None:
    """What the technician hands over (BODYCAM-IDENTITY.txt or `bodycam identity` output)
    is accepted where the custodian pins the key."""
    key = SoftwareKeyStore.generate()
    handed_over = ("Body camera identity\r\nDevice id:   BC-0042\r\n"
                   f"Public key:  {key.public_key.b64}\r\nFingerprint: {key.fingerprint}\r\n")
    assert parse_public_key(handed_over) == key.public_key
    with pytest.raises(ValueError, match="Public key"):
        parse_public_key("Public key: AAAA\npublic key: BBBB\n")
