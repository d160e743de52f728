"""An RFC 3161 time-stamp token over the package index (`index.tsr`), and its check.

Why: the index signature says who signed, the token says when, from the timestamp
authority rather than from the signer's own clock; `verify` then requires the export
certificate to have been valid at that time, so a package signed with an expired (or
stolen, expired) export key cannot be passed off as made earlier. With the agency's own
TSA (tsa.py) the time is the agency's clock; with `--tsa-url` a public TSA's.
"""

from __future__ import annotations

import hashlib
import secrets
import urllib.error
import urllib.request
from datetime import datetime
from typing import Final

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from bodycam.tools.custody.package.index import TOKEN

_TIMEOUT_S: Final = 60


class TimestampError(Exception):
    """The authority could not be reached or refused (names the URL and the fix)."""


def request_token(url: str, data: bytes) -> bytes:
    """The DER time-stamp token (ContentInfo) for SHA-256 of `data`, from `url`."""
    nonce = secrets.randbits(63)
    query = tsp.TimeStampReq({
        "version": "v1", "nonce": nonce, "cert_req": True,
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                            "hashed_message": hashlib.sha256(data).digest()}}).dump()
    ask = urllib.request.Request(url, data=query, method="POST",
                                 headers={"Content-Type": "application/timestamp-query"})
    try:
        with urllib.request.urlopen(ask, timeout=_TIMEOUT_S) as answer:
            reply = answer.read()
        response = tsp.TimeStampResp.load(reply)
        status = response["status"]["status"].native
        token = response["time_stamp_token"]
    except (OSError, urllib.error.URLError, ValueError, KeyError) as exc:
        raise TimestampError(f"the timestamp authority {url} gave no token ({exc}); "
                              "check --tsa-url, or leave it out to use the agency's own"
                              ) from None
    if status not in ("granted", "granted_with_mods"):
        raise TimestampError(f"the timestamp authority {url} refused: {status}")
    info = token["content"]["encap_content_info"]["content"].parsed
    if info["nonce"].native != nonce:
        raise TimestampError(f"the timestamp authority {url} answered another request")
    der: bytes = token.dump()
    return der


def _form(content: cms.ContentInfo, signer: cms.SignerInfo,
          certificates: list[x509.Certificate], ca: x509.Certificate) -> list[str]:
    """The token's unsigned parts, held to the one form an RFC 3161 ECDSA token has:
    bytes outside the signature could otherwise change unnoticed."""
    signed = content["content"]
    expected = {
        "content type": (content["content_type"].native, "signed_data"),
        "version": (signed["version"].native, "v3"),
        "digest algorithms": ([d["algorithm"].native for d in signed["digest_algorithms"]],
                              ["sha256"]),
        "content": (signed["encap_content_info"]["content_type"].native, "tst_info"),
        "signers": (len(signed["signer_infos"]), 1),
        "signer version": (signer["version"].native, "v1"),
        "digest": (signer["digest_algorithm"]["algorithm"].native, "sha256"),
        "signature algorithm": (signer["signature_algorithm"]["algorithm"].native,
                                "sha256_ecdsa"),
        "unsigned attributes": (signer["unsigned_attrs"].native, None),
        "encoding": (content.dump(force=True) == content.dump(), True),
    }
    problems = [f"{TOKEN}: unexpected {what} ({found!r})"
                for what, (found, wanted) in expected.items() if found != wanted]
    for certificate in certificates:
        if certificate == ca:
            continue
        try:
            certificate.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            problems.append(f"{TOKEN}: holds a certificate the agency CA did not issue")
    return problems


def check_token(token: bytes, data: bytes, ca: x509.Certificate
                ) -> tuple[datetime | None, list[str]]:
    """(the time it vouches for, problems): the token must cover SHA-256 of `data` and be
    signed by a timeStamping certificate the agency CA issued."""
    try:
        content = cms.ContentInfo.load(token)
        signed = content["content"]
        encap = signed["encap_content_info"]["content"]
        info = encap.parsed
        signer = signed["signer_infos"][0]
        imprint = info["message_imprint"]
        when: datetime = info["gen_time"].native
        attributes = {a["type"].native: a["values"][0].native
                      for a in signer["signed_attrs"]}
        signed_bytes = b"\x31" + signer["signed_attrs"].dump()[1:]  # as a SET (RFC 5652)
        sid = signer["sid"].chosen
        certificates = [x509.load_der_x509_certificate(c.chosen.dump())
                        for c in signed["certificates"]]
        problems = _form(content, signer, certificates, ca)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError,
            x509.InvalidVersion) as exc:
        return None, [f"{TOKEN}: not a time-stamp token ({exc})"]
    if (imprint["hash_algorithm"]["algorithm"].native != "sha256"
            or imprint["hashed_message"].native != hashlib.sha256(data).digest()):
        problems.append(f"{TOKEN}: stamps another index (the index was changed)")
    if attributes.get("message_digest") != hashlib.sha256(encap.contents).digest():
        problems.append(f"{TOKEN}: its signed attributes do not match its content")
    leaf = next((c for c in certificates if c.serial_number == sid["serial_number"].native
                 and c.issuer.public_bytes() == sid["issuer"].dump()), None)
    if leaf is None:
        return when, [*problems, f"{TOKEN}: the authority's certificate is not in it"]
    signing_certificate = attributes.get("signing_certificate_v2") or {}
    if [c.get("cert_hash") for c in signing_certificate.get("certs", [])] != [
            hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).digest()]:
        problems.append(f"{TOKEN}: its signed attributes name another certificate")
    try:
        leaf.verify_directly_issued_by(ca)
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.TIME_STAMPING not in usages:
            problems.append(f"{TOKEN}: signed by a certificate that is not a TSA's")
        public = leaf.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise TypeError("not an ECDSA key")
        public.verify(signer["signature"].native, signed_bytes, ec.ECDSA(hashes.SHA256()))
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound) as exc:
        problems.append(f"{TOKEN}: the authority's signature does not verify under the "
                        f"agency CA ({exc or type(exc).__name__})")
    if not leaf.not_valid_before_utc <= when <= leaf.not_valid_after_utc:
        problems.append(f"{TOKEN}: stamped outside the authority certificate's validity")
    return when, problems
