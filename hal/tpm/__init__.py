"""The device key in a TPM 2.0 (`TpmKeyStore`), for cameras with a TPM board on SPI.

Why: a key in a file on the SD card goes wherever the card goes (audit finding C1). A key
the TPM makes with fixedTPM|fixedParent|sensitiveDataOrigin is generated inside the chip,
and no TPM command returns it: TPM2_Duplicate refuses fixedParent objects (and needs an
admin policy the key does not have), and the one wrapped blob TPM2_Create returns can be
loaded only under this TPM's storage key; bodycam discards it anyway.

Design (docs/tpm.md has the whole story, with measurements):

* Key: ECC NIST P-256, ECDSA-SHA256 (the one curve every TPM 2.0 has), created as a child
  of the owner hierarchy's storage primary and made persistent at KEY_HANDLE 0x817B0C01
  with TPM2_EvictControl. Not a primary re-derived at each start: TPM2_CreatePrimary
  always succeeds, so after a TPM2_Clear it would quietly give a different key, the very
  event "open" must report (and it costs about 230 ms per boot on an SLB9670).
* Counter: NV index COUNTER_INDEX 0x01BB0C01, TPM_NT_COUNTER, 64 bits. The TPM only lets
  it go up, and a counter defined after a TPM2_Clear (or after deleting this one) starts
  at the highest value any counter on the TPM ever had, so it cannot be rewound.
* `TpmKeyStore.create` (the first key, or an audited re-key, by the camera program) vs
  `TpmKeyStore.open` (every start): open never
  creates; a cleared TPM gives TpmKeyMissingError, which the program audits as a rekey.
* Signing is slow on real chips (about 69 ms per ECDSA P-256 signature on an SLB9670):
  the key certifies one RAM-only session key per boot and is off the recording path.
* TCTI: a TSS2 TCTI string, `device:/dev/tpmrm0` (the kernel's resource manager) on the
  camera, `swtpm:host=127.0.0.1,port=N` in the tests; nothing else (the TSS's `cmd` TCTI
  runs shell commands, its device TCTI writes into any file it is given).

Every failure is a KeyStoreError naming the TPM, what happened and the fix. Importing this
package without tpm2-pytss installed raises one too.
"""

from __future__ import annotations

from bodycam.hal.keystore import KeyStoreError

try:
    import tpm2_pytss  # noqa: F401 - probe: the modules below need it
except ImportError as exc:
    raise KeyStoreError(
        f"the TPM key store needs tpm2-pytss, which cannot be imported ({exc}). Fix: "
        "install bodycam with the tpm extra (`pip install 'bodycam[tpm]'`; it builds "
        "against the Debian package libtss2-dev)") from exc

from bodycam.hal.tpm.errors import DEFAULT_TCTI
from bodycam.hal.tpm.objects import COUNTER_INDEX, KEY_HANDLE
from bodycam.hal.tpm.store import TpmInfo, TpmKeyMissingError, TpmKeyStore

__all__ = [
    "COUNTER_INDEX",
    "DEFAULT_TCTI",
    "KEY_HANDLE",
    "TpmInfo",
    "TpmKeyMissingError",
    "TpmKeyStore",
]
