"""The agency's export key: a self-made agency CA, an export leaf that signs packages and
C2PA manifests, and a timestamp leaf for the agency's own RFC 3161 timestamp authority.

Why a CA and not one self-signed certificate: C2PA validators refuse a self-signed
signing certificate, and the leaf must carry an extended key usage C2PA accepts
(documentSigning). Why a timestamp leaf: a manifest signed without a trusted timestamp
turns invalid when the signing certificate expires, and evidence lives for years
(see package/tsa.py). Keys are ECDSA P-256 (C2PA's ES256), private files mode 0600,
never replaced: `init` refuses a directory that holds keys already.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bodycam.firmware.evidence.durable import write_new_file
from bodycam.tools.certificates import new_ca

CA_CERT: Final = "agency-ca.pem"
CA_KEY: Final = "agency-ca.key"
EXPORT_CHAIN: Final = "export-chain.pem"
EXPORT_KEY: Final = "export.key"
TSA_CHAIN: Final = "tsa-chain.pem"
TSA_KEY: Final = "tsa.key"
# id-kp-documentSigning (RFC 9336), in C2PA's default list of accepted signer EKUs
DOCUMENT_SIGNING: Final = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


class ExportKeyError(Exception):
    """The export key directory is missing, incomplete or unreadable (names the fix)."""


@dataclass(frozen=True)
class Credential:
    """A private key and its chain, leaf first (PEM, as C2PA's signer takes it)."""

    key: ec.EllipticCurvePrivateKey
    chain: list[x509.Certificate]

    @property
    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


@dataclass(frozen=True)
class ExportKeys:
    ca: x509.Certificate
    export: Credential
    tsa: Credential


def _name(common: str, agency: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, agency),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _ca(agency: str, start: datetime, years: int
        ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    return new_ca(_name(f"{agency} evidence export CA", agency), start,
                  start + timedelta(days=365 * years))


def issue_leaf(ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, common: str,
               usage: x509.ObjectIdentifier, *, start: datetime, end: datetime) -> Credential:
    """A leaf under the agency CA with one extended key usage (critical for the TSA, as
    RFC 3161 demands)."""
    key = ec.generate_private_key(ec.SECP256R1())
    agency = ca.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    cert = (x509.CertificateBuilder().subject_name(_name(common, str(agency)))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]),
                           critical=usage == ExtendedKeyUsageOID.TIME_STAMPING)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return Credential(key, [cert, ca])


def create(directory: Path, agency: str, *, export_days: int = 730, ca_years: int = 20,
           now: datetime | None = None) -> ExportKeys:
    """Make the CA, the export leaf and the timestamp leaf in `directory` (created 0700)."""
    start = (now or datetime.now(UTC)) - timedelta(minutes=5)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    existing = [n for n in (CA_KEY, EXPORT_KEY, TSA_KEY) if (directory / n).exists()]
    if existing:
        raise ExportKeyError(f"{directory} holds export keys already ({', '.join(existing)}); "
                             "init never replaces a key: choose an empty directory")
    ca_key, ca = _ca(agency, start, ca_years)
    export = issue_leaf(ca_key, ca, f"{agency} evidence export", DOCUMENT_SIGNING,
                        start=start, end=start + timedelta(days=export_days))
    tsa = issue_leaf(ca_key, ca, f"{agency} timestamp authority",
                     ExtendedKeyUsageOID.TIME_STAMPING,
                     start=start, end=start + timedelta(days=365 * ca_years))
    save_credential(directory, EXPORT_CHAIN, EXPORT_KEY, export)
    save_credential(directory, TSA_CHAIN, TSA_KEY, tsa)
    write_new_file(directory / CA_KEY, Credential(ca_key, [ca]).key_pem, 0o600)
    write_new_file(directory / CA_CERT, ca.public_bytes(serialization.Encoding.PEM), 0o644)
    return ExportKeys(ca, export, tsa)


def renew_export(directory: Path, *, export_days: int = 730,
                 now: datetime | None = None) -> Credential:
    """A new export leaf from the CA key (c2pa refuses to sign with an expired one); the
    old key and chain move to retired/ (0700), never deleted."""
    try:
        ca_key = serialization.load_pem_private_key((directory / CA_KEY).read_bytes(), None)
        ca = x509.load_pem_x509_certificate((directory / CA_CERT).read_bytes())
    except (OSError, ValueError) as exc:
        raise ExportKeyError(f"cannot read the agency CA in {directory} ({exc}); renewing "
                             f"needs {CA_KEY} and {CA_CERT}: bring the CA key from where "
                             "it is kept offline") from None
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ExportKeyError(f"{directory / CA_KEY} is not an ECDSA P-256 key")
    old = load_credential(directory, EXPORT_CHAIN, EXPORT_KEY)
    start = (now or datetime.now(UTC)) - timedelta(minutes=5)
    name = old.chain[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    new = issue_leaf(ca_key, ca, str(name), DOCUMENT_SIGNING, start=start,
                     end=start + timedelta(days=export_days))
    retired = directory / "retired"
    retired.mkdir(mode=0o700, exist_ok=True)
    serial = f"{old.chain[0].serial_number:x}"
    (directory / EXPORT_KEY).rename(retired / f"export-{serial}.key")
    (directory / EXPORT_CHAIN).rename(retired / f"export-chain-{serial}.pem")
    save_credential(directory, EXPORT_CHAIN, EXPORT_KEY, new)
    return new


def save_credential(directory: Path, chain_name: str, key_name: str,
                    credential: Credential) -> None:
    write_new_file(directory / key_name, credential.key_pem, 0o600)
    write_new_file(directory / chain_name, credential.chain_pem, 0o644)


def load_credential(directory: Path, chain_name: str, key_name: str) -> Credential:
    try:
        chain = x509.load_pem_x509_certificates((directory / chain_name).read_bytes())
        key = serialization.load_pem_private_key((directory / key_name).read_bytes(), None)
    except (OSError, ValueError) as exc:
        raise ExportKeyError(f"cannot read {directory / chain_name} / {key_name}: {exc}; "
                             "make the keys with `bodycam-evidence export-key init --out "
                             f"{directory}`") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ExportKeyError(f"{directory / key_name} is not an ECDSA P-256 key")
    return Credential(key, chain)


def load(directory: Path) -> ExportKeys:
    export = load_credential(directory, EXPORT_CHAIN, EXPORT_KEY)
    tsa = load_credential(directory, TSA_CHAIN, TSA_KEY)
    return ExportKeys(export.chain[-1], export, tsa)
