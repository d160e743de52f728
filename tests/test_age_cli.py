"""`bodycam-evidence keygen` and `bodycam-evidence decrypt`, run through the real CLI."""

from __future__ import annotations

import io
import os
import random
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bodycam.firmware.evidence.age import CHUNK_SIZE, AgeEncryptor
from bodycam.firmware.evidence.age.keys import (
    format_recipient,
    generate_identity,
    parse_recipient,
    read_identity_file,
)
from bodycam.tools.custody.cli import main


@pytest.fixture
def identity(tmp_path: Path) -> tuple[Path, str]:
    """An identity file made by the keygen command, and its recipient."""
    path = tmp_path / "agency.txt"
    assert main(["keygen", "-o", str(path)]) == 0
    return path, format_recipient(read_identity_file(path)[0].public_key())


def _encrypt_file(path: Path, recipient: str, data: bytes) -> None:
    with path.open("wb") as f:
        enc = AgeEncryptor([parse_recipient(recipient)], f.write)
        enc.write(data)
        enc.close()


def test_keygen_writes_private_identity_file(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "agency.txt"
    assert main(["keygen", "-o", str(path)]) == 0
    captured = capsys.readouterr()
    printed = captured.out.strip()
    assert printed.startswith("age1") and "AGE-SECRET-KEY" not in captured.out + captured.err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# created: ") and lines[0].endswith("Z")
    assert lines[1] == f"# public key: {printed}"
    assert lines[2].startswith("AGE-SECRET-KEY-1")
    assert format_recipient(read_identity_file(path)[0].public_key()) == printed


def test_keygen_refuses_to_overwrite_without_force(
        identity: tuple[Path, str], capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = identity
    before = path.read_bytes()
    assert main(["keygen", "-o", str(path)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert path.read_bytes() == before
    path.chmod(0o644)
    assert main(["keygen", "-o", str(path), "--force"]) == 0
    assert path.read_bytes() != before
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left


def test_decrypt_to_file(identity: tuple[Path, str], tmp_path: Path) -> None:
    path, recipient = identity
    data = random.Random(1).randbytes(2 * CHUNK_SIZE + 3)
    _encrypt_file(tmp_path / "seg.age", recipient, data)
    out = tmp_path / "seg.ts"
    assert main(["decrypt", "-i", str(path), "-o", str(out), str(tmp_path / "seg.age")]) == 0
    assert out.read_bytes() == data
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not (tmp_path / "seg.ts.partial").exists()


def test_decrypt_to_stdout(identity: tuple[Path, str], tmp_path: Path,
                           capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    path, recipient = identity
    _encrypt_file(tmp_path / "seg.age", recipient, b"plain")
    assert main(["decrypt", "-i", str(path), str(tmp_path / "seg.age")]) == 0
    assert capsysbinary.readouterr().out == b"plain"


def _truncated(tmp_path: Path, recipient: str) -> tuple[Path, bytes]:
    data = random.Random(2).randbytes(3 * CHUNK_SIZE)
    full = io.BytesIO()
    enc = AgeEncryptor([parse_recipient(recipient)], full.write)
    enc.write(data)
    enc.close()
    cut = tmp_path / "cut.age"
    cut.write_bytes(full.getvalue()[:-1000])
    return cut, data[:2 * CHUNK_SIZE]


def test_truncated_file_partial_removed_by_default(
        identity: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, recipient = identity
    cut, _ = _truncated(tmp_path, recipient)
    out = tmp_path / "out.ts"
    assert main(["decrypt", "-i", str(path), "-o", str(out), str(cut)]) == 1
    err = capsys.readouterr().err
    assert "truncated file" in err and f"{2 * CHUNK_SIZE} bytes" in err and "removed" in err
    assert not out.exists() and not (tmp_path / "out.ts.partial").exists()


def test_truncated_file_keep_partial(identity: tuple[Path, str], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    path, recipient = identity
    cut, prefix = _truncated(tmp_path, recipient)
    out = tmp_path / "out.ts"
    assert main(["decrypt", "-i", str(path), "-o", str(out), "--keep-partial", str(cut)]) == 1
    assert "kept in" in capsys.readouterr().err
    assert not out.exists()
    assert (tmp_path / "out.ts.partial").read_bytes() == prefix


def test_wrong_identity_fails_cleanly(identity: tuple[Path, str], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    _, recipient = identity
    _encrypt_file(tmp_path / "seg.age", recipient, b"plain")
    other = tmp_path / "other.txt"
    other.write_text(generate_identity()[0] + "\n")
    out = tmp_path / "out.ts"
    assert main(["decrypt", "-i", str(other), "-o", str(out), str(tmp_path / "seg.age")]) == 1
    assert "wrong key" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "out.ts.partial").exists()


def test_existing_output_not_overwritten(identity: tuple[Path, str], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path, recipient = identity
    _encrypt_file(tmp_path / "seg.age", recipient, b"plain")
    out = tmp_path / "out.ts"
    out.write_bytes(b"older export")
    assert main(["decrypt", "-i", str(path), "-o", str(out), str(tmp_path / "seg.age")]) == 1
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == b"older export"


def test_a_link_at_the_output_is_neither_followed_nor_replaced(
        identity: tuple[Path, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path, recipient = identity
    _encrypt_file(tmp_path / "seg.age", recipient, b"plain")
    out = tmp_path / "out.ts"
    out.symlink_to(tmp_path / "victim")
    assert main(["decrypt", "-i", str(path), "-o", str(out), str(tmp_path / "seg.age")]) == 1
    assert "symbolic link" in capsys.readouterr().err
    assert out.is_symlink() and not (tmp_path / "victim").exists()
    assert main(["decrypt", "-i", str(path), "-o", str(out), "--force",
                 str(tmp_path / "seg.age")]) == 0
    assert not out.is_symlink() and out.read_bytes() == b"plain"
    assert not (tmp_path / "victim").exists()


def test_an_output_made_while_decrypting_is_not_replaced(
        identity: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from bodycam.tools.custody import decrypt_cmd

    path, recipient = identity
    _encrypt_file(tmp_path / "seg.age", recipient, b"plain")
    out = tmp_path / "out.ts"
    real = decrypt_cmd.decrypt

    def someone_writes_out(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        out.write_bytes(b"someone else's file")
        return result

    monkeypatch.setattr(decrypt_cmd, "decrypt", someone_writes_out)
    assert main(["decrypt", "-i", str(path), "-o", str(out), str(tmp_path / "seg.age")]) == 1
    assert out.read_bytes() == b"someone else's file"
    assert not (tmp_path / "out.ts.partial").exists()
    assert "appeared while decrypting" in capsys.readouterr().err


def test_bad_identity_file_reports_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        ) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("# comment\nnot-a-key\n")
    assert main(["decrypt", "-i", str(bad), str(tmp_path / "missing.age")]) == 1
    assert "line 2" in capsys.readouterr().err


def test_write_error_removes_the_plaintext_partial(identity: tuple[Path, str],
                                                   tmp_path: Path) -> None:
    """The output disk fills up mid-file (here: a file size limit, EFBIG): the plaintext
    written so far must not stay behind, and the error must be one clear line."""
    import subprocess
    import sys

    path, recipient = identity
    source = tmp_path / "big.age"
    _encrypt_file(source, recipient, random.Random(3).randbytes(4 * CHUNK_SIZE))
    out = tmp_path / "out.ts"
    script = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({CHUNK_SIZE}, {CHUNK_SIZE}))\n"
        "from bodycam.tools.custody.cli import main\n"
        f"sys.exit(main(['decrypt', '-i', {str(path)!r}, '-o', {str(out)!r}, "
        f"{str(source)!r}]))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "cannot write" in result.stderr and "removed" in result.stderr
    assert not out.exists() and not (tmp_path / "out.ts.partial").exists()


def test_decrypt_to_a_reader_that_stops_early_ends_quietly(tmp_path: Path) -> None:
    """`bodycam-evidence decrypt FILE | head` ends like age does: no traceback."""
    secret, recipient = generate_identity()
    identity = tmp_path / "id.txt"
    identity.write_text(secret + "\n")
    sealed = tmp_path / "big.age"
    with sealed.open("wb") as out:
        encryptor = AgeEncryptor([parse_recipient(recipient)], out.write)
        encryptor.write(os.urandom(4 * 1024 * 1024))
        encryptor.close()
    pipeline = subprocess.run(
        f"{sys.executable} -m bodycam.tools.custody.cli decrypt -i {identity} {sealed} "
        "| head -c 10 > /dev/null; echo ${PIPESTATUS[0]}",
        shell=True, executable="/bin/bash", capture_output=True, text=True, check=True)
    assert pipeline.stdout.strip() == "141"
    assert "Traceback" not in pipeline.stderr
