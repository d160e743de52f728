"""RFC 9421 request signatures (firmware/offload/signature.py) with real session keys.

Each refusal the protocol names (docs/offload-protocol.md, Request signatures) is made
for real: an altered request, a stale or future `created`, a replayed nonce, an
unenrolled device, a certificate from another device key. One test rebuilds the
signature base from the RFC's rules by hand, so the document stays true for a third
party who writes their own camera or server.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from test_evidence_support import new_session

from bodycam.firmware.evidence.public_keys import DevicePublicKey
from bodycam.firmware.evidence.session_key import SessionKey
from bodycam.firmware.offload.signature import (
    MAX_SKEW_S,
    NONCE_WINDOW_S,
    MemoryNonceStore,
    RequestView,
    SignatureError,
    SignedRequest,
    sign_request,
    verify_request,
)
from bodycam.hal.clocks import ManualClock
from bodycam.hal.tpm.store import TpmKeyStore
from bodycam.tools.dev.swtpm import SwTpm

URL = "https://evidence.example:8443/api/v1/offload/recordings/r1/manifest"
NOW = 1_796_000_000.0
DEVICE = "BC-0042"


@pytest.fixture
def camera() -> SessionKey:
    return new_session()


def check(camera: SessionKey, headers: Mapping[str, str], *, method: str = "PUT",
          url: str = URL, body: bytes | None = b"manifest", now: float = NOW,
          nonces: MemoryNonceStore | None = None, streamed: bool = False,
          enrolled: tuple[DevicePublicKey, ...] | None = None) -> SignedRequest:
    keys = (camera.device_key,) if enrolled is None else enrolled
    return verify_request(RequestView(method, url, headers.items()),
                          enrolled=lambda device: keys if device == DEVICE else (),
                          nonces=nonces or MemoryNonceStore(), now=now, body=body,
                          streamed=streamed)


def refused(status: int, call: object, *args: object, **kwargs: object) -> str:
    assert callable(call)
    with pytest.raises(SignatureError) as caught:
        call(*args, **kwargs)
    assert caught.value.status == status, caught.value
    return str(caught.value)


def test_a_signed_request_verifies_and_names_its_signer(camera: SessionKey) -> None:
    headers = sign_request(camera, DEVICE, "PUT", URL, body=b"manifest", now=NOW)
    signed = check(camera, headers)
    assert signed.device_id == DEVICE
    assert signed.device_key == camera.device_key
    assert signed.session_key.b64 == camera.public_key_b64
    assert signed.created == int(NOW)
    assert signed.content_sha256 == hashlib.sha256(b"manifest").digest()


def test_the_headers_are_those_the_protocol_document_shows(camera: SessionKey) -> None:
    headers = sign_request(camera, DEVICE, "PUT", URL, body=b"manifest", now=NOW)
    assert headers["Bodycam-Device"] == DEVICE
    assert json.loads(base64.b64decode(headers["Bodycam-Signer"])) == camera.certificate
    assert headers["Content-Digest"] == (
        "sha-256=:" + base64.b64encode(hashlib.sha256(b"manifest").digest()).decode() + ":")
    assert headers["Signature-Input"].startswith(
        'bodycam=("@method" "@target-uri" "bodycam-device" "bodycam-signer" '
        '"content-digest");created=1796000000;')
    assert f'keyid="{camera.public_key_b64}"' in headers["Signature-Input"]
    assert 'alg="ed25519"' in headers["Signature-Input"]
    assert re.search(r';nonce="[0-9a-f]{32}"', headers["Signature-Input"])


def test_the_signature_base_is_rfc_9421_as_documented(camera: SessionKey) -> None:
    """A third party building the base from the RFC's rules gets what was signed."""
    headers = sign_request(camera, DEVICE, "PUT", URL, body=b"manifest", now=NOW)
    params = headers["Signature-Input"].removeprefix("bodycam=")
    base = "\n".join([
        '"@method": PUT',
        f'"@target-uri": {URL}',
        f'"bodycam-device": {DEVICE}',
        f'"bodycam-signer": {headers["Bodycam-Signer"]}',
        f'"content-digest": {headers["Content-Digest"]}',
        f'"@signature-params": {params}',
    ]).encode()
    signature = base64.b64decode(headers["Signature"].removeprefix("bodycam=:").rstrip(":"))
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(camera.public_key_b64))
    key.verify(signature, base)  # raises InvalidSignature if the base differs


def test_a_request_without_a_body_covers_no_digest(camera: SessionKey) -> None:
    url = URL.replace("/recordings/r1/manifest", "/audit")
    headers = sign_request(camera, DEVICE, "GET", url, now=NOW)
    assert "Content-Digest" not in headers
    assert "content-digest" not in headers["Signature-Input"]
    assert check(camera, headers, method="GET", url=url, body=None).content_sha256 is None


def test_a_streamed_body_is_signed_by_its_hash_and_handed_back(camera: SessionKey) -> None:
    chunk = b"\x00segment bytes" * 1000
    headers = sign_request(camera, DEVICE, "PATCH", URL, now=NOW,
                           body_sha256=hashlib.sha256(chunk).digest())
    signed = check(camera, headers, method="PATCH", body=None, streamed=True)
    assert signed.content_sha256 == hashlib.sha256(chunk).digest()


def test_a_body_the_server_expects_must_be_covered(camera: SessionKey) -> None:
    headers = sign_request(camera, DEVICE, "PATCH", URL, now=NOW)  # no body signed
    message = refused(401, check, camera, headers, method="PATCH", body=None, streamed=True)
    assert "content-digest" in message


@pytest.mark.parametrize("change", ["method", "url", "device"])
def test_an_altered_request_is_refused(camera: SessionKey, change: str) -> None:
    headers = sign_request(camera, DEVICE, "PUT", URL, body=b"manifest", now=NOW)
    method, url = "PUT", URL
    if change == "method":
        method = "POST"
    elif change == "url":
        url = URL.replace("/r1/", "/r2/")
    else:  # another enrolled device's id, same key: the id is covered too
        headers["Bodycam-Device"] = "BC-0043"
    keys = (camera.device_key,)
    with pytest.raises(SignatureError) as caught:
        verify_request(RequestView(method, url, headers.items()), enrolled=lambda _d: keys,
                       nonces=MemoryNonceStore(), now=NOW, body=b"manifest")
    assert caught.value.status == 401
    assert "signature" in str(caught.value)


def test_a_body_that_does_not_match_its_digest_is_refused(camera: SessionKey) -> None:
    headers = sign_request(camera, DEVICE, "PUT", URL, body=b"manifest", now=NOW)
    message = refused(400, check, camera, headers, body=b"manifest, altered")
    assert "Content-Digest" in message


def test_a_replaced_digest_breaks_the_signature(camera: SessionKey) -> None:
    headers = sign_request(camera, DEVICE, "PUT", URL, body=b"manifest", now=NOW)
    other = base64.b64encode(hashlib.sha256(b"forged").digest()).decode()
    headers["Content-Digest"] = f"sha-256=:{other}:"
    refused(401, check, camera, headers, body=b"forged")


@pytest.mark.parametrize("offset", [MAX_SKEW_S + 1, -(MAX_SKEW_S + 1)])
def test_created_outside_300_s_is_refused(camera: SessionKey, offset: int) -> None:
    headers = sign_request(camera, DEVICE, "PUT", URL, body=b"manifest", now=NOW + offset)
    assert "server's time first" in refused(401, check, camera, headers)
    inside = sign_request(camera, DEVICE, "PUT", URL, body=b"manifest",
                          now=NOW + offset - (1 if offset > 0 else -1))
    check(camera, inside)


def test_a_replayed_request_is_refused(camera: SessionKey) -> None:
    nonces = MemoryNonceStore()
    headers = sign_request(camera, DEVICE, "PUT", URL, body=b"manifest", now=NOW)
    check(camera, headers, nonces=nonces)
    assert "replay" in refused(401, check, camera, headers, nonces=nonces, now=NOW + 10)


def test_a_nonce_is_kept_for_the_whole_window() -> None:
    nonces = MemoryNonceStore()
    assert nonces.remember("k", "n", NOW + NONCE_WINDOW_S)
    assert not nonces.remember("k", "n", NOW + NONCE_WINDOW_S - 1)
    assert nonces.remember("other key", "n", NOW + NONCE_WINDOW_S)
    assert nonces.remember("k", "n", NOW + 2 * NONCE_WINDOW_S + 1)  # long expired


def test_a_forged_request_does_not_use_up_the_nonce(camera: SessionKey) -> None:
    nonces = MemoryNonceStore()
    headers = sign_request(camera, DEVICE, "PUT", URL, body=b"manifest", now=NOW)
    forged = dict(headers, **{"Bodycam-Device": "BC-0043"})
    with pytest.raises(SignatureError):
        verify_request(RequestView("PUT", URL, forged.items()),
                       enrolled=lambda _d: (camera.device_key,), nonces=nonces, now=NOW,
                       body=b"manifest")
    check(camera, headers, nonces=nonces)


def test_an_unenrolled_device_gets_403_naming_the_fix(camera: SessionKey) -> None:
    headers = sign_request(camera, DEVICE, "PUT", URL, body=b"manifest", now=NOW)
    message = refused(403, check, camera, headers, enrolled=())
    assert camera.device_key.fingerprint in message
    assert "device enrol" in message


def test_a_device_key_not_enrolled_for_that_device_gets_403(camera: SessionKey) -> None:
    """Another camera's genuine key cannot speak for BC-0042."""
    other = new_session()
    headers = sign_request(other, DEVICE, "PUT", URL, body=b"manifest", now=NOW)
    refused(403, check, camera, headers)


def test_a_certificate_not_signed_by_the_key_it_names_is_refused(camera: SessionKey) -> None:
    """A thief's own session key with a certificate claiming the enrolled device key."""
    thief = new_session()
    forged = dict(thief.certificate, device_key=camera.device_key.b64)
    headers = sign_request(thief, DEVICE, "PUT", URL, body=b"manifest", now=NOW)
    headers["Bodycam-Signer"] = base64.b64encode(json.dumps(forged).encode()).decode()
    assert "certificate" in refused(401, check, camera, headers)


def test_a_signature_by_another_session_key_is_refused(camera: SessionKey) -> None:
    """The enrolled camera's certificate, but the request signed by someone else."""
    thief = new_session()
    headers = sign_request(thief, DEVICE, "PUT", URL, body=b"manifest", now=NOW)
    headers["Bodycam-Signer"] = base64.b64encode(
        json.dumps(dict(camera.certificate)).encode()).decode()
    refused(401, check, camera, headers)


@pytest.mark.parametrize("drop", ["Signature", "Signature-Input", "Bodycam-Signer",
                                  "Bodycam-Device"])
def test_a_missing_header_is_refused_by_name(camera: SessionKey, drop: str) -> None:
    headers = sign_request(camera, DEVICE, "PUT", URL, body=b"manifest", now=NOW)
    del headers[drop]
    refused(401, check, camera, headers)


@pytest.mark.parametrize("signer", ["not base64!", base64.b64encode(b"[1, 2]").decode(),
                                    base64.b64encode(b"{").decode()])
def test_a_malformed_certificate_is_refused(camera: SessionKey, signer: str) -> None:
    headers = sign_request(camera, DEVICE, "PUT", URL, body=b"manifest", now=NOW)
    headers["Bodycam-Signer"] = signer
    refused(401, check, camera, headers)


@pytest.fixture
def tpm_camera(tmp_path: Path) -> Iterator[SessionKey]:
    with SwTpm(tmp_path / "tpm") as tpm:
        store = TpmKeyStore.create(tpm.tcti)
        try:
            yield SessionKey(store, ManualClock())
        finally:
            store.close()


def test_a_camera_with_a_tpm_device_key_signs_and_verifies(tpm_camera: SessionKey) -> None:
    """The ECDSA P-256 device key certifies the session key; requests are still Ed25519."""
    assert tpm_camera.device_key.algorithm == "ecdsa-p256"
    headers = sign_request(tpm_camera, DEVICE, "PUT", URL, body=b"manifest", now=NOW)
    signed = check(tpm_camera, headers)
    assert signed.device_key == tpm_camera.device_key
    assert signed.counter is not None
