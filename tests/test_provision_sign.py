"""The agency's side of signed provisioning: keygen, sign, check, write, rotate; and the
signature file format as docs/formats.md gives it to third parties."""

from __future__ import annotations

import base64
import hashlib
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from signed_provisioning import AGENCY, sign_beside, write_key_files
from test_provision_check import OTHER, VALID, write_case

from bodycam.firmware.device.provisioning_signature import (
    SignatureFormatError,
    fingerprint,
    load_private_key,
    parse_public_key_file,
    parse_signature,
    sign,
)
from bodycam.tools.provision.cli import main

AGENCY_FP = fingerprint(AGENCY.public_key())


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    directory = tmp_path / "keys"
    directory.mkdir()
    return write_key_files(directory)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    source = tmp_path / "src"
    source.mkdir()
    return write_case(source, VALID)


# ------------------------------------------------------------------ the format


def test_a_third_party_can_make_a_signature_from_the_documented_recipe() -> None:
    """docs/formats.md: six lines, each ending in LF, signed with Ed25519; the seventh
    line carries the signature. Built here without the project's signing code."""
    data = VALID.encode()
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    message = ("bodycam-provisioning-signature v1\n"
               "file: bodycam.toml\n"
               f"sha256: {hashlib.sha256(data).hexdigest()}\n"
               "serial: 20250304050607\n"
               "device: *\n"
               f"key: {base64.b64encode(raw).decode()}\n").encode()
    signature_file = message + b"signature: " + base64.b64encode(key.sign(message)) + b"\n"
    parsed = parse_signature(signature_file.replace(b"\n", b"\r\n"))  # Notepad-safe
    assert parsed.problem("bodycam.toml", data) is None
    assert (parsed.serial, parsed.device) == (20250304050607, "*")
    assert parsed.render() == signature_file


@pytest.mark.parametrize(("mangle", "expected"), [
    (lambda t: t.replace("v1", "v2"), "line 1 must be"),
    (lambda t: t.replace("serial: ", "serial:  "), "line 4 must be 'serial: '"),
    (lambda t: t.replace("device: *", "device: ../x"), "line 5 must be 'device: '"),
    (lambda t: t + "extra\n", "8 lines"),
    (lambda t: t.replace("sha256: ", "sha256: A"), "line 3"),
], ids=["version", "spacing", "device", "extra-line", "hex"])
def test_malformed_signature_names_the_line(mangle: Callable[[str], str],
                                            expected: str) -> None:
    text = sign(AGENCY, "bodycam.toml", b"x", 1).render().decode()
    with pytest.raises(SignatureFormatError, match=expected):
        parse_signature(mangle(text).encode())


# ------------------------------------------------------------------ keygen


def test_keygen_makes_a_private_key_nobody_else_reads_and_prints_the_public_half(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    private = tmp_path / "agency.key"
    assert main(["keygen", "-o", str(private)]) == 0
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = load_private_key(private)
    public = parse_public_key_file(private.with_name("agency.key.pub").read_bytes())
    assert fingerprint(public) == fingerprint(key.public_key())
    out = capsys.readouterr().out
    assert fingerprint(public) in out
    assert base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode() in out
    assert "/etc/bodycam/provisioning-key.pub" in out


def test_keygen_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    private = tmp_path / "agency.key"
    private.write_text("precious")
    assert main(["keygen", "-o", str(private)]) == 1
    assert private.read_text() == "precious"
    assert not private.with_name("agency.key.pub").exists()
    assert "never overwritten" in capsys.readouterr().err


# ------------------------------------------------------------------ sign and check


def test_sign_then_check_names_the_signer(keys: tuple[Path, Path], config_file: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    private, public = keys
    assert main(["sign", "--key", str(private), "--serial", "7", str(config_file)]) == 0
    sig = parse_signature(config_file.with_name("bodycam.toml.sig").read_bytes())
    assert (sig.file, sig.serial, sig.device, sig.signer) == ("bodycam.toml", 7, "*", AGENCY_FP)
    capsys.readouterr()
    assert main(["check", "--trusted-key", str(public), str(config_file)]) == 0
    assert f"signed as bodycam.toml by key {AGENCY_FP} (serial 7, for any camera)" in (
        capsys.readouterr().out)


def test_sign_binds_the_camera_name_of_a_differently_named_file(
        keys: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    authority = tmp_path / "authority.txt"
    authority.write_text(f"{OTHER}\n")
    assert main(["sign", "--key", str(keys[0]), str(authority)]) == 1
    assert "--as" in capsys.readouterr().err
    assert main(["sign", "--key", str(keys[0]), "--as", "bodycam-recipients.txt",
                 str(authority)]) == 0
    sig = parse_signature(authority.with_name("authority.txt.sig").read_bytes())
    assert sig.file == "bodycam-recipients.txt"


def test_sign_refuses_an_invalid_file(keys: tuple[Path, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_case(tmp_path, VALID + "\n[video]\nfps = 500\n")
    assert main(["sign", "--key", str(keys[0]), str(bad)]) == 1
    assert not bad.with_name("bodycam.toml.sig").exists()
    assert "video.fps" in capsys.readouterr().err


def test_check_refuses_a_file_changed_after_signing(config_file: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    sign_beside(config_file)
    config_file.write_text(VALID.replace("BC-0042", "BC-0043"))
    assert main(["check", str(config_file)]) == 1
    assert "is not the file that was signed" in capsys.readouterr().err


def test_check_with_trusted_key_refuses_other_and_missing_signatures(
        keys: tuple[Path, Path], config_file: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(config_file)]) == 0  # unsigned: a note while editing
    assert "NOTE" in capsys.readouterr().err
    assert main(["check", "--trusted-key", str(keys[1]), str(config_file)]) == 1
    sign_beside(config_file, key=Ed25519PrivateKey.generate())
    assert main(["check", "--trusted-key", str(keys[1]), str(config_file)]) == 1
    assert f"not by the trusted key {AGENCY_FP}" in capsys.readouterr().err


# ------------------------------------------------------------------ write and rotate


@pytest.fixture
def boot(tmp_path: Path) -> Path:
    folder = tmp_path / "bootfs"
    folder.mkdir()
    (folder / "config.txt").write_text("")
    return folder


def test_write_refuses_unsigned_files(boot: Path, config_file: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["write", str(config_file), str(boot)]) == 1
    assert sorted(p.name for p in boot.iterdir()) == ["config.txt"]
    assert "--sign-key" in capsys.readouterr().err


def test_write_takes_signatures_made_earlier_along(boot: Path, config_file: Path,
                                                   tmp_path: Path) -> None:
    authority = tmp_path / "authority.txt"
    authority.write_text(f"{OTHER}\n")
    sign_beside(config_file)
    sign_beside(authority, "bodycam-recipients.txt")
    assert main(["write", "--recipients", str(authority), str(config_file), str(boot)]) == 0
    assert (boot / "bodycam-recipients.txt").read_bytes() == authority.read_bytes()
    assert parse_signature((boot / "bodycam-recipients.txt.sig").read_bytes()).problem(
        "bodycam-recipients.txt", authority.read_bytes()) is None


def test_write_signs_for_one_camera(keys: tuple[Path, Path], boot: Path,
                                    config_file: Path) -> None:
    assert main(["write", "--sign-key", str(keys[0]), "--device", "BC-0042",
                 str(config_file), str(boot)]) == 0
    assert parse_signature((boot / "bodycam.toml.sig").read_bytes()).device == "BC-0042"


def test_rotate_writes_the_new_key_signed_by_the_old(keys: tuple[Path, Path], boot: Path,
                                                     tmp_path: Path) -> None:
    new_private = tmp_path / "new.key"
    assert main(["keygen", "-o", str(new_private)]) == 0
    new_public = new_private.with_name("new.key.pub")
    assert main(["rotate", "--key", str(keys[0]), "--new-key", str(new_public),
                 str(boot)]) == 0
    assert (boot / "bodycam-provisioning-key.pub").read_bytes() == new_public.read_bytes()
    sig = parse_signature((boot / "bodycam-provisioning-key.pub.sig").read_bytes())
    assert sig.signer == AGENCY_FP and sig.file == "bodycam-provisioning-key.pub"


def test_the_documented_example_is_what_the_recipe_gives() -> None:
    """docs/formats.md shows a signature made with a key anyone can rebuild: Ed25519 is
    deterministic, so the recipe must give exactly those bytes, and they must verify."""
    doc = (Path(__file__).resolve().parent.parent / "docs/formats.md").read_text()
    section = doc.split("## Provisioning signatures")[1]
    start = section.index("    bodycam-provisioning-signature v1")
    lines = section[start:].split("\n")[:7]
    example = "".join(line.removeprefix("    ") + "\n" for line in lines).encode()
    key = Ed25519PrivateKey.from_private_bytes(
        hashlib.sha256(b"bodycam docs example key").digest())
    data = b'[device]\nid = "BC-0042"\n'
    assert sign(key, "bodycam.toml", data, 20250304050607).render() == example
    assert parse_signature(example).problem("bodycam.toml", data) is None
