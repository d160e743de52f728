"""The server's TLS certificate: a self-made CA, or the agency's own certificate.

Cameras pin a CA (`server_ca`), not the certificate, so the certificate can be renewed
under the same CA without touching a camera. `init` makes a CA and a certificate for the
URL's host, or takes the operator's certificate, key and CA after checking that they
belong together and that the certificate names the host and chains to the CA (as the
camera will check it). Only TLS 1.3 is served.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bodycam.firmware.evidence.durable import write_new_file
from bodycam.tools.certificates import new_ca

__all__ = ["CA_FILE", "CERT_FILE", "KEY_FILE", "TlsError", "adopt_certificate", "ca_pem",
           "make_certificate", "server_ssl_context"]

CA_FILE: Final = "tls-ca.pem"
CA_KEY_FILE: Final = "tls-ca-key.pem"
CERT_FILE: Final = "tls-cert.pem"
KEY_FILE: Final = "tls-key.pem"
_CA_YEARS: Final = 30
_CERT_YEARS: Final = 10
_HANDSHAKE_ROUNDS: Final = 8


class TlsError(ValueError):
    """A certificate, key or CA that cannot serve; the message names the fix."""


@dataclass(frozen=True)
class _Files:
    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / CA_FILE

    @property
    def cert(self) -> Path:
        return self.directory / CERT_FILE

    @property
    def key(self) -> Path:
        return self.directory / KEY_FILE


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_certificate(directory: Path, host: str) -> None:
    """A new CA (kept beside it, to renew the certificate later) and a certificate for
    `host` under it. FileExistsError if any of the files exists."""
    now = datetime.datetime.now(datetime.UTC)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                            f"bodycam evidence server CA ({host})")])
    ca_key, ca = new_ca(ca_name, now - datetime.timedelta(days=1),
                        now + datetime.timedelta(days=365 * _CA_YEARS))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365 * _CERT_YEARS))
            .add_extension(x509.SubjectAlternativeName([_san(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    files = _Files(directory)
    write_new_file(directory / CA_KEY_FILE, _pem_key(ca_key), 0o600)
    write_new_file(files.key, _pem_key(key), 0o600)
    write_new_file(files.ca, ca.public_bytes(serialization.Encoding.PEM), 0o644)
    write_new_file(files.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _load_certificates(path: Path, what: str) -> list[x509.Certificate]:
    try:
        certificates = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise TlsError(f"{what} {path} cannot be read as PEM certificates: {exc}") from None
    return certificates


def _handshake(server_context: ssl.SSLContext, ca_file: Path, host: str) -> None:
    """A TLS 1.3 handshake in memory, the camera's side pinning `ca_file` for `host`:
    exactly the check the camera will make (Python's ssl on both ends)."""
    client_context = ssl.create_default_context(cafile=str(ca_file))
    client_context.minimum_version = ssl.TLSVersion.TLSv1_3
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    from_server, from_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = client_context.wrap_bio(to_client, from_client, server_hostname=host)
    server = server_context.wrap_bio(to_server, from_server, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(_HANDSHAKE_ROUNDS):
        for name, side in (("client", client), ("server", server)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        to_server.write(from_client.read())
        to_client.write(from_server.read())
        if all(done.values()):
            return
    raise ssl.SSLError("the handshake did not finish")


def adopt_certificate(directory: Path, host: str, cert_file: Path, key_file: Path,
                      ca_file: Path) -> None:
    """Take the agency's own certificate (with its chain), key and CA, after a handshake
    that checks them as a camera pinning `ca_file` for `host` will."""
    _load_certificates(ca_file, "--tls-ca")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f"--tls-cert {cert_file} and --tls-key {key_file} cannot be used "
                       f"together ({exc}); the key must be the certificate's, unencrypted "
                       "PEM") from None
    try:
        _handshake(context, ca_file, host)
    except ssl.SSLError as exc:
        raise TlsError(f"{cert_file} does not serve {host} under the CA {ca_file} as a "
                       f"camera will check it: {exc}. Fix: a certificate whose subject "
                       "alternative names include the URL's host, issued under that CA, "
                       "with the intermediate certificates after it in the file") from None
    files = _Files(directory)
    write_new_file(files.key, key_file.read_bytes(), 0o600)
    write_new_file(files.cert, cert_file.read_bytes(), 0o644)
    write_new_file(files.ca, ca_file.read_bytes(), 0o644)


def server_ssl_context(directory: Path) -> ssl.SSLContext:
    """TLS 1.3 only, with the server's certificate and key."""
    files = _Files(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    try:
        context.load_cert_chain(files.cert, files.key)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f"the TLS certificate {files.cert} or key {files.key} cannot be "
                       f"loaded: {exc}. Fix: restore them from the backup") from None
    return context


def ca_pem(directory: Path) -> str:
    return _Files(directory).ca.read_text(encoding="ascii")
