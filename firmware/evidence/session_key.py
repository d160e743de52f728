"""Per-boot session keys: the long-term device key signs once per boot, not per line.

A TPM signature takes milliseconds to tens of milliseconds, far too slow for the
recording path, and a long-term key should be used as rarely as possible anyway. So at
each start the program makes an Ed25519 key that lives only in RAM and has the device
key (software file or TPM) sign a certificate for it. The session key signs every log
line of that boot; the first line it writes to a log carries the certificate in its
``signer`` field, so every log verifies on its own against the device key.

The certificate also carries the key store's monotonic counter (TPM only), taken at
boot; each seal takes the next value. Counter values in a log the card holder cut back
or rewound leave a gap the verifier reports (see verify.py).

Whoever holds the card can neither read the session key (RAM only) nor make a new
certificate unless the device key itself can be copied: the software store's can, a
TPM's cannot (docs/threat-model.md).
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Mapping
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bodycam.firmware.evidence.public_keys import DevicePublicKey
from bodycam.firmware.evidence.signed_log import canonical_json, utc_iso
from bodycam.hal.interfaces import Clock
from bodycam.hal.keystore import ALGORITHMS, KeyStore

__all__ = [
    "CERTIFICATE_CONTEXT",
    "SessionKey",
    "check_certificate",
]

# Prefixed to what the device key signs, so a certificate signature can never be taken
# for (or made from) a signature over a log line.
CERTIFICATE_CONTEXT: Final = b"bodycam-session-certificate/1\n"
_CERT_FIELDS: Final = frozenset({"key", "alg", "device_key", "device_key_alg", "key_store",
                                 "counter", "issued", "cert_sig"})


class SessionKey:
    """The signer every SignedLog of one boot uses; thread-safe."""

    def __init__(self, store: KeyStore, clock: Clock) -> None:
        """Makes the session key and has `store` certify it (one device-key signature and
        one counter increment, both possibly slow on a TPM: call at boot, not per line)."""
        self._store = store
        self._store_lock = threading.Lock()
        self._private = Ed25519PrivateKey.generate()
        self._public_b64 = base64.b64encode(
            self._private.public_key().public_bytes_raw()).decode("ascii")
        self.device_key = DevicePublicKey(store.algorithm, store.public_key_bytes())
        with self._store_lock:
            self.counter = store.next_counter()
        body: dict[str, Any] = {
            "key": self._public_b64, "alg": "ed25519",
            "device_key": self.device_key.b64, "device_key_alg": store.algorithm,
            "key_store": store.kind, "counter": self.counter, "issued": utc_iso(clock.wall()),
        }
        with self._store_lock:
            signature = store.sign(CERTIFICATE_CONTEXT + canonical_json(body))
        body["cert_sig"] = base64.b64encode(signature).decode("ascii")
        self._certificate = body

    @property
    def public_key_b64(self) -> str:
        return self._public_b64

    @property
    def certificate(self) -> Mapping[str, Any]:
        return self._certificate

    @property
    def key_store_kind(self) -> str:
        return self._store.kind

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)

    def next_counter(self) -> int | None:
        """The key store's next monotonic counter value (None without a hardware counter);
        taken by every seal so that removing a seal leaves a gap."""
        with self._store_lock:
            return self._store.next_counter()

    def __repr__(self) -> str:
        return f"SessionKey(device={self.device_key.fingerprint}, counter={self.counter})"



def check_certificate(cert: object) -> tuple[DevicePublicKey, DevicePublicKey, int | None]:
    """(device key, session key, counter) of a ``signer`` certificate whose signature
    verifies under the device key it names; ValueError says what is wrong.

    Whether that device key is the right one (pinned, or the log's) is the caller's
    question: this only proves the device key certified the session key.
    """
    if not isinstance(cert, dict) or set(cert) != _CERT_FIELDS:
        raise ValueError("the signer certificate does not have exactly the fields "
                         f"{', '.join(sorted(_CERT_FIELDS))}")
    if cert["alg"] != "ed25519" or cert["device_key_alg"] not in ALGORITHMS:
        raise ValueError(f"unknown signature algorithm {cert['alg']!r} / "
                         f"{cert['device_key_alg']!r}")
    counter = cert["counter"]
    if not (counter is None or (type(counter) is int and counter >= 0)):
        raise ValueError(f"counter {counter!r} is not a whole number")
    try:
        device = DevicePublicKey.from_raw(base64.b64decode(str(cert["device_key"]),
                                                           validate=True))
        session = DevicePublicKey.from_raw(base64.b64decode(str(cert["key"]), validate=True))
        signature = base64.b64decode(str(cert["cert_sig"]), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"a key or signature in the certificate is not valid: {exc}") from None
    if device.algorithm != cert["device_key_alg"] or session.algorithm != "ed25519":
        raise ValueError("a key's length does not match its algorithm")
    body = {k: v for k, v in cert.items() if k != "cert_sig"}
    if not device.verify(signature, CERTIFICATE_CONTEXT + canonical_json(body)):
        raise ValueError(f"the certificate's signature does not verify under the device key "
                         f"it names ({device.fingerprint})")
    return device, session, counter
