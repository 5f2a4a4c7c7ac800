"""Network namespaces for tests of multicast discovery: two namespaces joined by a veth pair.

Multicast (WS-Discovery, mDNS) sent from the machine's own namespace reaches the real
network. A test that needs it creates two namespaces, runs the announcing side in one and the
discovering side in the other, and nothing it sends leaves them::

    with netns_pair() as (a, b):
        announcer = a.spawn([sys.executable, "-m", "cityhub.testing.wsdiscovery",
                             "--bind", a.address, "--xaddr", f"http://{a.address}/onvif"])
        LineReader(announcer).wait_for(lambda line: line.startswith("ready"))
        result = subprocess.run(b.command("cityhub", "discover", "--json"), ...)

The namespaces, the veth pair and every process spawned in them are removed when the block
ends, even on failure. Needs root and iproute2's ``ip``; :func:`netns_unavailable` says why
not, for ``pytest.skip``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

import attrs

__all__ = ["LineReader", "NamespaceEnd", "netns_pair", "netns_unavailable"]

MULTICAST_ROUTE: Final = "224.0.0.0/4"
PREFIX_LEN: Final = 24
TERMINATE_TIMEOUT_S: Final = 5.0
"""How long a process spawned in a namespace may take to exit on SIGTERM before SIGKILL."""


@functools.cache
def netns_unavailable() -> str | None:
    """Why network namespaces cannot be made here (not root, no ``ip``, refused), or ``None``.

    The first call tries: it adds a namespace and deletes it at once.
    """
    if shutil.which("ip") is None:
        return "network namespace tests need iproute2's 'ip' command"
    if os.geteuid() != 0:
        return "network namespace tests need root (ip netns add)"
    name = f"chub-check-{secrets.token_hex(3)}"
    added = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if added.returncode != 0:
        return f"network namespaces are refused here: {added.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    return None


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"'ip {' '.join(args)}' failed: {result.stderr.strip()}")


@attrs.define
class NamespaceEnd:
    """One namespace of a pair: its name, its end of the veth link and that end's address."""

    name: str
    interface: str
    address: str
    processes: list[subprocess.Popen[str]] = attrs.field(factory=list)

    def command(self, *argv: str) -> list[str]:
        """``argv`` prefixed to run inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in this namespace to completion (text output captured)."""
        kwargs.setdefault("capture_output", True)
        return subprocess.run(self.command(*argv), text=True, check=False, **kwargs)

    def spawn(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[str]:
        """Start ``argv`` in this namespace (stdout piped, text); it is killed at the end."""
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        process = subprocess.Popen(self.command(*argv), text=True, **kwargs)
        self.processes.append(process)
        return process

    def add_address(self, address: str) -> None:
        """Give this end's interface one more address in the pair's subnet."""
        _ip("-n", self.name, "addr", "add", f"{address}/{PREFIX_LEN}", "dev", self.interface)

    def _stop_processes(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(TERMINATE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _setup_end(end: NamespaceEnd) -> None:
    _ip("-n", end.name, "link", "set", "lo", "up")
    _ip("-n", end.name, "addr", "add", f"{end.address}/{PREFIX_LEN}", "dev", end.interface)
    _ip("-n", end.name, "link", "set", end.interface, "up")
    _ip("-n", end.name, "route", "add", MULTICAST_ROUTE, "dev", end.interface)


@contextlib.contextmanager
def netns_pair(prefix: str = "chub") -> Iterator[tuple[NamespaceEnd, NamespaceEnd]]:
    """Two fresh namespaces ``PREFIX-a-XXXX`` and ``PREFIX-b-XXXX`` linked by a veth pair.

    Side a gets ``10.X.Y.1/24``, side b ``10.X.Y.2/24`` (X and Y random), both links and
    ``lo`` up, and a multicast route through the link. The veth pair is created directly in
    the namespaces: it never exists in the machine's own namespace.
    """
    token = secrets.token_hex(3)
    subnet = f"10.{secrets.choice(range(64, 250))}.{secrets.choice(range(256))}"
    a = NamespaceEnd(f"{prefix}-a-{token}", f"cha{token}", f"{subnet}.1")
    b = NamespaceEnd(f"{prefix}-b-{token}", f"chb{token}", f"{subnet}.2")
    created: list[str] = []
    try:
        for end in (a, b):
            _ip("netns", "add", end.name)
            created.append(end.name)
        _ip(
            "link", "add", a.interface, "netns", a.name, "type", "veth",
            "peer", "name", b.interface, "netns", b.name,
        )  # fmt: skip
        _setup_end(a)
        _setup_end(b)
        yield a, b
    finally:
        for end in (a, b):
            end._stop_processes()
        for name in created:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


class LineReader:
    """Reads a process's stdout lines in a thread, so a test can wait for one with a timeout."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        if process.stdout is None:
            raise ValueError("the process needs stdout=subprocess.PIPE")
        self.lines: list[str] = []
        """Every line read so far, without its newline."""
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stream = process.stdout
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._stream:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30.0) -> str:
        """The next line satisfying ``predicate``.

        Raises ``TimeoutError`` when none comes within ``timeout`` seconds and ``EOFError`` when
        the output ends first; both messages list the lines read so far.
        """
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._queue.get(timeout=max(remaining, 0.001))
            except queue.Empty:
                raise TimeoutError(
                    f"no matching line within {timeout:g} s; lines so far: {self.lines}"
                ) from None
            if line is None:
                self._queue.put(None)  # later waits end at once too
                raise EOFError(f"the output ended without a matching line; lines: {self.lines}")
            self.lines.append(line)
            if predicate(line):
                return line
