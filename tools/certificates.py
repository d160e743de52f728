"""A certificate authority of our own (P-256, SHA-256): the evidence server's TLS CA and
the agency's export CA are both one, made the same way, so both get the same
constraints (a CA that signs certificates and CRLs only, no intermediate below it)."""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["new_ca"]


def new_ca(name: x509.Name, not_before: datetime, not_after: datetime
           ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new key and its self-signed CA certificate for `name`."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert
