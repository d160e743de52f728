"""Device signing key: created once, private file modes, damage reported; `bodycam identity`."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bodycam.firmware.cli import main as bodycam_main
from bodycam.firmware.evidence.device_key import (
    KEY_FILE_NAME,
    DeviceKey,
    DeviceKeyError,
    parse_public_key,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_is_created_once_with_private_modes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    key = DeviceKey.load_or_create(state)
    assert _mode(state) == 0o700
    assert _mode(state / KEY_FILE_NAME) == 0o600
    assert sorted(p.name for p in state.iterdir()) == [KEY_FILE_NAME]  # no temp file left
    again = DeviceKey.load_or_create(state)
    assert again.public_key_b64 == key.public_key_b64
    assert len(key.fingerprint) == 16
    assert "PRIVATE" not in repr(key) and key.fingerprint in repr(key)


def test_loose_modes_are_tightened(tmp_path: Path) -> None:
    state = tmp_path / "state"
    DeviceKey.load_or_create(state)
    state.chmod(0o755)
    (state / KEY_FILE_NAME).chmod(0o644)
    DeviceKey.load_or_create(state)
    assert (_mode(state), _mode(state / KEY_FILE_NAME)) == (0o700, 0o600)


def test_damaged_key_is_reported_not_replaced(tmp_path: Path) -> None:
    state = tmp_path / "state"
    DeviceKey.load_or_create(state)
    damaged = b"-----BEGIN PRIVATE KEY-----\nAAAA\n"
    (state / KEY_FILE_NAME).write_bytes(damaged)
    with pytest.raises(DeviceKeyError, match=r"damaged.*Fix: move the file aside"):
        DeviceKey.load_or_create(state)
    assert (state / KEY_FILE_NAME).read_bytes() == damaged


def test_public_key_round_trip_and_bad_input() -> None:
    key = DeviceKey.generate()
    assert parse_public_key(key.public_key_b64 + "\n").public_bytes_raw() == \
        key.public_key.public_bytes_raw()
    with pytest.raises(ValueError, match="bodycam identity --public-key"):
        parse_public_key("age1notakey")


def test_identity_command_prints_id_unit_key_and_fingerprint(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    device = tmp_path / "device.toml"
    device.write_text('[device]\nid = "BC-0042"\nunit = "Ordnungsamt Mitte"\n')
    state = tmp_path / "state"
    assert bodycam_main(["identity", "--config", str(device), "--state-dir", str(state)]) == 1
    assert "no device key" in capsys.readouterr().err
    assert not state.exists()  # a mistyped --state-dir never yields a fresh key
    assert bodycam_main(["identity", "--config", str(device), "--state-dir", str(state),
                         "--create"]) == 0
    out = capsys.readouterr().out
    key = DeviceKey.load_or_create(state)
    assert "BC-0042" in out and "Ordnungsamt Mitte" in out
    assert key.public_key_b64 in out and key.fingerprint in out

    assert bodycam_main(["identity", "--public-key", "--state-dir", str(state)]) == 0
    assert capsys.readouterr().out == key.public_key_b64 + "\n"


def test_the_handed_over_identity_text_pins_the_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What the technician hands over (BODYCAM-IDENTITY.txt or `bodycam identity` output)
    is accepted where the custodian pins the key."""
    key = DeviceKey.generate()
    handed_over = ("Body camera identity\r\nDevice id:   BC-0042\r\n"
                   f"Public key:  {key.public_key_b64}\r\nFingerprint: {key.fingerprint}\r\n")
    assert parse_public_key(handed_over).public_bytes_raw() == \
        key.public_key.public_bytes_raw()
    with pytest.raises(ValueError, match="Public key"):
        parse_public_key("Public key: AAAA\npublic key: BBBB\n")
