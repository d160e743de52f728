"""The TPM key store against a real software TPM (swtpm, the TCG reference code).

Each test starts its own swtpm on a fresh state directory. Audit finding C1: a key in a
file leaves with the card; here the key is made inside the TPM, cannot be read out or
duplicated, and the counter bound to the logs can only go up, across reboots, deletion
and TPM2_Clear.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from tpm2_pytss import (
    ESAPI,
    ESYS_TR,
    TPM2_ALG,
    TPM2_CAP,
    TPM2_CC,
    TPM2_SE,
    TPM2B_AUTH,
    TPM2B_DATA,
    TPM2B_NV_PUBLIC,
    TPM2B_PUBLIC,
    TPM2B_SENSITIVE,
    TPM2B_SENSITIVE_CREATE,
    TPMA_NV,
    TPMA_OBJECT,
    TPMS_NV_PUBLIC,
    TPMS_SENSITIVE_CREATE,
    TPMT_SIG_SCHEME,
    TPMT_SYM_DEF,
    TPMT_SYM_DEF_OBJECT,
    TSS2_Exception,
)

from bodycam.hal.keystore import KeyStoreError
from bodycam.hal.tpm import COUNTER_INDEX, KEY_HANDLE, TpmKeyMissingError, TpmKeyStore
from bodycam.hal.tpm.objects import counter_public, srk_template
from bodycam.tools.bench.tpm import main as bench_main
from bodycam.tools.bench.tpm import measure_swtpm
from bodycam.tools.dev.swtpm import MISSING, SwTpm

if shutil.which("swtpm") is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError(MISSING)
    pytest.skip(MISSING, allow_module_level=True)


@pytest.fixture
def tpm(tmp_path: Path) -> Iterator[SwTpm]:
    with SwTpm(tmp_path / "tpm-state") as running:
        yield running


def _verifier(store: TpmKeyStore) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(),
                                                        store.public_key_bytes())


def _duplication_policy(esapi: ESAPI, session_type: TPM2_SE) -> ESYS_TR:
    """A policy session satisfying TPM2_Duplicate's admin role (PolicyCommandCode)."""
    session = esapi.start_auth_session(ESYS_TR.NONE, ESYS_TR.NONE, session_type,
                                       TPMT_SYM_DEF(algorithm=TPM2_ALG.NULL), TPM2_ALG.SHA256)
    esapi.policy_command_code(session, TPM2_CC.Duplicate)
    return session


def _export_private_scalar(esapi: ESAPI, key: ESYS_TR) -> int:
    """TPM2_Duplicate with no new parent and no inner wrapping: the plain private key."""
    session = _duplication_policy(esapi, TPM2_SE.POLICY)
    try:
        _key, duplicate, _seed = esapi.duplicate(
            key, ESYS_TR.NULL, TPM2B_DATA(), TPMT_SYM_DEF_OBJECT(algorithm=TPM2_ALG.NULL),
            session1=session)
    finally:
        esapi.flush_context(session)
    sensitive, _size = TPM2B_SENSITIVE.unmarshal(bytes(duplicate))
    return int.from_bytes(bytes(sensitive.sensitiveArea.sensitive.ecc), "big")


def _load_exportable_key(esapi: ESAPI) -> tuple[ESYS_TR, TPM2B_PUBLIC]:
    """A signing key made the way bodycam must NOT: no fixedTPM/fixedParent, and an
    auth policy that allows duplication. It shows the export procedure really works."""
    trial = _duplication_policy(esapi, TPM2_SE.TRIAL)
    policy = esapi.policy_get_digest(trial)
    esapi.flush_context(trial)
    template = TPM2B_PUBLIC.parse(
        "ecc256:ecdsa-sha256", authPolicy=bytes(policy),
        objectAttributes=(TPMA_OBJECT.SENSITIVEDATAORIGIN | TPMA_OBJECT.USERWITHAUTH
                          | TPMA_OBJECT.SIGN_ENCRYPT))
    srk, *_ = esapi.create_primary(TPM2B_SENSITIVE_CREATE(), srk_template())
    private, public, *_ = esapi.create(srk, TPM2B_SENSITIVE_CREATE(), template)
    key = esapi.load(srk, private, public)
    esapi.flush_context(srk)
    return key, public


def test_create_then_open_gives_the_same_key(tpm: SwTpm) -> None:
    created = TpmKeyStore.create(tpm.tcti)
    public = created.public_key_bytes()
    created.close()
    opened = TpmKeyStore.open(tpm.tcti)
    assert opened.public_key_bytes() == public
    assert len(public) == 65 and public[0] == 0x04  # uncompressed SEC1 P-256 point
    assert (opened.kind, opened.algorithm) == ("tpm", "ecdsa-p256")
    opened.close()


def test_signatures_verify_with_cryptography_for_their_message_only(tpm: SwTpm) -> None:
    store = TpmKeyStore.create(tpm.tcti)
    message = b'{"seq":0,"event":"session_key"}'
    signature = store.sign(message)
    verifier = _verifier(store)
    verifier.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        verifier.verify(signature, message + b" ", ec.ECDSA(hashes.SHA256()))
    store.close()
    reopened = TpmKeyStore.open(tpm.tcti)  # a later boot signs with the same key
    verifier.verify(reopened.sign(b"later"), b"later", ec.ECDSA(hashes.SHA256()))
    reopened.close()


def test_the_private_key_cannot_be_read_out_of_the_tpm(tpm: SwTpm) -> None:
    TpmKeyStore.create(tpm.tcti).close()
    with ESAPI(tpm.tcti) as esapi:
        ours = esapi.tr_from_tpmpublic(KEY_HANDLE)
        public, _name, _qualified = esapi.read_public(ours)  # all ReadPublic gives
        attributes = public.publicArea.objectAttributes
        for required in (TPMA_OBJECT.FIXEDTPM, TPMA_OBJECT.FIXEDPARENT,
                         TPMA_OBJECT.SENSITIVEDATAORIGIN):
            assert attributes & required, required
        assert bytes(public.publicArea.authPolicy) == b""  # no policy: no admin role

        # The same export that hands out a duplicable key's private scalar ...
        exportable, exportable_public = _load_exportable_key(esapi)
        point = exportable_public.publicArea.unique.ecc
        scalar = _export_private_scalar(esapi, exportable)
        derived = ec.derive_private_key(scalar, ec.SECP256R1()).public_key().public_numbers()
        assert (derived.x, derived.y) == (int.from_bytes(bytes(point.x), "big"),
                                         int.from_bytes(bytes(point.y), "big"))
        esapi.flush_context(exportable)
        # ... is refused by the TPM for the device key.
        with pytest.raises(TSS2_Exception):
            _export_private_scalar(esapi, ours)


def test_open_never_creates_and_names_the_fix(tpm: SwTpm) -> None:
    with pytest.raises(TpmKeyMissingError) as missing:
        TpmKeyStore.open(tpm.tcti)
    message = str(missing.value)
    assert f"no bodycam device key at {KEY_HANDLE:#010x}" in message
    assert "cleared or replaced" in message and "Fix:" in message
    assert "camera program creates" in message
    with ESAPI(tpm.tcti) as esapi:  # and nothing was left behind by the failed open
        _more, data = esapi.get_capability(TPM2_CAP.HANDLES, KEY_HANDLE, 1)
        assert KEY_HANDLE not in [int(h) for h in data.data.handles]


def test_a_signature_that_does_not_verify_is_never_returned(tpm: SwTpm) -> None:
    store = TpmKeyStore.create(tpm.tcti)
    # As if the chip or the SPI bus had damaged the result: the check before returning
    # compares against the public key, here swapped for another one.
    store._verifier = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(KeyStoreError, match="does not verify against its own public key"):
        store.sign(b"x")
    store.close()


def test_create_refuses_to_replace_an_existing_key(tpm: SwTpm) -> None:
    first = TpmKeyStore.create(tpm.tcti)
    public = first.public_key_bytes()
    first.close()
    with pytest.raises(KeyStoreError, match=r"already exists.*Fix: open the existing key"):
        TpmKeyStore.create(tpm.tcti)
    again = TpmKeyStore.open(tpm.tcti)
    assert again.public_key_bytes() == public
    again.close()


def test_counter_only_increases_and_survives_a_reboot(tpm: SwTpm) -> None:
    store = TpmKeyStore.create(tpm.tcti)
    public = store.public_key_bytes()
    values = [store.next_counter() for _ in range(3)]
    store.close()
    assert values[0] < values[1] < values[2]
    tpm.stop()  # the camera loses power; the chip keeps its NV memory
    tpm.start()
    after = TpmKeyStore.open(tpm.tcti)
    assert after.public_key_bytes() == public
    assert after.next_counter() > values[-1]
    after.close()


def test_deleting_the_counter_cannot_rewind_it(tpm: SwTpm) -> None:
    store = TpmKeyStore.create(tpm.tcti)
    for _ in range(5):
        last = store.next_counter()
    store.close()
    with ESAPI(tpm.tcti) as esapi:  # the owner (root on the camera) deletes the counter
        esapi.nv_undefine_space(esapi.tr_from_tpmpublic(COUNTER_INDEX), ESYS_TR.OWNER)
    with pytest.raises(KeyStoreError, match=r"counter .* is gone but the key is there"):
        TpmKeyStore.open(tpm.tcti)
    with ESAPI(tpm.tcti) as esapi:  # ... and defines a fresh one, hoping it starts at 0
        esapi.nv_define_space(b"", counter_public(), ESYS_TR.OWNER)
    reopened = TpmKeyStore.open(tpm.tcti)
    assert reopened.next_counter() > last
    reopened.close()


def test_a_cleared_tpm_fails_open_and_the_rekey_keeps_the_counter_rising(tpm: SwTpm) -> None:
    store = TpmKeyStore.create(tpm.tcti)
    old_public = store.public_key_bytes()
    last = store.next_counter()
    store.close()
    with ESAPI(tpm.tcti) as esapi:
        esapi.clear(ESYS_TR.LOCKOUT)  # TPM2_Clear: owner objects and indices are gone
    with pytest.raises(TpmKeyMissingError, match="cleared or replaced"):
        TpmKeyStore.open(tpm.tcti)
    rekeyed = TpmKeyStore.create(tpm.tcti)  # what the camera program does, recording the rekey
    assert rekeyed.public_key_bytes() != old_public
    assert rekeyed.next_counter() > last
    rekeyed.close()


def test_a_foreign_key_at_our_handle_is_refused(tpm: SwTpm) -> None:
    with ESAPI(tpm.tcti) as esapi:  # someone parks a key whose private half they can get
        foreign, _public = _load_exportable_key(esapi)
        esapi.evict_control(ESYS_TR.OWNER, foreign, KEY_HANDLE)
        esapi.flush_context(foreign)
        esapi.nv_define_space(b"", counter_public(), ESYS_TR.OWNER)
    with pytest.raises(KeyStoreError, match=r"not a bodycam device key .*lacks fixedtpm"):
        TpmKeyStore.open(tpm.tcti)


def test_an_ordinary_nv_index_in_the_counters_place_is_refused(tpm: SwTpm) -> None:
    writable = TPM2B_NV_PUBLIC(nvPublic=TPMS_NV_PUBLIC(  # could be written back to 0
        nvIndex=COUNTER_INDEX, nameAlg=TPM2_ALG.SHA256, dataSize=8,
        attributes=TPMA_NV.AUTHREAD | TPMA_NV.AUTHWRITE | TPMA_NV.NO_DA))
    with ESAPI(tpm.tcti) as esapi:
        esapi.nv_define_space(b"", writable, ESYS_TR.OWNER)
    with pytest.raises(KeyStoreError, match=r"is not a monotonic counter.*tpm2_nvundefine"):
        TpmKeyStore.create(tpm.tcti)


def test_a_dictionary_attack_lockout_does_not_lock_the_camera_out(tpm: SwTpm) -> None:
    TpmKeyStore.create(tpm.tcti).close()
    with ESAPI(tpm.tcti) as esapi:  # any local program can send wrong passwords
        esapi.dictionary_attack_parameters(1, 1000, 1000)  # lockout after one failure
        srk, *_ = esapi.create_primary(TPM2B_SENSITIVE_CREATE(), srk_template())
        secret = TPM2B_SENSITIVE_CREATE(TPMS_SENSITIVE_CREATE(userAuth=TPM2B_AUTH(b"pin")))
        template = TPM2B_PUBLIC.parse("ecc256:ecdsa-sha256", objectAttributes=(
            TPMA_OBJECT.SENSITIVEDATAORIGIN | TPMA_OBJECT.USERWITHAUTH
            | TPMA_OBJECT.SIGN_ENCRYPT))
        private, public, *_ = esapi.create(srk, secret, template)
        guarded = esapi.load(srk, private, public)
        esapi.tr_set_auth(guarded, b"wrong")
        digest = hashlib.sha256(b"x").digest()
        for _ in range(2):
            with pytest.raises(TSS2_Exception):
                esapi.sign(guarded, digest, TPMT_SIG_SCHEME(scheme=TPM2_ALG.NULL))
        esapi.tr_set_auth(guarded, b"pin")
        with pytest.raises(TSS2_Exception, match="DA lockout"):  # the TPM is locked out
            esapi.sign(guarded, digest, TPMT_SIG_SCHEME(scheme=TPM2_ALG.NULL))
    store = TpmKeyStore.open(tpm.tcti)  # ... and the camera's noDA key still signs
    _verifier(store).verify(store.sign(b"x"), b"x", ec.ECDSA(hashes.SHA256()))
    store.next_counter()
    store.close()


def test_no_tpm_is_a_key_store_error_that_names_the_fix(tpm: SwTpm) -> None:
    tcti = tpm.tcti
    tpm.stop()
    with pytest.raises(KeyStoreError, match=r"does not answer.*Fix: start swtpm"):
        TpmKeyStore.open(tcti)
    assert not Path("/dev/tpmrm97").exists()
    with pytest.raises(KeyStoreError, match=r"no TPM device .*dtoverlay=tpm-slb9670"):
        TpmKeyStore.open("device:/dev/tpmrm97")


@pytest.mark.parametrize("template", [
    "cmd:touch {tmp}/ran",  # the TSS's cmd TCTI runs a shell command
    "device:{tmp}/victim",  # the device TCTI would write TPM commands into the file
    "device:/dev/..{tmp}/victim",
    "device:/dev/null",  # a device node, but not a TPM's
    "tabrmd:",  # a TPM daemon the camera does not use
])
def test_a_tcti_that_is_not_a_tpm_is_refused_before_the_tss_sees_it(
        template: str, tmp_path: Path) -> None:
    victim = tmp_path / "victim"  # only files of this test: a regression must harm nothing
    victim.write_bytes(b"evidence\n")
    with pytest.raises(KeyStoreError, match=r"not a TPM this camera uses.*Fix: use a TCTI"):
        TpmKeyStore.create(template.format(tmp=tmp_path))
    assert victim.read_bytes() == b"evidence\n"
    assert not (tmp_path / "ran").exists()


def test_a_tpm_that_stops_answering_while_open_is_a_key_store_error(tpm: SwTpm) -> None:
    store = TpmKeyStore.create(tpm.tcti)
    tpm.stop()
    with pytest.raises(KeyStoreError, match="signing: the TPM does not answer"):
        store.sign(b"x")
    with pytest.raises(KeyStoreError, match="incrementing the monotonic counter"):
        store.next_counter()
    store.close()


def test_describe_names_the_tpm(tpm: SwTpm) -> None:
    store = TpmKeyStore.create(tpm.tcti)
    info = store.describe()
    store.close()
    assert (info.manufacturer, info.vendor) == ("IBM", "SW TPM")  # what swtpm reports
    assert str(info).startswith("IBM SW TPM firmware ")


def test_without_tpm2_pytss_the_package_says_how_to_install_it() -> None:
    code = ("import sys; sys.modules['tpm2_pytss'] = None\n"
            "from bodycam.hal.keystore import KeyStoreError\n"
            "try:\n    import bodycam.hal.tpm\n"
            "except KeyStoreError as exc:\n    print(exc)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert "pip install 'bodycam[tpm]'" in result.stdout


def test_bench_reports_sign_and_counter_times_as_numbers() -> None:
    figures = measure_swtpm(runs=5)
    assert set(figures) == {"tpm_create_ms", "tpm_sign_ms_p50", "tpm_sign_ms_p90",
                            "tpm_counter_ms_p50", "tpm_counter_ms_p90"}
    assert all(value > 0 for value in figures.values()), figures


def test_bench_on_a_camera_tpm_leaves_its_key_and_counter_alone(
        tpm: SwTpm, capsys: pytest.CaptureFixture[str]) -> None:
    store = TpmKeyStore.create(tpm.tcti)
    public, before = store.public_key_bytes(), store.next_counter()
    store.close()
    assert bench_main(["--tcti", tpm.tcti, "--runs", "3"]) == 0
    out = capsys.readouterr().out
    assert "IBM SW TPM" in out and "tpm_sign_ms_p50" in out and "tpm_counter" not in out
    after = TpmKeyStore.open(tpm.tcti)
    assert after.public_key_bytes() == public and after.next_counter() == before + 1
    after.close()
