"""The namespace pair of the test kit: linked, isolated, and gone afterwards even on failure."""

from __future__ import annotations

import subprocess

import pytest

from cityhub.testing.netns import LineReader, NamespaceEnd, netns_pair, netns_unavailable

pytestmark = pytest.mark.skipif(
    netns_unavailable() is not None, reason=netns_unavailable() or "namespaces available"
)


def namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def failing_test(seen: list[NamespaceEnd], sleepers: list[subprocess.Popen[str]]) -> None:
    with netns_pair() as (a, b):
        seen += [a, b]
        links = a.run(["ip", "-o", "addr", "show", "dev", a.interface]).stdout
        assert f"inet {a.address}/24" in links
        routes = b.run(["ip", "route", "show", "224.0.0.0/4"]).stdout
        assert f"dev {b.interface}" in routes
        # b reaches a over the link: a TCP connection to a closed port is refused
        probe = b.run(["bash", "-c", f"exec 3<>/dev/tcp/{a.address}/9 || true"])
        assert "Connection refused" in probe.stderr
        sleeper = b.spawn(["bash", "-c", "echo up; exec sleep 600"])
        sleepers.append(sleeper)
        assert LineReader(sleeper).wait_for(lambda line: line == "up", 30) == "up"
        assert a.name in namespaces()
        raise RuntimeError("test failed")


def test_pair_is_linked_and_removed_with_its_processes_on_failure() -> None:
    seen: list[NamespaceEnd] = []
    sleepers: list[subprocess.Popen[str]] = []

    with pytest.raises(RuntimeError, match="test failed"):
        failing_test(seen, sleepers)

    assert len(seen) == 2
    assert sleepers[0].poll() is not None
    listed = namespaces()
    assert seen[0].name not in listed
    assert seen[1].name not in listed
