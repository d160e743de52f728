"""The agency's own RFC 3161 timestamp authority (TSA), for C2PA's `ta_url`.

Why: without a trusted timestamp a C2PA manifest turns invalid when the export
certificate expires, and evidence outlives certificates. This machine (and an air-gapped
custodian workstation) reaches no public TSA, so the agency runs its own: a small
responder that signs RFC 3161 time-stamp tokens with the timestamp leaf of the export key
directory (keys.py). What it proves is the agency's clock at signing time, no more: where
a public or qualified TSA is reachable, pass its URL instead (`--tsa-url`); the package
and `verify` work the same (the TSA's root must then be given to `verify` as trusted).

Built on asn1crypto's CMS/TSP structures and pyca/cryptography's ECDSA; serves HTTP POST
`application/timestamp-query` on loopback only (the package command starts it for the
duration of one export when no URL is given).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bodycam.tools.custody.package.keys import Credential

# the agency's time-stamp policy: a UUID arc (2.25), no registration needed
POLICY: Final = "2.25.160933514376186238391337786419263532301"
MAX_QUERY: Final = 16 * 1024
_HASHES: Final = {"sha256": 32, "sha384": 48, "sha512": 64}


class Refusal(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """A TimeStampResp without a token (asn1crypto's own class requires one)."""

    _fields = [("status", tsp.PKIStatusInfo)]  # noqa: RUF012 - asn1crypto declares so


def _refusal(text: str) -> bytes:
    refusal: bytes = Refusal({"status": {"status": "rejection",
                                         "status_string": [text]}}).dump()
    return refusal


def respond(query: bytes, credential: Credential, now: datetime) -> bytes:
    """One DER TimeStampResp for one DER TimeStampReq (a refusal says why)."""
    try:
        request = tsp.TimeStampReq.load(query)
        imprint = request["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        digest = imprint["hashed_message"].native
    except (ValueError, TypeError, KeyError):
        return _refusal("not a DER TimeStampReq")
    if _HASHES.get(algorithm) != len(digest):
        return _refusal(f"unsupported or malformed message imprint ({algorithm})")
    token = _token(request, credential, now)
    granted: bytes = tsp.TimeStampResp({"status": {"status": "granted"},
                                        "time_stamp_token": token}).dump()
    return granted


def _token(request: tsp.TimeStampReq, credential: Credential, now: datetime) -> cms.ContentInfo:
    info: dict[str, Any] = {
        "version": "v1", "policy": POLICY, "message_imprint": request["message_imprint"],
        "serial_number": secrets.randbits(120), "gen_time": now.astimezone(UTC),
        "accuracy": {"seconds": 1}, "ordering": False}
    if request["nonce"].native is not None:
        info["nonce"] = request["nonce"].native
    tst = tsp.TSTInfo(info)
    leaf = asn1_x509.Certificate.load(
        credential.chain[0].public_bytes(serialization.Encoding.DER))
    attributes = cms.CMSAttributes([
        {"type": "content_type", "values": ["tst_info"]},
        {"type": "signing_time", "values": [cms.Time({"utc_time": now.astimezone(UTC)})]},
        {"type": "message_digest", "values": [hashlib.sha256(tst.dump()).digest()]},
        {"type": "signing_certificate_v2", "values": [{"certs": [{
            "hash_algorithm": {"algorithm": "sha256"},
            "cert_hash": hashlib.sha256(leaf.dump()).digest()}]}]},
    ])
    signature = credential.key.sign(attributes.dump(), ec.ECDSA(hashes.SHA256()))
    signer = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
            "issuer": leaf.issuer, "serial_number": leaf.serial_number}}),
        "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
        "signed_attrs": attributes,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
        "signature": signature})
    certificates = ([asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
                     for c in credential.chain] if request["cert_req"].native else [])
    signed = cms.SignedData({
        "version": "v3", "digest_algorithms": [{"algorithm": "sha256"}],
        "encap_content_info": {"content_type": "tst_info",
                               "content": core.ParsableOctetString(tst.dump())},
        "certificates": certificates or None, "signer_infos": [signer]})
    return cms.ContentInfo({"content_type": "signed_data", "content": signed})


class TimestampServer:
    """The responder on 127.0.0.1 (an ephemeral port unless one is given), in a thread."""

    def __init__(self, credential: Credential, *, port: int = 0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.issued = 0

        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 < length <= MAX_QUERY:
                    self.send_error(413, "a time-stamp query is at most 16 KiB")
                    return
                answer = respond(self.rfile.read(length), credential, clock())
                outer.issued += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the package's report records what was stamped

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def __enter__(self) -> TimestampServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
