"""A real Redis Cluster and a real Sentinel setup on loopback ports, started by the tests and stopped by PID.

* :func:`redis_cluster`: three primaries (``redis-server --cluster-enabled
  yes``) joined by ``redis-cli --cluster create``, no replicas, and
  ``cluster-require-full-coverage no`` so that the slots of the primaries still
  running keep answering when one is killed.
* :func:`redis_sentinel`: one primary, one replica and three
  ``redis-server --sentinel`` processes watching the primary as ``mymaster``,
  with a one-second down-after, so a failover takes a few seconds.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.servers import free_port, stop, wait_for_port


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; .ci/run installs redis-server with apt-get")
    return path


def _cli(port: int, *args: str, timeout: float = 10) -> str:
    result = subprocess.run(
        [_binary("redis-cli"), "-p", str(port), *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    return result.stdout + result.stderr


@dataclass
class Topology:
    """The processes of one topology, by role, and the URL handlerkit is given for it."""

    url: str
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def kill(self, role: str) -> None:
        """Kill one process (SIGKILL, by PID): a crash, not a shutdown."""
        proc = self.procs[role]
        proc.kill()
        proc.wait(10)


def _start(args: list[str], directory: Path, name: str) -> subprocess.Popen[bytes]:
    log = open(directory / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(args, cwd=directory, stdout=log, stderr=subprocess.STDOUT)


@contextlib.contextmanager
def redis_cluster(directory: Path) -> Iterator[Topology]:
    """Three cluster primaries; yields ``redis+cluster://`` naming all three."""
    server = _binary("redis-server")
    ports = [free_port() for _ in range(3)]
    topology = Topology(url="redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports))
    try:
        for index, port in enumerate(ports):
            node = directory / f"node-{port}"
            node.mkdir()
            topology.procs[f"primary{index}"] = _start(
                [
                    server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--cluster-enabled", "yes",
                    "--cluster-config-file", str(node / "nodes.conf"),
                    "--cluster-node-timeout", "1000", "--cluster-require-full-coverage", "no",
                    "--cluster-port", str(free_port()),  # not port + 10000, which may pass 65535
                ],
                node, "redis",
            )
            topology.ports[f"primary{index}"] = port
        for index, port in enumerate(ports):
            wait_for_port(port, topology.procs[f"primary{index}"])
        out = _cli(ports[0], "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                   "--cluster-replicas", "0", "--cluster-yes", timeout=30)
        if "[OK] All 16384 slots covered" not in out:
            pytest.fail(f"redis-cli --cluster create failed:\n{out}")
        _wait_until(lambda: "cluster_state:ok" in _cli(ports[0], "cluster", "info"),
                    "the cluster did not reach cluster_state:ok")
        yield topology
    finally:
        for proc in topology.procs.values():
            stop(proc)


@contextlib.contextmanager
def redis_sentinel(directory: Path, service: str = "mymaster") -> Iterator[Topology]:
    """A primary, a replica and three sentinels; yields ``redis+sentinel://HOSTS/SERVICE``."""
    server = _binary("redis-server")
    primary, replica = free_port(), free_port()
    sentinels = [free_port() for _ in range(3)]
    topology = Topology(
        url="redis+sentinel://" + ",".join(f"127.0.0.1:{p}" for p in sentinels) + f"/{service}"
    )
    base = [server, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    try:
        topology.procs["primary"] = _start([*base, "--port", str(primary)], directory, "primary")
        topology.ports["primary"] = primary
        wait_for_port(primary, topology.procs["primary"])
        topology.procs["replica"] = _start(
            [*base, "--port", str(replica), "--replicaof", "127.0.0.1", str(primary)], directory, "replica"
        )
        topology.ports["replica"] = replica
        wait_for_port(replica, topology.procs["replica"])
        _wait_until(lambda: "master_link_status:up" in _cli(replica, "info", "replication"),
                    "the replica did not sync with the primary")
        for index, port in enumerate(sentinels):
            conf = directory / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\n"
                f"sentinel monitor {service} 127.0.0.1 {primary} 2\n"
                f"sentinel down-after-milliseconds {service} 1000\n"
                f"sentinel failover-timeout {service} 5000\n"
                f"sentinel parallel-syncs {service} 1\n"
            )
            topology.procs[f"sentinel{index}"] = _start([server, str(conf), "--sentinel"], directory, f"sentinel{index}")
            topology.ports[f"sentinel{index}"] = port
        for index, port in enumerate(sentinels):
            wait_for_port(port, topology.procs[f"sentinel{index}"])
        _wait_until(
            lambda: all(_field(_cli(p, "sentinel", "master", service), "num-other-sentinels") == "2"
                        for p in sentinels),
            "the sentinels did not find each other",
        )
        yield topology
    finally:
        for proc in topology.procs.values():
            stop(proc)


def _wait_until(ready: Callable[[], bool], failure: str, seconds: float = 20) -> None:
    """Poll *ready* until it holds, or fail the test with *failure* after *seconds*."""
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(failure)
        time.sleep(0.1)


def _field(info: str, name: str) -> str:
    lines = info.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.strip() == name:
            return lines[i + 1].strip()
    return ""


def current_primary(topology: Topology, service: str = "mymaster") -> int:
    """The port the sentinels name as the primary now."""
    out = _cli(topology.ports["sentinel0"], "sentinel", "get-master-addr-by-name", service)
    return int(out.split()[1])
