"""A real network link for tests and benchmarks: a namespace and a veth pair.

The offload's faults (a link cut in the middle of a segment) and its throughput on a
dock's 50 Mbit/s uplink are tested on a real kernel link, not a mock: the far end lives
in a network namespace of its own, joined to this one by a veth pair, shaped with
`tc ... tbf` and cut with `ip link set ... down`. This machine's kernel has no netem, so
delay and loss are not offered. Needs root (CI runs as root) and iproute2.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Final

__all__ = ["MISSING", "VethLink"]

MISSING: Final = ("ip (iproute2) is not installed or this is not root: the network tests "
                  "need both (`make .venv/.dev` installs iproute2; CI runs as root)")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def _choosing() -> Iterator[None]:
    """Held from choosing a free subnet until its address is on a link: test processes
    running side by side (pytest-xdist workers, other people's benchmarks) otherwise may
    both see 10.77.N.0/24 free and both take it."""
    with (Path(tempfile.gettempdir()) / "bodycam-netns.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _free_octet() -> int:
    """A third octet no 10.77.N.0/24 on this host uses yet: several links (tests and
    benchmarks of other people on one machine) must not share a route."""
    listed = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True,
                            text=True, check=False).stdout
    used = {int(match) for match in re.findall(r"inet 10\.77\.(\d+)\.", listed)}
    free = [octet for octet in range(1, 251) if octet not in used]
    if not free:
        raise RuntimeError("every 10.77.N.0/24 test subnet is in use: remove stale links "
                           "(`ip -o addr show | grep 10.77.`, then `ip link del NAME`)")
    return free[secrets.randbelow(len(free))]


class VethLink:
    """`with VethLink() as link:` a namespace `link.namespace` whose address
    `link.far_address` this side reaches at `link.near_address`; both ends up."""

    def __init__(self, *, subnet: int | None = None, rate_mbit: float | None = None) -> None:
        """`subnet`: the third octet of 10.77.N.0/24 (random when None); `rate_mbit`
        shapes this side's sending with a token bucket (tbf) to that rate."""
        tag = secrets.token_hex(3)
        self.namespace = f"bc-{tag}"
        self._near, self._far = f"bcn{tag}", f"bcf{tag}"
        self._subnet = subnet
        self.near_address = self.far_address = ""
        self._rate = rate_mbit
        self._up = False

    def __enter__(self) -> VethLink:
        if shutil.which("ip") is None:
            raise RuntimeError(MISSING)
        _ip("netns", "add", self.namespace)
        try:
            _ip("link", "add", self._near, "type", "veth", "peer", "name", self._far)
            _ip("link", "set", self._far, "netns", self.namespace)
            with _choosing():
                octet = self._subnet if self._subnet is not None else _free_octet()
                self.near_address, self.far_address = f"10.77.{octet}.1", f"10.77.{octet}.2"
                _ip("addr", "add", f"{self.near_address}/24", "dev", self._near)
            self.run(["ip", "addr", "add", f"{self.far_address}/24", "dev", self._far])
            self.run(["ip", "link", "set", "lo", "up"])
            self.restore()
            if self._rate is not None:
                self.shape(self._rate)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        subprocess.run(["ip", "link", "del", self._near], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True,
                       check=False)

    def run(self, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """Run `command` inside the namespace (the far end) and wait for it."""
        return subprocess.run([*self.prefix, *command], check=True,
                              capture_output=True, text=True)

    def popen(self, command: Sequence[str], *, env: Mapping[str, str] | None = None,
              output: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
        """Start `command` inside the namespace (a server on the far end); its output to
        pipes, or both streams to `output` (a log file: a chatty server never blocks on
        a full pipe). `ip netns exec` execs the command: the process is the server."""
        stdout: IO[bytes] | int = output if output is not None else subprocess.PIPE
        stderr: IO[bytes] | int = subprocess.STDOUT if output is not None else subprocess.PIPE
        return subprocess.Popen(self.prefix + list(command), stdout=stdout, stderr=stderr,
                                env=dict(env) if env is not None else None)

    @property
    def prefix(self) -> list[str]:
        """What runs a command inside the namespace."""
        return ["ip", "netns", "exec", self.namespace]

    def shape(self, rate_mbit: float) -> None:
        """Limit what this side sends to `rate_mbit` (a dock's uplink)."""
        subprocess.run(["tc", "qdisc", "replace", "dev", self._near, "root", "tbf", "rate",
                        f"{rate_mbit}mbit", "burst", "64kb", "latency", "50ms"],
                       check=True, capture_output=True)

    def shaper(self) -> dict[str, int]:
        """The near side's tbf counters: `sent` bytes and `overlimits` (packets the
        token bucket held back: the shaping acted); empty when the link is not shaped."""
        shown = subprocess.run(["tc", "-s", "qdisc", "show", "dev", self._near], check=True,
                               capture_output=True, text=True).stdout
        if "tbf" not in shown:
            return {}
        sent = re.search(r"Sent (\d+) bytes", shown)
        held = re.search(r"overlimits (\d+)", shown)
        return {"sent": int(sent.group(1)) if sent else 0,
                "overlimits": int(held.group(1)) if held else 0}

    def cut(self) -> None:
        """The cable pulled: both ends down, packets in flight lost."""
        _ip("link", "set", self._near, "down")
        self.run(["ip", "link", "set", self._far, "down"])
        self._up = False

    def restore(self) -> None:
        _ip("link", "set", self._near, "up")
        self.run(["ip", "link", "set", self._far, "up"])
        self._up = True

    @property
    def up(self) -> bool:
        return self._up
