"""TpmKeyStore: the device key inside a TPM 2.0, and the TPM's monotonic counter.

`create` (first boot only) and `open` (every start) are separate on purpose: an open that
made a missing key would hide a cleared or swapped TPM, which must instead surface as a
rekey the audit log records. See bodycam.hal.tpm for the design.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from tpm2_pytss import (
    ESAPI,
    ESYS_TR,
    TPM2_ALG,
    TPM2_CAP,
    TPM2_PT,
    TPM2_PT_FIRMWARE,
    TPM2_PT_VENDOR,
    TPM2_RH,
    TPM2_ST,
    TPM2B_SENSITIVE_CREATE,
    TPMT_SIG_SCHEME,
    TPMT_TK_HASHCHECK,
)

from bodycam.hal.keystore import KeyMissingError, KeyStore, KeyStoreError, SignatureAlgorithm
from bodycam.hal.tpm.errors import DEFAULT_TCTI, check_tcti, translated
from bodycam.hal.tpm.objects import (
    COUNTER_INDEX,
    COUNTER_SIZE,
    DEFINE_COUNTER,
    KEY_HANDLE,
    check_counter,
    check_key,
    counter_public,
    key_template,
    public_point,
    srk_template,
)

_VENDOR_STRINGS: Final = (TPM2_PT_VENDOR.STRING_1, TPM2_PT_VENDOR.STRING_2,
                          TPM2_PT_VENDOR.STRING_3, TPM2_PT_VENDOR.STRING_4)


class TpmKeyMissingError(KeyMissingError):
    """The TPM answers but holds no bodycam key: never created here, or the TPM was
    cleared or replaced. Only the camera program reacts, by creating one (a recorded
    rekey with an alarm)."""


@dataclass(frozen=True)
class TpmInfo:
    """Who made the TPM and which firmware it runs, for the self-test and reports."""

    manufacturer: str
    vendor: str
    firmware: str

    def __str__(self) -> str:
        return " ".join(f"{self.manufacturer} {self.vendor} firmware {self.firmware}".split())


def _connect(tcti: str) -> ESAPI:
    check_tcti(tcti)
    with translated(tcti, "connecting"):
        return ESAPI(tcti)


def _present(esapi: ESAPI, handle: int) -> bool:
    """Whether a persistent object or NV index exists, asked without provoking an error
    (a failed ReadPublic would fill the journal with the TSS's own error lines)."""
    _more, data = esapi.get_capability(TPM2_CAP.HANDLES, handle, 1)
    handles = list(data.data.handles)
    return bool(handles) and int(handles[0]) == handle


def _text(*values: int) -> str:
    """TPM property words as text: 4 ASCII bytes each, NUL- or space-padded."""
    raw = b"".join(value.to_bytes(4, "big") for value in values).replace(b"\0", b" ")
    return " ".join(raw.decode("ascii", "replace").split())


class TpmKeyStore(KeyStore):
    """ECDSA P-256 device key at KEY_HANDLE and the NV counter at COUNTER_INDEX."""

    kind = "tpm"
    algorithm: SignatureAlgorithm = "ecdsa-p256"

    def __init__(self, esapi: ESAPI, tcti: str) -> None:
        """Use `open` or `create`; this only wraps a connection whose objects were checked."""
        self._esapi = esapi
        self._tcti = tcti
        self._lock = threading.Lock()  # one ESAPI context serves one command at a time
        where = "opening the device key"
        with translated(tcti, where):
            if not _present(esapi, KEY_HANDLE):
                raise TpmKeyMissingError(
                    f"TPM {tcti}: no bodycam device key at {KEY_HANDLE:#010x}: it was never "
                    "created in this TPM, or the TPM was cleared or replaced (the old key is "
                    "gone for good). Fix: if this camera had a key, this is a rekey: the "
                    "camera program creates a new one at its start, which the audit log "
                    "records, and give the new public key to the evidence "
                    "custodian")
            self._key = esapi.tr_from_tpmpublic(KEY_HANDLE)
            public, _name, _qualified = esapi.read_public(self._key)
            check_key(public, f"TPM {tcti}")
            self._public_bytes = public_point(public)
            if not _present(esapi, COUNTER_INDEX):
                raise KeyStoreError(
                    f"TPM {tcti}: the monotonic counter {COUNTER_INDEX:#010x} is gone but "
                    "the key is there: someone with the owner authorization deleted it. "
                    f"Fix: define it again with `{DEFINE_COUNTER}` (a new counter starts above "
                    "every value this TPM's counters ever had, so it still never goes back) "
                    "and report the deletion")
            self._counter = esapi.tr_from_tpmpublic(COUNTER_INDEX)
            counter, _name = esapi.nv_read_public(self._counter)
            check_counter(counter, f"TPM {tcti}")
        self._verifier = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), self._public_bytes)

    @classmethod
    def open(cls, tcti: str = DEFAULT_TCTI) -> TpmKeyStore:
        """The key made at the camera's first start; TpmKeyMissingError when there is
        none (never creates)."""
        esapi = _connect(tcti)
        try:
            return cls(esapi, tcti)
        except BaseException:
            esapi.close()
            raise

    @classmethod
    def create(cls, tcti: str = DEFAULT_TCTI) -> TpmKeyStore:
        """Make the key inside the TPM (first boot only). Refuses when a key exists: a
        second key would silently replace the identity the custodian registered.

        The counter is defined first, so that a power cut half-way leaves a counter
        without a key (which the next create completes), never a key without a counter.
        An existing counter is kept: its value must never go back.
        """
        esapi = _connect(tcti)
        try:
            with translated(tcti, "creating the device key"):
                if _present(esapi, KEY_HANDLE):
                    raise KeyStoreError(
                        f"TPM {tcti}: a device key already exists at {KEY_HANDLE:#010x}; "
                        "creating another would replace the camera's registered identity. "
                        "Fix: open the existing key; to replace it on purpose, remove it "
                        f"with `tpm2_evictcontrol -C o -c {KEY_HANDLE:#010x}` first")
                if _present(esapi, COUNTER_INDEX):
                    counter, _name = esapi.nv_read_public(esapi.tr_from_tpmpublic(COUNTER_INDEX))
                    check_counter(counter, f"TPM {tcti}")
                else:
                    esapi.nv_define_space(b"", counter_public(), ESYS_TR.OWNER)
                _make_key(esapi)
            return cls(esapi, tcti)
        except BaseException:
            esapi.close()
            raise

    def public_key_bytes(self) -> bytes:
        return self._public_bytes

    def sign(self, message: bytes) -> bytes:
        """DER ECDSA over SHA-256(message), made by the TPM and checked before it is
        returned: a damaged signature would make a whole log unverifiable."""
        digest = hashlib.sha256(message).digest()
        null_ticket = TPMT_TK_HASHCHECK(tag=TPM2_ST.HASHCHECK, hierarchy=TPM2_RH.NULL)
        with self._lock, translated(self._tcti, "signing"):
            signature = self._esapi.sign(self._key, digest,
                                         TPMT_SIG_SCHEME(scheme=TPM2_ALG.NULL), null_ticket)
        ecdsa = signature.signature.ecdsa
        if signature.sigAlg != TPM2_ALG.ECDSA or ecdsa.hash != TPM2_ALG.SHA256:
            raise KeyStoreError(f"TPM {self._tcti}: signed with {signature.sigAlg} instead "
                                "of ECDSA-SHA256. Fix: replace the TPM board")
        der = encode_dss_signature(int.from_bytes(bytes(ecdsa.signatureR), "big"),
                                   int.from_bytes(bytes(ecdsa.signatureS), "big"))
        try:
            self._verifier.verify(der, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise KeyStoreError(
                f"TPM {self._tcti}: the TPM's signature does not verify against its own "
                "public key (a fault on the SPI bus or in the chip). Fix: check the board's "
                "seating; if it repeats, replace the TPM board") from None
        return der

    def next_counter(self) -> int:
        """Increment the NV counter and return its new value (TPM2_NV_Increment, then
        TPM2_NV_Read). Only this process increments it, so the value read is its own."""
        with self._lock, translated(self._tcti, "incrementing the monotonic counter"):
            self._esapi.nv_increment(self._counter, self._counter)
            value = self._esapi.nv_read(self._counter, COUNTER_SIZE, 0, self._counter)
        return int.from_bytes(bytes(value), "big")

    def describe(self) -> TpmInfo:
        """Manufacturer, vendor string and firmware version (TPM2_GetCapability)."""
        with self._lock, translated(self._tcti, "reading the TPM's properties"):
            _more, data = self._esapi.get_capability(
                TPM2_CAP.TPM_PROPERTIES, TPM2_PT.MANUFACTURER, 16)
        props = {int(p.property): int(p.value) for p in data.data.tpmProperties}
        firmware = props.get(int(TPM2_PT_FIRMWARE.VERSION_1), 0)
        return TpmInfo(
            manufacturer=_text(props.get(int(TPM2_PT.MANUFACTURER), 0)),
            vendor=_text(*(props.get(int(p), 0) for p in _VENDOR_STRINGS)),
            firmware=f"{firmware >> 16}.{firmware & 0xFFFF}")

    def close(self) -> None:
        with self._lock:
            self._esapi.close()


def _make_key(esapi: ESAPI) -> None:
    """Create the key under a transient SRK, make it persistent, drop the transients. The
    private blob TPM2_Create returns (wrapped by the SRK) is not kept anywhere."""
    srk, _public, _data, _digest, _ticket = esapi.create_primary(
        TPM2B_SENSITIVE_CREATE(), srk_template(), ESYS_TR.OWNER)
    try:
        private, public, _data, _digest, _ticket = esapi.create(
            srk, TPM2B_SENSITIVE_CREATE(), key_template())
        transient = esapi.load(srk, private, public)
        try:
            esapi.evict_control(ESYS_TR.OWNER, transient, KEY_HANDLE)
        finally:
            esapi.flush_context(transient)
    finally:
        esapi.flush_context(srk)


