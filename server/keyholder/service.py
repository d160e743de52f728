"""`bodycam-keyholder serve`: the key holder on a Unix socket, and nowhere else.

The socket is the only way in: mode 0660, owned by the key holder's user and (with
`socket_group`) a group the evidence server's user is in, so no other local user and
nothing on the network can ask. Each connection carries one request; the peer's pid,
uid and gid (SO_PEERCRED) go into every log record. Operations:

    {"op": "hello"}                      the log key, the recipients held, the limits
    {"op": "unwrap", "request": {...}}   a grant request (request.py) -> headers
    {"op": "log", "after": SEQ}          the log's lines after SEQ (for the server's pull)

Requests are handled one at a time under the key holder's lock (a re-wrap takes well
under a millisecond per segment: docs/keyholder.md has the figures).
"""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import signal
import socket
import socketserver
import stat
import struct
import threading
from pathlib import Path
from typing import Any, Final

from bodycam.server.keyholder.config import KeyholderError
from bodycam.server.keyholder.errors import RefusedError
from bodycam.server.keyholder.holder import KeyHolder
from bodycam.server.keyholder.log import MAX_PULL
from bodycam.server.keyholder.wire import FrameError, receive, send

__all__ = ["SOCKET_MODE", "KeyholderService", "peer_of"]

SOCKET_MODE: Final = 0o660
_LOG = logging.getLogger("bodycam.keyholder")
_CREDENTIALS = struct.Struct("3i")


def peer_of(sock: socket.socket) -> dict[str, Any]:
    """Who is on the other end of a Unix socket (the kernel's word, not the peer's)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size)
    pid, uid, gid = _CREDENTIALS.unpack(raw)
    return {"pid": pid, "uid": uid, "gid": gid}


class _Handler(socketserver.BaseRequestHandler):
    server: KeyholderService

    def handle(self) -> None:
        holder = self.server.holder
        sock: socket.socket = self.request
        sock.settimeout(30.0)
        peer = peer_of(sock)
        try:
            document = receive(sock)
        except (FrameError, OSError) as exc:
            refusal = RefusedError("malformed", f"no whole request arrived ({exc})")
            holder.refuse(refusal, peer)
            with contextlib.suppress(OSError):
                send(sock, {"ok": False, "error": refusal.to_json()})
            return
        with contextlib.suppress(OSError):  # a peer that left gets no answer; all is logged
            send(sock, self._answer(holder, document, peer))

    @staticmethod
    def _answer(holder: KeyHolder, document: dict[str, Any], peer: dict[str, Any]
                ) -> dict[str, Any]:
        op = document.get("op")
        if op == "unwrap":
            try:
                response = holder.unwrap(document.get("request"), peer)
            except RefusedError as refusal:
                _LOG.warning("refused (%s): %s", refusal.rule, refusal.message)
                return {"ok": False, "error": refusal.to_json()}
            _LOG.info("unlock %s, %d segments, log seq %d", response.recording_id,
                      len(response.segments), response.log_seq)
            return {"ok": True, "response": response.to_json()}
        if op == "log":
            after = document.get("after", -1)
            if type(after) is not int:
                return {"ok": False, "error": {"rule": "malformed",
                                               "message": "'after' must be a whole number"}}
            return {"ok": True, "lines": holder.log.lines_after(after, MAX_PULL)}
        if op == "hello":
            return {"ok": True, "log_key": holder.log.key.b64,
                    "log_key_fingerprint": holder.log.key.fingerprint,
                    "recipients": holder.recipients(),
                    "max_segments": holder.settings.max_segments,
                    "max_lifetime_seconds": holder.settings.max_lifetime_seconds}
        return {"ok": False, "error": {"rule": "malformed", "message": f"unknown operation "
                                       f"{str(op)[:40]!r}; the operations are hello, unwrap, "
                                       "log"}}


class KeyholderService(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, holder: KeyHolder) -> None:
        self.holder = holder
        path = holder.settings.socket
        if not path.parent.is_dir():
            raise KeyholderError(f"the socket's directory {path.parent} does not exist. Fix: "
                                 "create it for the key holder's user (the systemd unit's "
                                 "RuntimeDirectory does), or set `socket` in keyholder.toml")
        _clear_stale(path)
        old = os.umask(0o117)  # the socket is born 0660: never briefly open to all
        try:
            super().__init__(str(path), _Handler)
        finally:
            os.umask(old)
        try:
            os.chmod(path, SOCKET_MODE)
            if holder.settings.socket_group:
                os.chown(path, -1, _group_id(holder.settings.socket_group))
        except BaseException:
            self.server_close()
            raise

    def server_close(self) -> None:
        super().server_close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.holder.settings.socket)

    def run(self) -> None:
        """Serve until SIGTERM or SIGINT; then remove the socket."""
        def stop(_signum: int, _frame: object) -> None:
            threading.Thread(target=self.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        _LOG.info("key holder listening on %s (log key %s)", self.holder.settings.socket,
                  self.holder.log.key.fingerprint)
        try:
            self.serve_forever()
        finally:
            self.server_close()


def _group_id(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise KeyholderError(f"socket_group {name!r} does not exist. Fix: create it and put "
                             "the evidence server's user in it, or remove socket_group") from None


def _clear_stale(path: Path) -> None:
    """Remove a socket a stopped key holder left; refuse if one still answers there or
    the path is something else."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise KeyholderError(f"{path} exists and is not a socket. Fix: choose another "
                             "`socket` in keyholder.toml or remove that file")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        os.unlink(path)  # nobody listens: a socket left by a key holder that stopped
        return
    finally:
        probe.close()
    raise KeyholderError(f"another key holder is already listening on {path}")
