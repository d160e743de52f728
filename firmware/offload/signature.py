"""RFC 9421 request signatures of the offload protocol: the camera signs, the server checks.

Why signatures and not passwords or mTLS: the camera already has a key only it holds (the
device key, in a TPM where there is one) and certifies a per-boot session key with it
(session_key.py). Signing every request with that session key lets the server pin the
device key it enrolled, with no secret on the card. docs/offload-protocol.md "Request
signatures" is the contract; the signature base is built by the `http-message-signatures`
library, not by hand.

Camera (the whole API it needs)::

    headers = sign_request(session_key, "BC-0042", "PUT", url, body=manifest, now=time())
    # PATCH streamed from a file: body_sha256=<SHA-256 of exactly the bytes sent>

Server::

    signed = verify_request(RequestView(method, url, header_pairs),
                            enrolled=keys_of_device, nonces=replay_store, now=time(),
                            body=whole_body)          # or streamed=True, then compare
    signed.device_id, signed.device_key, signed.content_sha256  # with signed.content_sha256

`url` is the absolute URL the camera sent to (`@target-uri`): the server rebuilds it from
its own configured URL, so a proxy in front changes nothing. `verify_request` raises
SignatureError, whose `status` (401, 403 or 400) and `code` go straight into the refusal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException

from bodycam.firmware.evidence.public_keys import DevicePublicKey
from bodycam.firmware.evidence.session_key import check_certificate
from bodycam.firmware.evidence.signed_log import Signer, canonical_json

__all__ = [
    "DEVICE_HEADER",
    "MAX_SKEW_S",
    "NONCE_WINDOW_S",
    "SIGNER_HEADER",
    "MemoryNonceStore",
    "NonceStore",
    "RequestView",
    "SignatureError",
    "SignedRequest",
    "sign_request",
    "verify_request",
]

LABEL: Final = "bodycam"
DEVICE_HEADER: Final = "Bodycam-Device"
SIGNER_HEADER: Final = "Bodycam-Signer"
MAX_SKEW_S: Final = 300
NONCE_WINDOW_S: Final = 600
_BASE_COMPONENTS: Final = ("@method", "@target-uri", "bodycam-device", "bodycam-signer")
_DIGEST: Final = "content-digest"
_NONCE: Final = re.compile(r"[0-9a-f]{32}")
_DEVICE_ID: Final = re.compile(r"[A-Za-z0-9-]{1,32}")  # device.id in the config schema
_MAX_SIGNER: Final = 4096


class SignatureError(ValueError):
    """A request the server must refuse; `status` and `code` are the HTTP answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class NonceStore(Protocol):
    """Nonces seen per session key. Shared by every server process (the server keeps it
    in its database), so a request replayed to another process is still refused."""

    def remember(self, session_key: str, nonce: str, expires: float) -> bool:
        """True if (session_key, nonce) is new, and keep it until `expires` (Unix time);
        False if it was seen and has not expired (a replay)."""


@dataclass
class MemoryNonceStore:
    """A NonceStore for one process (tests, a single-process tool)."""

    _seen: dict[tuple[str, str], float] = field(default_factory=dict)

    def remember(self, session_key: str, nonce: str, expires: float) -> bool:
        now = expires - NONCE_WINDOW_S
        self._seen = {k: v for k, v in self._seen.items() if v > now}
        if (session_key, nonce) in self._seen:
            return False
        self._seen[session_key, nonce] = expires
        return True


class _Headers:
    """Header lines in order, as the library reads and writes them."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._pairs = list(pairs)

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name for name, _ in self._pairs))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(n.lower() == name.lower() for n, _ in self._pairs)

    def __setitem__(self, name: str, value: str) -> None:
        self._pairs.append((name, value))

    def __delitem__(self, name: str) -> None:
        self._pairs = [(n, v) for n, v in self._pairs if n.lower() != name.lower()]

    def get(self, name: str) -> str | None:
        values = [v for n, v in self._pairs if n.lower() == name.lower()]
        return values[0] if len(values) == 1 else None


@dataclass(frozen=True)
class RequestView:
    """What the verifier reads of a request: method, absolute URL, header lines."""

    method: str
    url: str
    header_pairs: tuple[tuple[str, str], ...]

    def __init__(self, method: str, url: str, header_pairs: Iterable[tuple[str, str]]) -> None:
        object.__setattr__(self, "method", method.upper())
        object.__setattr__(self, "url", url)
        object.__setattr__(self, "header_pairs", tuple(header_pairs))


@dataclass
class _Message:
    method: str
    url: str
    headers: _Headers


@dataclass(frozen=True)
class SignedRequest:
    """Who signed a verified request, and the body digest the signature covers."""

    device_id: str
    device_key: DevicePublicKey
    session_key: DevicePublicKey
    counter: int | None
    created: int
    content_sha256: bytes | None


def _digest_header(sha256: bytes) -> str:
    return f"sha-256=:{base64.b64encode(sha256).decode('ascii')}:"


def sign_request(signer: Signer, device_id: str, method: str, url: str, *,
                 now: float, body: bytes | None = None,
                 body_sha256: bytes | None = None) -> dict[str, str]:
    """The headers that sign this request as `device_id` by the session key `signer`.

    Pass the body (or, for a body streamed from a file, the SHA-256 of exactly the bytes
    that will be sent) when there is one; `now` is Unix time by the server's clock as
    the camera knows it (take the server's time first)."""
    if body is not None:
        if body_sha256 is not None:
            raise ValueError("pass body or body_sha256, not both")
        body_sha256 = hashlib.sha256(body).digest()
    message = _Message(method.upper(), url, _Headers([
        (DEVICE_HEADER, device_id),
        (SIGNER_HEADER, base64.b64encode(canonical_json(signer.certificate)).decode("ascii")),
    ]))
    components = list(_BASE_COMPONENTS)
    if body_sha256 is not None:
        message.headers[_DIGEST.title()] = _digest_header(body_sha256)
        components.append(_DIGEST)
    handler = HTTPMessageSigner(signature_algorithm=algorithms.ED25519)
    prepared = handler.prepare(
        message, key_id=signer.public_key_b64, label=LABEL, nonce=secrets.token_hex(16),
        created=datetime.fromtimestamp(int(now), UTC), covered_component_ids=components,
        use_existing_digest=body_sha256 is not None)
    handler.apply(message, prepared, signer.sign(prepared.signature_base))
    return dict(message.headers.items())


class _SessionKeyResolver(HTTPSignatureKeyResolver):
    def __init__(self, key: DevicePublicKey) -> None:
        self._key = key

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self._key.raw)

    def resolve_private_key(self, key_id: str) -> Any:
        raise NotImplementedError("the server never signs requests")


class _ClockedVerifier(HTTPMessageVerifier):
    """The library's verifier with the protocol's window on `created` and our clock."""

    def __init__(self, key: DevicePublicKey, now: float) -> None:
        super().__init__(signature_algorithm=algorithms.ED25519,
                         key_resolver=_SessionKeyResolver(key))
        self._now = now

    def validate_created_and_expires(self, sig_input: Any, max_age: Any = None) -> None:
        created = sig_input.params.get("created")
        if type(created) is not int:
            raise InvalidSignature('the signature has no whole-second "created" parameter')
        if abs(created - self._now) > MAX_SKEW_S:
            raise InvalidSignature(
                f"created {datetime.fromtimestamp(created, UTC).isoformat()} is more than "
                f"{MAX_SKEW_S} s from the server's clock "
                f"{datetime.fromtimestamp(self._now, UTC).isoformat()}; take the server's "
                "time first (GET /api/v1/offload/time)")


def _unauthorised(message: str) -> SignatureError:
    return SignatureError(401, "unauthorised", message)


def _certificate(headers: _Headers) -> tuple[str, dict[str, Any]]:
    device_id = headers.get(DEVICE_HEADER)
    signer = headers.get(SIGNER_HEADER)
    if device_id is None or signer is None or headers.get("Signature") is None:
        raise _unauthorised(f"the request is not signed: it needs one {DEVICE_HEADER}, "
                            f"{SIGNER_HEADER}, Signature-Input and Signature header "
                            "(docs/offload-protocol.md, Request signatures)")
    if not _DEVICE_ID.fullmatch(device_id):
        raise _unauthorised(f"{DEVICE_HEADER} {device_id[:40]!r} is not a device id "
                            "(1 to 32 letters, digits or '-')")
    try:
        if len(signer) > _MAX_SIGNER:
            raise ValueError("too long")
        cert = json.loads(base64.b64decode(signer, validate=True))
    except (binascii.Error, ValueError, RecursionError):
        raise _unauthorised(f"{SIGNER_HEADER} is not the base64 of a JSON session "
                            "certificate") from None
    return device_id, cert


def verify_request(request: RequestView, *,
                   enrolled: Callable[[str], Collection[DevicePublicKey]],
                   nonces: NonceStore, now: float, body: bytes | None = None,
                   streamed: bool = False) -> SignedRequest:
    """Who signed `request`, or SignatureError saying why it must be refused.

    `enrolled(device_id)` gives the device keys pinned for that device (empty when the
    device is unknown). Pass the whole `body` when there is one, or `streamed=True` when
    the caller reads the body afterwards and compares it with `content_sha256` itself.
    The nonce is remembered only once the signature verified, so forged requests cannot
    use up a camera's nonces."""
    headers = _Headers(request.header_pairs)
    device_id, cert = _certificate(headers)
    try:
        device_key, session_key, counter = check_certificate(cert)
    except ValueError as exc:
        raise _unauthorised(f"the session certificate is not valid: {exc}") from None
    if device_key not in enrolled(device_id):
        raise SignatureError(
            403, "not_enrolled",
            f"device {device_id} with key {device_key.fingerprint} is not enrolled on this "
            "server; fix: the administrator runs `bodycam-server device enrol` with the "
            "camera's BODYCAM-IDENTITY.txt")
    has_body = body is not None or streamed
    required = (*_BASE_COMPONENTS, _DIGEST) if has_body else _BASE_COMPONENTS
    verifier = _ClockedVerifier(session_key, now)
    try:
        results = verifier.verify(_Message(request.method, request.url, headers),
                                  require_components=required, max_age=None)
    except (InvalidSignature, HTTPMessageSignaturesException) as exc:
        raise _unauthorised(f"the request signature is refused: {exc}") from None
    if len(results) != 1 or results[0].label != LABEL:
        raise _unauthorised(f"expected exactly one signature labelled {LABEL!r}")
    params = results[0].parameters
    nonce = params.get("nonce")
    if params.get("keyid") != session_key.b64:
        raise _unauthorised("the signature's keyid is not the certified session key")
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        raise _unauthorised('the signature needs a nonce of 32 lowercase hex digits')
    sha256 = _signed_sha256(results[0].covered_components, body) if has_body else None
    if not nonces.remember(session_key.b64, nonce, now + NONCE_WINDOW_S):
        raise _unauthorised(f"nonce {nonce} was already used by this session key (replay); "
                            "every request needs a fresh nonce")
    return SignedRequest(device_id, device_key, session_key, counter,
                         int(params["created"]), sha256)


def _signed_sha256(covered: Mapping[str, str], body: bytes | None) -> bytes:
    value = covered.get(f'"{_DIGEST}"', "")
    match = re.fullmatch(r"sha-256=:([A-Za-z0-9+/=]{44}):", value)
    if match is None:
        raise _unauthorised("Content-Digest must be exactly one sha-256 member")
    sha256 = base64.b64decode(match.group(1))
    if body is not None and hashlib.sha256(body).digest() != sha256:
        raise SignatureError(400, "digest_mismatch",
                             "the body does not match its signed Content-Digest (cut short or "
                             "altered on the way); nothing was kept: send it again")
    return sha256
