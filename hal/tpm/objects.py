"""What bodycam keeps in the TPM: where (handles), in which shape (templates), and the
checks that an object found there really is ours.

Handles. The owner may only make objects persistent at 0x81000000-0x817FFFFF (TPM 2.0
Part 3, TPM2_EvictControl); the start of that range is where tools and other programs put
their storage keys (the SRK conventionally at 0x81000001), so the device key sits at the
far end, at 0x817B0C01. NV indices 0x01800000-0x01BFFFFF are the owner's (the range the
TSS's FAPI uses for "/nv/Owner", allocating from its start); the counter sits at its far
end too, at 0x01BB0C01.

The checks matter because anyone with the owner authorization can put *another* object at
our handle; `open` refuses what we would not have created (for example an imported key,
which cannot have fixedTPM, or a key that can also decrypt) instead of signing with it.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from tpm2_pytss import (
    TPM2_ALG,
    TPM2_ECC,
    TPM2_NT,
    TPM2B_NV_PUBLIC,
    TPM2B_PUBLIC,
    TPMA_NV,
    TPMA_OBJECT,
    TPMS_NV_PUBLIC,
)

from bodycam.hal.keystore import KeyStoreError

KEY_HANDLE: Final = 0x817B0C01
COUNTER_INDEX: Final = 0x01BB0C01
COUNTER_SIZE: Final = 8  # TPM NV counters are 64-bit

# fixedTPM + fixedParent: no TPM2_Duplicate, so the private key never leaves this chip in
# any form; sensitiveDataOrigin: the TPM drew it from its own RNG; sign only. noDA: with an
# empty auth value the dictionary-attack counter protects no secret, and without noDA any
# local program could lock the camera out of its own key by sending wrong passwords.
KEY_ATTRIBUTES: Final = (TPMA_OBJECT.FIXEDTPM | TPMA_OBJECT.FIXEDPARENT
                         | TPMA_OBJECT.SENSITIVEDATAORIGIN | TPMA_OBJECT.USERWITHAUTH
                         | TPMA_OBJECT.SIGN_ENCRYPT | TPMA_OBJECT.NODA)
_FORBIDDEN_KEY_ATTRIBUTES: Final = TPMA_OBJECT.DECRYPT | TPMA_OBJECT.RESTRICTED

# The parent exists only while the key is created (a persistent object needs no loaded
# parent), so it is the plain ECC P-256 storage primary, re-derived from the owner seed.
_SRK_ATTRIBUTES: Final = (TPMA_OBJECT.FIXEDTPM | TPMA_OBJECT.FIXEDPARENT
                          | TPMA_OBJECT.SENSITIVEDATAORIGIN | TPMA_OBJECT.USERWITHAUTH
                          | TPMA_OBJECT.NODA | TPMA_OBJECT.RESTRICTED | TPMA_OBJECT.DECRYPT)

# Increments and reads need only the index's own (empty) auth: the camera program runs
# without the owner authorization. noDA for the same reason as the key.
_NT_SHIFT: Final = 4  # TPMA_NV's TPM_NT field, TPM 2.0 Part 2 table "TPMA_NV"
_NT_MASK: Final = 0xF0
COUNTER_ATTRIBUTES: Final = (TPMA_NV.AUTHREAD | TPMA_NV.AUTHWRITE | TPMA_NV.OWNERREAD
                             | TPMA_NV.NO_DA | (TPM2_NT.COUNTER << _NT_SHIFT))


# The same definition as counter_public(), as the tpm2-tools command a technician can run.
DEFINE_COUNTER: Final = (f"tpm2_nvdefine -C o -s {COUNTER_SIZE} -a "
                         f"'nt=counter|authread|authwrite|ownerread|no_da' {COUNTER_INDEX:#010x}")


def key_template() -> TPM2B_PUBLIC:
    """ECC NIST P-256, ECDSA with SHA-256, the attributes above, empty auth policy."""
    return TPM2B_PUBLIC.parse("ecc256:ecdsa-sha256", objectAttributes=KEY_ATTRIBUTES,
                              nameAlg="sha256")


def srk_template() -> TPM2B_PUBLIC:
    """The storage primary the key is created under (AES-128-CFB, ECC P-256)."""
    return TPM2B_PUBLIC.parse("ecc256:aes128cfb", objectAttributes=_SRK_ATTRIBUTES,
                              nameAlg="sha256")


def counter_public() -> TPM2B_NV_PUBLIC:
    """The NV counter's definition (8 bytes, TPM_NT_COUNTER)."""
    return TPM2B_NV_PUBLIC(nvPublic=TPMS_NV_PUBLIC(
        nvIndex=COUNTER_INDEX, nameAlg=TPM2_ALG.SHA256, attributes=COUNTER_ATTRIBUTES,
        dataSize=COUNTER_SIZE))


def check_key(public: TPM2B_PUBLIC, where: str) -> None:
    """Refuse an object at our handle that bodycam's `create` would not have made."""
    area = public.publicArea
    attributes = int(area.objectAttributes)
    ecc = area.parameters.eccDetail
    problems = []
    if area.type != TPM2_ALG.ECC or ecc.curveID != TPM2_ECC.NIST_P256:
        problems.append("not an ECC P-256 key")
    elif (ecc.scheme.scheme != TPM2_ALG.ECDSA
          or ecc.scheme.details.ecdsa.hashAlg != TPM2_ALG.SHA256):
        problems.append("its scheme is not ECDSA-SHA256")
    missing = KEY_ATTRIBUTES & ~attributes
    if missing:
        problems.append(f"lacks {TPMA_OBJECT(missing)}")
    extra = _FORBIDDEN_KEY_ATTRIBUTES & attributes
    if extra:
        problems.append(f"also has {TPMA_OBJECT(extra)}")
    if problems:
        raise KeyStoreError(
            f"{where}: the object at {KEY_HANDLE:#010x} is not a bodycam device key "
            f"({'; '.join(problems)}); another program or person put it there. Fix: find "
            f"out who (the owner authorization was used), then remove it with "
            f"`tpm2_evictcontrol -C o -c {KEY_HANDLE:#010x}` and restart the camera, which "
            "creates a new device key (the audit log records it as a rekey)")


def check_counter(public: TPM2B_NV_PUBLIC, where: str) -> None:
    """Refuse an NV index at our counter's place that is not a 64-bit counter: an ordinary
    index could be written back to any value, which is what the counter exists to prevent."""
    area = public.nvPublic
    kind = (int(area.attributes) & _NT_MASK) >> _NT_SHIFT
    if kind != TPM2_NT.COUNTER or area.dataSize != COUNTER_SIZE:
        raise KeyStoreError(
            f"{where}: NV index {COUNTER_INDEX:#010x} is not a monotonic counter "
            f"(type {kind}, {area.dataSize} bytes); another program or person defined it. "
            f"Fix: remove it with `tpm2_nvundefine -C o {COUNTER_INDEX:#010x}` and define "
            f"the counter with `{DEFINE_COUNTER}` (the camera does that when it creates the "
            "key); a new counter starts above every value this TPM's counters ever had")


def public_point(public: TPM2B_PUBLIC) -> bytes:
    """The key's 65-byte uncompressed SEC1 point; cryptography checks it is on the curve."""
    unique = public.publicArea.unique.ecc
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(bytes(unique.x), "big"), int.from_bytes(bytes(unique.y), "big"),
        ec.SECP256R1())
    return numbers.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
