"""Signed provisioning on the camera (audit H3): only the agency's key changes a camera.

The audit's attack: anyone who can write the FAT partition swaps or adds evidence
recipients with one line in bodycam-recipients.txt, or sabotages recording with a
"valid" file. Each test below is that attack, or a way around the signature (another
key, a renamed, altered, replayed or misaddressed file), and the camera refusing it.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import provisioning_rig
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from provisioning_rig import (
    WHEN,
    Recorder,
    camera_root,
    drop,
    drop_recipients,
    error_text,
    installed_recipients,
    recipients_file,
    run_import,
)
from signed_provisioning import AGENCY, next_serial, sign_beside
from test_provision_check import OTHER, RECIPIENT, VALID

from bodycam.firmware.device import provisioning_checker
from bodycam.firmware.device.firstboot import (
    BOOT_CONFIG_NAME,
    FAULT_PROVISIONING,
    NEW_KEY_NAME,
    PINNED_KEY_NAME,
    RECIPIENTS_FILE_NAME,
    DeviceLayout,
    ImportResult,
    Owner,
    import_from_boot,
    main,
    pending_fault,
)
from bodycam.firmware.device.process_hardening import is_dumpable
from bodycam.firmware.device.provisioning_checker import (
    CheckRequest,
    Verdict,
    refused,
    run_checker,
)
from bodycam.firmware.device.provisioning_signature import fingerprint, public_key_file
from bodycam.firmware.device.provisioning_trust import STATE_NAME
from bodycam.firmware.evidence.age.keys import generate_identity
from bodycam.hal.clocks import ManualClock

ATTACKER = Ed25519PrivateKey.generate()
ATTACKER_RECIPIENT = generate_identity()[1]

layout, hooks = provisioning_rig.layout, provisioning_rig.hooks  # shared fixtures


@pytest.fixture
def provisioned(layout: DeviceLayout, hooks: Recorder) -> DeviceLayout:
    """A camera in service: the agency's file with the agency's recipient installed."""
    drop(layout, VALID)
    assert run_import(layout, hooks) is ImportResult.INSTALLED
    return layout


def assert_refused(layout: DeviceLayout, hooks: Recorder, reason: str) -> None:
    """Rejected, the active configuration unchanged, the technician told why."""
    before = layout.config_file.read_bytes()
    assert run_import(layout, hooks) is ImportResult.REJECTED
    assert layout.config_file.read_bytes() == before
    assert ATTACKER_RECIPIENT not in installed_recipients(layout)
    assert reason in error_text(layout)
    assert reason in (pending_fault(layout) or "")
    assert hooks.patterns[-1] == FAULT_PROVISIONING


# ------------------------------------------------------------------ the audit's attacks


def test_unsigned_recipients_file_cannot_swap_the_recipients(
        provisioned: DeviceLayout, hooks: Recorder) -> None:
    """H3 repro: `echo $ATT > bodycam-recipients.txt` installed the attacker's key."""
    drop_recipients(provisioned, f"{ATTACKER_RECIPIENT}\n", signed=False)
    assert_refused(provisioned, hooks, "bodycam-recipients.txt has no signature")
    assert "bodycam-provision write --sign-key" in error_text(provisioned)


def test_unsigned_recipients_file_cannot_add_a_reader(provisioned: DeviceLayout,
                                                      hooks: Recorder) -> None:
    drop(provisioned, VALID, signed=False)
    drop_recipients(provisioned, recipients_file(ATTACKER_RECIPIENT), signed=False)
    assert_refused(provisioned, hooks, "has no signature")


def test_unsigned_sabotage_file_is_refused(provisioned: DeviceLayout, hooks: Recorder) -> None:
    """H3 repro: a "valid" file that makes every recording fail as storage full."""
    drop(provisioned, f'[device]\nid="BC-0001"\n[evidence]\nrecipients=["{RECIPIENT}"]\n'
                      "[storage]\nreserve_mb=999999\nnearly_full_mb=1000000\n", signed=False)
    assert_refused(provisioned, hooks, "bodycam.toml has no signature")


def test_unsigned_file_is_refused_on_a_fresh_camera(tmp_path: Path, hooks: Recorder) -> None:
    """Without a pinned key the first file must still be signed: its key gets pinned."""
    fresh = camera_root(tmp_path / "fresh", pinned=False)
    drop(fresh, VALID, signed=False)
    assert run_import(fresh, hooks) is ImportResult.REJECTED
    assert not fresh.config_file.exists()
    assert not (fresh.etc_dir / PINNED_KEY_NAME).exists()


def test_file_signed_with_another_key_is_refused(provisioned: DeviceLayout,
                                                 hooks: Recorder) -> None:
    path = drop_recipients(provisioned, recipients_file(ATTACKER_RECIPIENT), signed=False)
    sign_beside(path, key=ATTACKER)
    assert_refused(provisioned, hooks,
                   f"signed by key {fingerprint(ATTACKER.public_key())}, but this camera "
                   f"trusts only the provisioning key {fingerprint(AGENCY.public_key())}")


def test_signed_recipients_file_cannot_be_renamed_into_a_configuration(
        provisioned: DeviceLayout, hooks: Recorder) -> None:
    """The signed bytes bind the name: a file signed as one thing is not another."""
    path = drop(provisioned, VALID.replace("BC-0042", "BC-0666"), signed=False)
    sign_beside(path, RECIPIENTS_FILE_NAME)
    assert_refused(provisioned, hooks, "the signature is for a file named "
                                       "bodycam-recipients.txt, not bodycam.toml")


def test_file_changed_after_signing_is_refused(provisioned: DeviceLayout,
                                               hooks: Recorder) -> None:
    path = drop_recipients(provisioned, recipients_file(OTHER))
    path.write_text(recipients_file(OTHER, ATTACKER_RECIPIENT), encoding="utf-8")
    assert_refused(provisioned, hooks, "is not the file that was signed")


def test_forged_signature_line_is_refused(provisioned: DeviceLayout, hooks: Recorder) -> None:
    path = drop_recipients(provisioned, recipients_file(ATTACKER_RECIPIENT), signed=False)
    genuine = sign_beside(path).read_text()  # then claim a newer serial without re-signing
    serial = genuine.split("serial: ")[1].split("\n")[0]
    path.with_name(path.name + ".sig").write_text(
        genuine.replace(f"serial: {serial}", f"serial: {int(serial) + 10**9}"))
    assert_refused(provisioned, hooks, "does not verify")


def test_an_old_signed_file_cannot_be_replayed(provisioned: DeviceLayout,
                                               hooks: Recorder) -> None:
    """The agency once signed recipients R1, later replaced them by R2: whoever kept the
    old card's files cannot bring R1 back."""
    old = drop_recipients(provisioned, recipients_file(ATTACKER_RECIPIENT))
    old_files = (old.read_bytes(), old.with_name(old.name + ".sig").read_bytes())
    assert run_import(provisioned, hooks) is ImportResult.INSTALLED
    drop_recipients(provisioned, recipients_file(RECIPIENT))
    assert run_import(provisioned, hooks) is ImportResult.INSTALLED
    old.write_bytes(old_files[0])
    old.with_name(old.name + ".sig").write_bytes(old_files[1])
    assert_refused(provisioned, hooks, "older than the provisioning this camera already "
                                       "accepted")


def test_the_same_signing_may_be_installed_again(provisioned: DeviceLayout,
                                                 hooks: Recorder) -> None:
    path = drop_recipients(provisioned, recipients_file(RECIPIENT))
    kept = (path.read_bytes(), path.with_name(path.name + ".sig").read_bytes())
    assert run_import(provisioned, hooks) is ImportResult.INSTALLED
    path.write_bytes(kept[0])
    path.with_name(path.name + ".sig").write_bytes(kept[1])
    assert run_import(provisioned, hooks) is ImportResult.UNCHANGED


def keep(path: Path) -> tuple[Path, bytes, bytes]:
    """A file on the boot partition and its signature, as someone copying them keeps them."""
    return path, path.read_bytes(), path.with_name(path.name + ".sig").read_bytes()


def put_back(*kept: tuple[Path, bytes, bytes]) -> None:
    for path, data, signature in kept:
        path.write_bytes(data)
        path.with_name(path.name + ".sig").write_bytes(signature)


def test_another_file_signed_with_the_accepted_serial_is_refused(
        provisioned: DeviceLayout, hooks: Recorder) -> None:
    """The agency signed two recipients files with one serial (the default serial is the
    signing time in seconds: two signings in one second). The camera accepted one; the
    other must not replace it, and neither may come back once replaced."""
    serial = next_serial()
    sign_beside(drop_recipients(provisioned, recipients_file(OTHER), signed=False),
                serial=serial)
    assert run_import(provisioned, hooks) is ImportResult.INSTALLED
    sign_beside(drop_recipients(provisioned, recipients_file(ATTACKER_RECIPIENT),
                                signed=False), serial=serial)
    assert_refused(provisioned, hooks, "not one of the files accepted with it")
    assert installed_recipients(provisioned) == [OTHER]


def test_the_files_of_one_signing_are_installed_together_and_again(
        provisioned: DeviceLayout, hooks: Recorder) -> None:
    """`bodycam-provision write` signs bodycam.toml and the recipients file with one
    serial: accepted together, and again together (the files stay on the boot partition
    when a power cut ends the import after the serial was saved). One of them alone would
    change the configuration those two made, so it is refused."""
    serial = next_serial()
    paths = (drop(provisioned, VALID, signed=False),
             drop_recipients(provisioned, recipients_file(OTHER), signed=False))
    for path in paths:
        sign_beside(path, serial=serial)
    config, recipients = (keep(path) for path in paths)
    assert run_import(provisioned, hooks) is ImportResult.INSTALLED
    assert installed_recipients(provisioned) == [RECIPIENT, OTHER]
    before = provisioned.config_file.read_bytes()
    provisioned.config_file.write_bytes(VALID.encode())  # the install a power cut undid
    put_back(config, recipients)
    assert run_import(provisioned, hooks) is ImportResult.INSTALLED
    assert provisioned.config_file.read_bytes() == before
    put_back(config, recipients)
    assert run_import(provisioned, hooks) is ImportResult.UNCHANGED
    put_back(config)
    assert run_import(provisioned, hooks) is ImportResult.REJECTED
    assert "not one of the files accepted with it" in error_text(provisioned)
    assert installed_recipients(provisioned) == [RECIPIENT, OTHER]


def test_a_damaged_record_of_the_accepted_files_closes_provisioning(
        provisioned: DeviceLayout, hooks: Recorder) -> None:
    state = provisioned.etc_dir / STATE_NAME
    record = json.loads(state.read_text())
    assert record["files"] == {BOOT_CONFIG_NAME: hashlib.sha256(VALID.encode()).hexdigest()}
    state.write_text(json.dumps({**record, "files": {BOOT_CONFIG_NAME: "not a hash"}}))
    drop_recipients(provisioned, recipients_file(OTHER))
    assert_refused(provisioned, hooks, "'files' is not a table of file names and SHA-256 "
                                       "hashes; reinstall the image")


def test_file_signed_for_another_camera_is_refused(provisioned: DeviceLayout,
                                                   hooks: Recorder) -> None:
    path = drop_recipients(provisioned, recipients_file(OTHER), signed=False)
    sign_beside(path, device="BC-0043")
    assert_refused(provisioned, hooks, "signed for camera BC-0043, but this camera is BC-0042")
    sign_beside(drop_recipients(provisioned, recipients_file(OTHER), signed=False),
                device="BC-0042")
    assert run_import(provisioned, hooks) is ImportResult.INSTALLED
    assert installed_recipients(provisioned) == [OTHER]


def test_signer_and_serial_are_audited(provisioned: DeviceLayout, hooks: Recorder) -> None:
    details = hooks.last("config.provisioned")
    assert details["signer"] == fingerprint(AGENCY.public_key())
    assert isinstance(details["serial"], int)
    assert details["recipients"] == [RECIPIENT]


# ------------------------------------------------------------------ trust on first use


def test_first_signed_file_pins_its_key(tmp_path: Path, hooks: Recorder) -> None:
    fresh = camera_root(tmp_path / "fresh", pinned=False)
    drop(fresh, VALID)
    assert run_import(fresh, hooks) is ImportResult.INSTALLED
    assert hooks.last("provisioning.key_pinned") == {
        "fingerprint": fingerprint(AGENCY.public_key()), "how": "trust on first use"}
    assert (fresh.etc_dir / PINNED_KEY_NAME).read_bytes() == public_key_file(
        AGENCY.public_key())
    path = drop_recipients(fresh, recipients_file(ATTACKER_RECIPIENT), signed=False)
    sign_beside(path, key=ATTACKER)
    assert run_import(fresh, hooks) is ImportResult.REJECTED
    assert installed_recipients(fresh) == [RECIPIENT]


def test_first_files_signed_by_two_keys_are_refused(tmp_path: Path, hooks: Recorder) -> None:
    fresh = camera_root(tmp_path / "fresh", pinned=False)
    drop(fresh, VALID)
    sign_beside(drop_recipients(fresh, recipients_file(OTHER), signed=False), key=ATTACKER)
    assert run_import(fresh, hooks) is ImportResult.REJECTED
    assert "signed by different keys" in error_text(fresh)


# ------------------------------------------------------------------ key rotation


def drop_new_key(layout: DeviceLayout, key: Ed25519PrivateKey, *,
                 signed_by: Ed25519PrivateKey) -> None:
    path = layout.boot_dir / NEW_KEY_NAME
    path.write_bytes(public_key_file(key.public_key()))
    sign_beside(path, key=signed_by)


def test_rotation_signed_by_the_pinned_key_replaces_it(provisioned: DeviceLayout,
                                                       hooks: Recorder) -> None:
    successor = Ed25519PrivateKey.generate()
    drop_new_key(provisioned, successor, signed_by=AGENCY)
    assert run_import(provisioned, hooks) is ImportResult.KEY_REPLACED
    assert hooks.last("provisioning.key_replaced") == {
        "old": fingerprint(AGENCY.public_key()), "new": fingerprint(successor.public_key())}
    assert list(provisioned.boot_dir.iterdir()) == []
    drop_recipients(provisioned, recipients_file(OTHER))  # the old key no longer counts
    assert run_import(provisioned, hooks) is ImportResult.REJECTED
    sign_beside(drop_recipients(provisioned, recipients_file(OTHER), signed=False),
                key=successor)
    assert run_import(provisioned, hooks) is ImportResult.INSTALLED


def test_rotation_signed_by_the_new_key_itself_is_refused(provisioned: DeviceLayout,
                                                          hooks: Recorder) -> None:
    drop_new_key(provisioned, ATTACKER, signed_by=ATTACKER)
    assert run_import(provisioned, hooks) is ImportResult.REJECTED
    assert (provisioned.etc_dir / PINNED_KEY_NAME).read_bytes() == public_key_file(
        AGENCY.public_key())


def test_rotation_and_files_by_the_new_key_in_one_go(provisioned: DeviceLayout,
                                                     hooks: Recorder) -> None:
    successor = Ed25519PrivateKey.generate()
    drop_new_key(provisioned, successor, signed_by=AGENCY)
    sign_beside(drop_recipients(provisioned, recipients_file(OTHER), signed=False),
                key=successor, serial=next_serial())
    assert run_import(provisioned, hooks) is ImportResult.INSTALLED
    assert installed_recipients(provisioned) == [OTHER]


# ------------------------------------------------------------------ parsing without root


def test_files_are_parsed_by_an_unprivileged_child(provisioned: DeviceLayout,
                                                   hooks: Recorder) -> None:
    """As root (the camera, and CI) the parser runs as nobody; otherwise as the caller,
    who has no privilege to shed."""
    expected = pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else os.getuid()
    assert hooks.last("config.provisioned")["checked_as_uid"] == expected
    assert expected != 0 or os.geteuid() != 0


def test_nothing_is_parsed_before_its_signature_verified(provisioned: DeviceLayout,
                                                         hooks: Recorder) -> None:
    """An unsigned file never reaches a parser, privileged or not."""
    requests: list[CheckRequest] = []

    def checker(request: CheckRequest) -> Verdict:
        requests.append(request)
        return run_checker(request)

    drop(provisioned, "a = " + "[" * 5000 + "]" * 5000 + "\n", signed=False)
    assert import_from_boot(provisioned, Owner.current(), ManualClock(WHEN), hooks.audit,
                            hooks.indicate, checker=checker) is ImportResult.REJECTED
    assert requests == []


def test_root_installs_only_the_signed_bytes(provisioned: DeviceLayout,
                                            hooks: Recorder) -> None:
    """The unprivileged checker's answer is not trusted blindly: for a bodycam.toml it
    must be the very bytes whose signature root verified (here a checker that answers
    with another, valid, configuration)."""
    def checker(request: CheckRequest) -> Verdict:
        verdict = run_checker(request)
        return replace(verdict, data=VALID.replace(RECIPIENT, ATTACKER_RECIPIENT).encode())

    before = provisioned.config_file.read_bytes()
    drop(provisioned, VALID.replace("BC-0042", "BC-0043"))
    assert import_from_boot(provisioned, Owner.current(), ManualClock(WHEN), hooks.audit,
                            hooks.indicate, checker=checker) is ImportResult.REJECTED
    assert provisioned.config_file.read_bytes() == before
    assert "answered with other bytes than the signed bodycam.toml" in error_text(provisioned)


@pytest.mark.parametrize("caller_is_root", [True, False], ids=["as-caller", "non-root"])
def test_the_checker_cannot_be_traced(monkeypatch: pytest.MonkeyPatch,
                                      caller_is_root: bool) -> None:
    """What makes its answer safe to take: no other process of its uid can ptrace the
    child and change the bytes it returns. The kernel also clears the flag when root's
    child changes uid (with fs.suid_dumpable=0); the child does not rely on that, nor on
    being started by root ("non-root": the path without a uid change)."""
    monkeypatch.setattr(provisioning_checker, "check",
                        lambda _request: refused(f"dumpable={is_dumpable()}"))
    if not caller_is_root:
        monkeypatch.setattr(os, "geteuid", lambda: 1000)
    verdict = run_checker(CheckRequest(None, None, None))
    assert [f.text for f in verdict.problems] == ["dumpable=False"]


@pytest.mark.parametrize(("failure", "expected"), [
    (lambda: os._exit(3), "the provisioning check stopped (exit 3"),
    (lambda: 1 / 0, "the provisioning check failed (ZeroDivisionError"),
], ids=["child-exits", "child-raises"])
def test_a_checker_that_fails_is_a_refusal(
        provisioned: DeviceLayout, hooks: Recorder, monkeypatch: pytest.MonkeyPatch,
        failure: Callable[[], object], expected: str) -> None:
    """Whatever happens to the child (a parser bug, a crash), nothing is installed."""
    monkeypatch.setattr(provisioning_checker, "check", lambda _request: failure())
    drop(provisioned, VALID.replace("BC-0042", "BC-0043"))
    assert_refused(provisioned, hooks, expected)


# ------------------------------------------------------------------ valid but useless


SABOTAGE = (f'[device]\nid="BC-0001"\n[evidence]\nrecipients=["{RECIPIENT}"]\n'
            "[storage]\nreserve_mb=999999\nnearly_full_mb=1000000\n")


def test_reserve_larger_than_the_card_is_refused_even_when_signed(
        provisioned: DeviceLayout, hooks: Recorder) -> None:
    """H3 repro `sab.toml`: signed or not, a camera that could never record is refused
    (here the real size of the test machine's disk, far below 999999 MB)."""
    drop(provisioned, SABOTAGE)
    assert_refused(provisioned, hooks, "storage.reserve_mb: got 999999")
    assert "every recording is refused as storage full" in error_text(provisioned)
    assert "the storage-nearly-full alarm would sound from the start" in error_text(provisioned)


@pytest.mark.parametrize(("size_mb", "reserve_mb", "accepted"),
                         [(4096, 512, True), (1024, 512, True), (700, 512, False),
                          (600, 256, True)])
def test_reserve_is_judged_against_the_data_partition(
        layout: DeviceLayout, hooks: Recorder, size_mb: int, reserve_mb: int,
        accepted: bool) -> None:
    """The reserve plus 10 minutes at the configured bitrate (4096 kbit/s: 293 MB) must
    fit; the nearly-full alarm must be below the partition size."""
    measured: list[Path] = []

    def capacity(path: Path) -> int:
        measured.append(path)
        return size_mb * 2**20

    drop(layout, VALID + f"\n[storage]\nreserve_mb = {reserve_mb}\n"
                          f"nearly_full_mb = {reserve_mb + 64}\n")
    result = import_from_boot(layout, Owner.current(), ManualClock(WHEN), hooks.audit,
                              hooks.indicate, capacity=capacity)
    assert result is (ImportResult.INSTALLED if accepted else ImportResult.REJECTED)
    assert measured == [layout.root / "var/lib/bodycam/data"]


def test_entry_point_refuses_unsigned_files(layout: DeviceLayout, hooks: Recorder) -> None:
    user = pwd.getpwuid(Owner.current().service_uid).pw_name
    drop(layout, VALID, signed=False)
    assert main(["--root", str(layout.root), "--user", user], clock=ManualClock(WHEN),
                audit=hooks.audit, indicate=hooks.indicate) == 1
    assert not layout.config_file.exists()
    assert (layout.boot_dir / f"{BOOT_CONFIG_NAME}.rejected").exists()
