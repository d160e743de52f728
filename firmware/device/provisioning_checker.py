"""Check provisioning files in a process that holds no privilege.

The camera's import runs as root, because it installs root-owned files. Parsing TOML
and age keys from a card that anyone may write is the riskiest thing it does, so root
never does it: it forks a child that first sheds every privilege (no supplementary
groups, the gid and uid of `nobody`, which owns no file) and marks itself non-dumpable
(no other process running as nobody can ptrace it), then parses and validates the bytes
root read (after their signatures verified) and answers through a pipe with the verdict
and, when the files are valid, the exact bytes to install.
"""

from __future__ import annotations

import base64
import codecs
import json
import os
import pwd
import select
import signal
import time
from dataclasses import dataclass
from typing import Any

from bodycam.firmware.config.device_rules import StorageNeeds
from bodycam.firmware.config.loader import (
    DEFAULTS_NAME,
    ConfigError,
    ConfigProblem,
    ConfigText,
    shipped_file,
)
from bodycam.firmware.config.problems import redacted_text
from bodycam.firmware.device.process_hardening import make_undumpable
from bodycam.firmware.device.provisioning_validate import (
    validate_config,
    validate_with_recipients,
)
from bodycam.firmware.device.recipients_file import RECIPIENTS_FILE_NAME

__all__ = ["CHECKER_USER", "CheckRequest", "Finding", "Verdict", "check", "run_checker"]

CHECKER_USER = "nobody"
CHECKER_TIMEOUT_S = 120.0  # parsing takes well under a second; a hung child is killed
_MAX_ANSWER = 4 * 1024 * 1024


@dataclass(frozen=True)
class CheckRequest:
    """What root read: the boot partition's files and, for a recipients file alone, the
    active configuration it applies to."""

    config: ConfigText | None
    recipients: ConfigText | None
    installed: ConfigText | None


@dataclass(frozen=True)
class Finding:
    """One problem as the checker words it (already redacted), and its key for the audit."""

    text: str
    key: str


@dataclass(frozen=True)
class Verdict:
    problems: tuple[Finding, ...]
    data: bytes = b""  # what to install, when there are no problems
    device_id: str = ""
    digest: str = ""
    recipients: tuple[str, ...] = ()
    data_dir: str = ""
    needs: StorageNeeds | None = None
    uid: int = -1  # who checked: root logs it, the tests assert it

    def to_json(self) -> bytes:
        return json.dumps({
            "problems": [[f.text, f.key] for f in self.problems],
            "data": base64.b64encode(self.data).decode("ascii"),
            "device_id": self.device_id, "digest": self.digest,
            "recipients": list(self.recipients), "data_dir": self.data_dir,
            "needs": None if self.needs is None else [
                self.needs.reserve_mb, self.needs.nearly_full_mb, self.needs.recording_kbps],
            "uid": self.uid}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Verdict:
        raw: dict[str, Any] = json.loads(data)
        needs = raw["needs"]
        verdict = cls(
            tuple(Finding(str(text), str(key)) for text, key in raw["problems"]),
            base64.b64decode(raw["data"], validate=True), str(raw["device_id"]),
            str(raw["digest"]), tuple(str(r) for r in raw["recipients"]),
            str(raw["data_dir"]),
            None if needs is None else StorageNeeds(*(int(n) for n in needs)),
            int(raw["uid"]))
        if not verdict.problems and verdict.needs is None:
            raise ValueError("a valid verdict without its storage figures")
        return verdict


def refused(text: str, key: str = "") -> Verdict:
    return Verdict((Finding(text, key),))


# ------------------------------------------------------------------------ the child


def check(request: CheckRequest) -> Verdict:
    """The verdict on `request` (what the unprivileged child computes)."""
    try:
        if request.recipients is None:
            if request.config is None:
                raise ConfigError([ConfigProblem("", "", "no file", "a provisioning file")])
            config, data = validate_config(request.config), request.config.data
        elif request.config is not None:
            config, data = validate_with_recipients(request.config, request.recipients,
                                                    keep=True)
        elif request.installed is not None:
            config, data = validate_with_recipients(request.installed, request.recipients,
                                                    keep=False)
        else:
            raise ConfigError([ConfigProblem(
                request.recipients.source, "", "no installed configuration",
                f"{RECIPIENTS_FILE_NAME} beside a bodycam.toml, or on a camera already "
                "provisioned", f"write bodycam.toml with it: `bodycam-provision write "
                f"--recipients {RECIPIENTS_FILE_NAME} bodycam.toml TARGET`")])
    except ConfigError as exc:
        return Verdict(tuple(Finding(str(p), p.key) for p in exc.problems), uid=os.getuid())
    return Verdict((), data, config.device.id, config.digest, config.evidence.recipients,
                   str(config.storage.data_dir), StorageNeeds.of(config), os.getuid())


# ------------------------------------------------------------------------ the parent


def run_checker(request: CheckRequest, user: str = CHECKER_USER) -> Verdict:
    """The verdict on `request` from a child process. As root the child runs as `user`;
    otherwise as the caller (who has no privilege to shed). Any failure is a refusal,
    never an install."""
    ids = None
    if os.geteuid() == 0:
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            return refused(f"there is no user {user!r} to check the file as, and root does "
                           "not parse it; fix: create it (Debian has it) and reboot")
        ids = (entry.pw_uid, entry.pw_gid)
    _load_lazy_modules()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(request, ids, write_end)
    os.close(write_end)
    try:
        answer = _read_answer(read_end, pid)
    finally:
        os.close(read_end)
    status = os.waitpid(pid, 0)[1]
    if answer is None:
        return refused(f"the provisioning check did not answer within {CHECKER_TIMEOUT_S:g} "
                       "s and was stopped; nothing was installed")
    try:
        verdict = Verdict.from_json(answer)
    except (ValueError, KeyError, TypeError) as exc:
        return refused(f"the provisioning check stopped ({_status(status)}; {exc}); "
                       "nothing was installed. Fix: check the file with `bodycam-provision "
                       "check` on a laptop; if it passes there, report this camera")
    return verdict


def _child(request: CheckRequest, ids: tuple[int, int] | None, answer_fd: int) -> None:
    """Shed privilege, check, answer, exit (os._exit: nothing of the parent runs here)."""
    code = 1
    try:
        if ids is not None:
            uid, gid = ids
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            if os.getuid() != uid or os.geteuid() != uid or _can_regain_root():
                raise PermissionError("privileges were not dropped")
        make_undumpable()  # no other process of this uid may ptrace it and alter the answer
        verdict = check(request)
        code = 0
    except BaseException as exc:  # whatever happens: answer, then exit
        fix = (" Fix: the firstboot units need CAP_SETUID and CAP_SETGID (reinstall with "
               "tools/install/install.sh)" if isinstance(exc, PermissionError) else "")
        verdict = refused(f"the provisioning check failed ({type(exc).__name__}: "
                          f"{redacted_text(str(exc))}); nothing was installed.{fix}")
    try:
        view = memoryview(verdict.to_json())
        while view:
            view = view[os.write(answer_fd, view):]
    finally:
        os._exit(code)


def _load_lazy_modules() -> None:
    """Import now what the check imports on first use: once it is `nobody`, the child
    may not be allowed to read the Python library (e.g. a Python installed below /root)."""
    codecs.lookup("utf-8-sig")
    shipped_file(DEFAULTS_NAME)  # importlib.resources loads its readers lazily


def _can_regain_root() -> bool:
    try:
        os.setuid(0)
    except PermissionError:
        return False
    return True


def _read_answer(fd: int, pid: int) -> bytes | None:
    """Everything the child writes until it closes the pipe; None (child killed) when
    that takes longer than CHECKER_TIMEOUT_S."""
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + CHECKER_TIMEOUT_S
    while True:
        remaining = deadline - time.monotonic()
        ready = select.select([fd], [], [], max(remaining, 0))[0] if remaining > 0 else []
        if not ready:
            os.kill(pid, signal.SIGKILL)
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > _MAX_ANSWER:
            os.kill(pid, signal.SIGKILL)
            return b"".join(chunks)  # cut: fails to decode, a refusal
        chunks.append(chunk)


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit {os.waitstatus_to_exitcode(status)}"
