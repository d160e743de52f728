"""What the key holder hands a viewer opens with the other age implementations: the
reference `age` program (Debian package) and typage (npm age-encryption, what the
browser player uses), with a viewer key each of them made. Authority identities of both
kinds: re-wrapping a post-quantum header for an X25519 viewer key (all WebCrypto has)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from keyholder_rig import Holder, make_holder, viewer_file

INTEROP = Path(__file__).resolve().parents[1] / "interop"
NODE = shutil.which("node")
AGE = shutil.which("age")
AGE_KEYGEN = shutil.which("age-keygen")
_TYPAGE = (INTEROP / "node_modules" / "age-encryption" / "package.json").is_file()
if NODE is None or not _TYPAGE or AGE is None or AGE_KEYGEN is None:
    _WHY = ("needs age/age-keygen (Debian package age) and typage (Node.js >= 20.19 and "
            "`npm ci` in tests/interop: make .venv/.dev does it)")
    if os.environ.get("CI") == "true":
        raise RuntimeError(_WHY)
    pytest.skip(_WHY, allow_module_level=True)

PEER = {"pid": 0, "uid": 0, "gid": 0}


def _run(*cmd: str, data: bytes = b"", cwd: Path | None = None) -> bytes:
    done = subprocess.run(cmd, input=data, capture_output=True, check=False, timeout=120,
                          cwd=cwd)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


@pytest.fixture(params=["x25519", "post-quantum"])
def holder(request: pytest.FixtureRequest, tmp_path: Path) -> Holder:
    return make_holder(tmp_path, post_quantum=request.param == "post-quantum", segments=2)


def _unwrap_for(holder: Holder, viewer: str) -> dict[str, bytes]:
    key_holder = holder.open()
    try:
        response = key_holder.unwrap(holder.request(viewer=viewer), PEER)
    finally:
        key_holder.close()
    return {s.file: viewer_file(holder, response, s.file) for s in response.segments}


def test_age_decrypts_with_a_viewer_key_it_made(holder: Holder, tmp_path: Path) -> None:
    assert AGE is not None and AGE_KEYGEN is not None
    key = tmp_path / "viewer-age.key"
    _run(AGE_KEYGEN, "-o", str(key))
    recipient = _run(AGE_KEYGEN, "-y", str(key)).decode().strip()
    for name, data in _unwrap_for(holder, recipient).items():
        assert _run(AGE, "-d", "-i", str(key), data=data) == holder.authority_plaintext(name)


def test_typage_decrypts_with_a_viewer_key_it_made(holder: Holder, tmp_path: Path) -> None:
    assert NODE is not None
    script = str(INTEROP / "typage.mjs")
    secret, recipient = _run(NODE, script, "keygen", cwd=INTEROP).decode().split()
    key = tmp_path / "viewer-typage.key"
    key.write_text(secret + "\n")
    for name, data in _unwrap_for(holder, recipient).items():
        assert _run(NODE, script, "decrypt", str(key), data=data, cwd=INTEROP) == \
            holder.authority_plaintext(name)
