"""`bodycam-evidence decrypt -i IDENTITY [-o OUT] FILE`: decrypt one age file, like `age -d`.

Plaintext is released chunk by chunk, each only after it authenticated. With -o, it goes
to OUT.partial (mode 0600, the plaintext is evidence) and is renamed to OUT only when
the whole file verified, so OUT never holds an incomplete result. On failure
OUT.partial is removed unless --keep-partial asks to keep the verified prefix, which is
how a segment cut short by power loss is salvaged. OUT.partial is also removed when
writing it fails (disk full, interrupted): plaintext evidence is not left lying around.
Without --force, nothing at OUT is replaced: not a link (never followed either), not a
file that appears while decrypting (see export_output).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from bodycam.firmware.evidence.age import AgeError, decrypt
from bodycam.firmware.evidence.age.keys import Identity, read_identity_file
from bodycam.tools.custody.export.output import create_private, move_no_replace

EXIT_OK = 0
EXIT_FAILED = 1
STDOUT = "-"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--identity", type=Path, action="append", required=True,
                        metavar="IDENTITY",
                        help="identity file (age-keygen or bodycam-evidence keygen); repeat "
                             "to try several")
    parser.add_argument("-o", "--output", default=STDOUT, metavar="OUT",
                        help="where to write the plaintext; '-' (default) is stdout, which "
                             "receives verified chunks as they come, even if a later one "
                             "fails")
    parser.add_argument("--keep-partial", action="store_true",
                        help="on failure keep the verified plaintext released so far in "
                             "OUT.partial (e.g. a segment cut short by power loss); by "
                             "default OUT.partial is removed")
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")
    parser.add_argument("file", type=Path, metavar="FILE", help="the .age file to decrypt")


def run(args: argparse.Namespace) -> int:
    try:
        identities = [key for path in args.identity for key in read_identity_file(path)]
    except OSError as exc:
        return _error(f"cannot read identity file {exc.filename}: {exc.strerror}")
    except ValueError as exc:
        return _error(str(exc))
    try:
        src = args.file.open("rb")
    except OSError as exc:
        return _error(f"cannot read {args.file}: {exc.strerror}")
    with src:
        if args.output == STDOUT:
            return _to_stdout(identities, src)
        return _to_file(identities, src, Path(args.output), args.keep_partial, args.force)


def _to_stdout(identities: Sequence[Identity], src: BinaryIO) -> int:
    if sys.stdout.isatty():
        return _error("refusing to write binary plaintext to a terminal; pass -o OUT")
    try:
        decrypt(identities, src, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    except AgeError as exc:
        return _age_error(exc, "")
    # a reader that stops early (`| head`) raises BrokenPipeError: the console scripts'
    # shared dispatcher ends quietly with 141, like age and other filters
    return EXIT_OK


def _to_file(identities: Sequence[Identity], src: BinaryIO, out: Path,
             keep_partial: bool, force: bool) -> int:
    if os.path.lexists(out) and not force:
        return _error(f"{out} already exists (a file, or a symbolic link, which is never "
                      "followed); choose another name or pass --force to replace it")
    partial = out.with_name(out.name + ".partial")
    try:
        fd = create_private(partial)
    except FileExistsError:
        return _error(f"{partial} exists (left by an earlier run?); move or remove it first")
    except OSError as exc:
        return _error(f"cannot create {partial}: {exc.strerror}")
    try:
        with os.fdopen(fd, "wb") as dst:
            decrypt(identities, src, dst)
            dst.flush()
            os.fsync(dst.fileno())
    except AgeError as exc:
        if keep_partial:
            return _age_error(exc, f"; the verified part is kept in {partial}")
        partial.unlink()
        return _age_error(exc, f"; {partial} was removed (use --keep-partial to keep "
                               "the verified part)")
    except OSError as exc:
        partial.unlink()
        return _error(f"cannot write {partial}: {exc.strerror or exc}; it was removed. "
                      "Fix: free space on that disk or choose another OUT")
    except BaseException:
        partial.unlink()
        raise
    return _publish(partial, out, force)


def _publish(partial: Path, out: Path, force: bool) -> int:
    """OUT.partial becomes OUT; without --force never over a file made meanwhile."""
    if force:
        os.replace(partial, out)  # replaces a link at OUT, never writes through it
        return EXIT_OK
    try:
        move_no_replace(partial, out)
    except FileExistsError:
        partial.unlink()
        return _error(f"{out} appeared while decrypting (made by something else); it was "
                      f"not overwritten and {partial} was removed. Fix: choose another OUT")
    return EXIT_OK


def _age_error(exc: AgeError, outcome: str) -> int:
    """One line: the kind of failure, the decryptor's detail (for payload failures it
    includes how many verified bytes were released) and what happened to OUT.partial."""
    return _error(f"{exc.summary}: {exc}{outcome}")


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_FAILED
