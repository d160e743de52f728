"""Where the device key lives and how its identity reaches the technician: the key store
is chosen once, a TPM key's identity travels from the camera program through the state
directory to BODYCAM-IDENTITY.txt, and a software key is made only on a new camera."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from device_rig import MakeDevice

from bodycam.firmware.device.firstboot import (
    IDENTITY_FILE_NAME,
    DeviceLayout,
    Owner,
    write_identity,
)
from bodycam.firmware.device.identity import IDENTITY_SNAPSHOT
from bodycam.firmware.evidence.device_key import KEY_FILE_NAME
from bodycam.firmware.evidence.key_stores import (
    KEY_STORE_FILE,
    KeyStoreChoice,
    create_key_store,
    resolve_kind,
)
from bodycam.firmware.evidence.public_keys import DevicePublicKey, parse_public_key


def _layout(tmp_path: Path, key_store: str) -> DeviceLayout:
    layout = DeviceLayout(root=tmp_path / "root")
    layout.etc_dir.mkdir(parents=True)
    layout.boot_dir.mkdir(parents=True)
    layout.config_file.write_text(f'[device]\nid = "BC-0042"\nkey_store = "{key_store}"\n')
    return layout


def test_auto_never_turns_a_tpm_camera_into_a_key_file_camera(tmp_path: Path) -> None:
    """`auto` takes the TPM whenever one is fitted, whatever the record on the card says
    (a card holder writing "software" there gains nothing), and a camera whose first key
    was made in a TPM keeps asking for the TPM when the kernel no longer shows one (it
    then signs with a RAM-only key and alarms: see the integrity tests). The record is
    written once, by the first key, and never overwritten (a fallback cannot)."""
    fitted, bare = tmp_path / "fitted", tmp_path / "bare"
    (fitted / "sys/class/tpm/tpm0").mkdir(parents=True)  # what a sandboxed helper sees
    bare.mkdir()
    choice = KeyStoreChoice("auto", tmp_path / "state")
    assert (resolve_kind(choice, fitted), resolve_kind(choice, bare)) == ("tpm", "software")
    create_key_store(choice, "software")  # a camera without a TPM: its first key
    assert (choice.state_dir / KEY_STORE_FILE).read_text() == "software\n"
    assert resolve_kind(choice, fitted) == "tpm"  # a TPM fitted later wins (a re-key)
    (choice.state_dir / KEY_STORE_FILE).write_text("tpm\n")  # first key was a TPM's
    assert resolve_kind(choice, bare) == "tpm"  # the TPM vanished: still asked for
    (choice.state_dir / KEY_FILE_NAME).unlink()
    create_key_store(choice, "software")
    assert (choice.state_dir / KEY_STORE_FILE).read_text() == "tpm\n"  # never overwritten


def test_a_tpm_identity_reaches_the_boot_partition_from_the_program(tmp_path: Path) -> None:
    layout = _layout(tmp_path, "tpm")
    owner = Owner.current()
    assert write_identity(layout, owner) is None  # the program has not made the key yet
    state = layout.root / "var/lib/bodycam/state"
    assert not (state / KEY_FILE_NAME).exists()  # first boot never makes a file key here
    text = ("bodycam device identity\r\n\r\nDevice id:   BC-0042\r\n"
            "Key store:   TPM 2.0 (cannot be copied)\r\n"
            "Public key:  BASE64\r\nFingerprint: f\r\n")
    (state / IDENTITY_SNAPSHOT).write_text(text.replace("BASE64", "not a key"))
    assert write_identity(layout, owner) is None  # a damaged snapshot is not copied
    tpm_key = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        Encoding.X962, PublicFormat.UncompressedPoint)
    good = text.replace("BASE64", DevicePublicKey.from_raw(tpm_key).b64)
    (state / IDENTITY_SNAPSHOT).write_bytes(good.encode())
    target = write_identity(layout, owner)
    assert target == layout.boot_dir / IDENTITY_FILE_NAME
    assert target.read_bytes() == good.encode()


def test_the_program_leaves_its_identity_for_first_boot(make_sim_device: MakeDevice) -> None:
    rig = make_sim_device()
    rig.stop()
    snapshot = rig.config.storage.state_dir / IDENTITY_SNAPSHOT
    text = snapshot.read_text()
    assert rig.device.identity.fingerprint in text and "key file on the card" in text
    assert parse_public_key(text) == rig.device.identity.session.device_key


@pytest.mark.parametrize("audit_exists", [False, True])
def test_first_boot_makes_a_software_key_only_on_a_new_camera(
        tmp_path: Path, audit_exists: bool) -> None:
    """M1: a key that went missing on a camera with an audit log is the camera program's
    audited re-key, never a silent new key from first boot."""
    layout = _layout(tmp_path, "software")
    if audit_exists:
        audit = layout.root / "var/lib/bodycam/data/audit/audit.jsonl"
        audit.parent.mkdir(parents=True)
        audit.write_text("")
    made = write_identity(layout, Owner.current())
    key_file = layout.root / "var/lib/bodycam/state" / KEY_FILE_NAME
    assert key_file.exists() is (not audit_exists)
    assert (made is None) is audit_exists
