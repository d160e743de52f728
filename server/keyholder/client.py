"""The evidence server's side of the key holder's socket."""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Any

from bodycam.server.keyholder.request import UnwrapRequest, UnwrapResponse
from bodycam.server.keyholder.wire import FrameError, receive, send

__all__ = ["KeyholderClient", "KeyholderRefusedError", "KeyholderUnavailableError"]


class KeyholderUnavailableError(ConnectionError):
    """The key holder cannot be reached: nothing can be viewed. The message says why."""


class KeyholderRefusedError(PermissionError):
    """The key holder refused the grant (and recorded that); `rule` names why."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"the key holder refused ({rule}): {message}")
        self.rule = rule
        self.message = message


def _unreachable(path: Path, exc: OSError) -> KeyholderUnavailableError:
    if exc.errno in (errno.ENOENT, errno.ECONNREFUSED):
        why = "is not running (nothing listens on its socket)"
        fix = "start it (systemctl start bodycam-keyholder, or bodycam-keyholder serve)"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        why = "refuses this user (the socket is 0660)"
        fix = "put the evidence server's user in the key holder's socket_group"
    else:
        why = f"cannot be reached ({exc.strerror or exc})"
        fix = "check the key holder's journal"
    return KeyholderUnavailableError(f"the key holder at {path} {why}, so no recording can be "
                                f"viewed now. Fix: {fix}")


class KeyholderClient:
    def __init__(self, path: Path, timeout: float = 60.0) -> None:
        self.path = path
        self._timeout = timeout

    def _call(self, document: dict[str, Any]) -> dict[str, Any]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self._timeout)
        try:
            try:
                sock.connect(str(self.path))
            except OSError as exc:
                raise _unreachable(self.path, exc) from None
            try:
                send(sock, document)
                answer = receive(sock)
            except (FrameError, OSError) as exc:
                raise KeyholderUnavailableError(f"the key holder at {self.path} stopped before it "
                                           f"answered ({exc}); nothing was viewed. Fix: check "
                                           "its journal and ask again") from None
        finally:
            sock.close()
        if answer.get("ok") is not True:
            error = answer.get("error")
            error = error if isinstance(error, dict) else {}
            raise KeyholderRefusedError(str(error.get("rule", "unknown")),
                                        str(error.get("message", "no reason given")))
        return answer

    def hello(self) -> dict[str, Any]:
        return self._call({"op": "hello"})

    def unwrap(self, request: UnwrapRequest) -> UnwrapResponse:
        answer = self._call({"op": "unwrap", "request": request.to_json()})
        try:
            return UnwrapResponse.from_json(answer.get("response"))
        except ValueError as exc:
            raise KeyholderUnavailableError(f"the key holder's answer is not readable: {exc}"
                                       ) from None

    def lines_after(self, after: int) -> list[str]:
        lines = self._call({"op": "log", "after": after}).get("lines")
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            raise KeyholderUnavailableError("the key holder's log answer is not a list of lines")
        return lines
