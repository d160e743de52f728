"""Setting a server up and running it: init (own CA or the agency's certificate),
enrolment of both key algorithms, serve's systemd readiness and clean SIGTERM, TLS 1.3
only, the schema check, and migrations that match the models."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import socket
import ssl
import tomllib
from pathlib import Path

import pytest
from alembic import command
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from offload_client import OffloadClient
from server_fixtures import Backend, Camera, Server, make_backend, make_server
from server_rig import ServeProcess, run_server

from bodycam.firmware.device.identity import identity_text
from bodycam.firmware.evidence.public_keys import DevicePublicKey
from bodycam.server.access.service import Access
from bodycam.server.context import ServerContext
from bodycam.server.database.engine import Database, sqlalchemy_url
from bodycam.server.database.migrate import _config, upgrade
from bodycam.server.settings import SettingsError
from bodycam.tools.dev.ports import free_port


def test_init_writes_the_cameras_pin_and_never_overwrites(tmp_path: Path) -> None:
    server = make_server(tmp_path, Backend("sqlite"))
    table = tomllib.loads((server.data_dir / "camera-offload.toml").read_text())["offload"]
    assert table["server_url"] == server.url
    assert table["bandwidth_kbps"] == 0
    assert len(base64.b64decode(table["server_key"])) == 32
    (ca,) = x509.load_pem_x509_certificates(table["server_ca"].encode())
    cert = x509.load_pem_x509_certificate((server.data_dir / "identity" / "tls-cert.pem")
                                          .read_bytes())
    assert cert.issuer == ca.subject
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    key = (server.data_dir / "identity" / "signing-key.pem").read_bytes()
    assert oct((server.data_dir / "identity" / "signing-key.pem").stat().st_mode)[-3:] == "600"

    again = run_server("init", "--data-dir", str(server.data_dir), "--url", server.url,
                       check=False)
    assert again.returncode == 1
    assert "never replaces its keys" in again.stderr
    assert (server.data_dir / "identity" / "signing-key.pem").read_bytes() == key


def test_a_relative_data_dir_works_for_every_command(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An administrator in /srv types `--data-dir evidence`: init, enrol and recordings
    all work on it (the blob folder and database paths are made absolute)."""
    monkeypatch.chdir(tmp_path)
    run_server("init", "--data-dir", "server", "--url", f"https://127.0.0.1:{free_port()}")
    listed = run_server("recordings", "--data-dir", "server", "--json")
    assert listed.stdout.strip() == "[]"
    assert (tmp_path / "server" / "camera-offload.toml").is_file()


def _agency_pki(directory: Path, host: str) -> tuple[Path, Path, Path]:
    """The agency's own CA and a certificate for `host` under it."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Agency Root CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = (directory / "cert.pem", directory / "key.pem", directory / "ca.pem")
    paths[0].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    paths[2].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return paths


def test_the_agency_own_certificate_serves_and_is_checked_first(
        tmp_path: Path, camera: Camera) -> None:
    cert, key, ca = _agency_pki(tmp_path, "127.0.0.1")
    port = free_port()
    wrong = run_server("init", "--data-dir", str(tmp_path / "wrong"), "--url",
                       f"https://10.0.0.1:{port}", "--tls-cert", str(cert), "--tls-key",
                       str(key), "--tls-ca", str(ca), check=False)
    assert wrong.returncode == 1 and "does not serve 10.0.0.1" in wrong.stderr
    assert not (tmp_path / "wrong" / "server.toml").exists()

    data = tmp_path / "server"
    run_server("init", "--data-dir", str(data), "--url", f"https://127.0.0.1:{port}",
               "--tls-cert", str(cert), "--tls-key", str(key), "--tls-ca", str(ca))
    table = tomllib.loads((data / "camera-offload.toml").read_text())["offload"]
    assert table["server_ca"].strip() == ca.read_text().strip()
    server = Server(data, Backend("sqlite"), port=port)
    server.enrol(camera)
    server.serve()
    try:
        client = OffloadClient(server.url, ca, camera.key, camera.device_id)
        assert client.audit_head().status_code == 200
    finally:
        server.stop()


def test_enrol_takes_what_the_camera_prints_for_both_key_algorithms(
        tmp_path: Path) -> None:
    server = make_server(tmp_path, Backend("sqlite"))
    tpm_point = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    tpm_key = DevicePublicKey("ecdsa-p256", tpm_point)
    identity = tmp_path / "BODYCAM-IDENTITY.txt"
    identity.write_text(identity_text("BC-0042", "tpm", tpm_key), newline="")
    code, out, _ = server.run("device", "enrol", str(identity))
    assert code == 0 and "enrolled device BC-0042" in out and tpm_key.fingerprint in out
    code, out, _ = server.run("device", "enrol", str(identity))
    assert code == 0 and "already enrolled" in out

    printed = tmp_path / "identity.txt"  # `bodycam identity` output, another camera
    soft = DevicePublicKey.from_raw(bytes(range(32)))
    printed.write_text(f"device id:   BC-0043\nunit:        \nkey store:   software "
                       f"(ed25519)\npublic key:  {soft.b64}\nfingerprint: {soft.fingerprint}\n")
    assert server.run("device", "enrol", str(printed))[0] == 0

    stolen = tmp_path / "stolen.txt"  # BC-0043's key claimed for another device
    stolen.write_text(printed.read_text().replace("BC-0043", "BC-0099"))
    code, _, err = server.run("device", "enrol", str(stolen), check=False)
    assert code == 1 and "already enrolled for device BC-0043" in err

    typo = tmp_path / "typo.txt"
    typo.write_text(printed.read_text().replace(soft.fingerprint, "0" * 16))
    code, _, err = server.run("device", "enrol", str(typo), check=False)
    assert code == 1 and "fingerprint" in err and "fresh copy" in err

    bare = tmp_path / "bare.txt"
    bare.write_text(soft.b64 + "\n")
    code, _, err = server.run("device", "enrol", str(bare), check=False)
    assert code == 1 and "--device-id" in err
    assert server.run("device", "enrol", str(bare), "--device-id", "BC-0043")[0] == 0

    # every enrolment is in the server's audit trail, with the key it pinned; the refused
    # one (a key of another camera) changed nothing and added nothing
    context = ServerContext.open(server.data_dir)
    try:
        done = [json.loads(e.details) for e in
                Access.of(context).audit.events("device_enrolled")]
    finally:
        context.close()
    assert [(d["device"], d["key"], d["new_device"], d["new_key"]) for d in done] == [
        ("BC-0042", tpm_key.fingerprint, True, True),
        ("BC-0042", tpm_key.fingerprint, False, False),
        ("BC-0043", soft.fingerprint, True, True),
        ("BC-0043", soft.fingerprint, False, False)]


def test_serve_is_ready_then_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    server = make_server(tmp_path, Backend("sqlite"))
    process = server.serve()
    assert any("READY=1" in notice.split("\n") for notice in process.notices)
    assert process.terminate() == 0
    assert any("STOPPING=1" in notice.split("\n") for notice in process.notices)


def test_only_tls_1_3_is_served(tmp_path: Path) -> None:
    server = make_server(tmp_path, Backend("sqlite"))
    server.serve()
    try:
        old = ssl.create_default_context(cafile=str(server.ca))
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, \
                pytest.raises(ssl.SSLError):
            old.wrap_socket(raw, server_hostname="127.0.0.1")
        new = ssl.create_default_context(cafile=str(server.ca))
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw, \
                new.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() == "TLSv1.3"
    finally:
        server.stop()


def test_serve_refuses_a_database_without_the_schema(tmp_path: Path) -> None:
    server = make_server(tmp_path, Backend("sqlite"))
    (server.data_dir / "server.db").unlink()
    process = ServeProcess(server.data_dir, server.port, {})
    with pytest.raises(AssertionError, match="no server schema"):
        process.start()
    process.stop()


@pytest.mark.parametrize("name", ["sqlite", "postgresql"])
def test_the_migrations_build_exactly_the_models_schema(
        name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    backend = make_backend(name, request)
    url = backend.init_args[1] if backend.init_args else f"sqlite:///{tmp_path / 'm.db'}"
    database = Database(url)
    try:
        upgrade(database)
        command.check(_config(database))  # raises if a model differs from the migrations
    finally:
        database.dispose()


def test_a_malformed_database_url_is_refused_without_echoing_its_password() -> None:
    """The error reaches the journal: the value (which may hold a password) stays out."""
    with pytest.raises(SettingsError) as refused:
        sqlalchemy_url("user:s3cret-pass@db.example/evidence")
    assert "not a database URL" in str(refused.value)
    assert "s3cret" not in str(refused.value)
