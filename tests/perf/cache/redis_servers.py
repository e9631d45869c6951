"""Real Redis servers for the cache tests: private standalone servers and a Redis Cluster,
started from /usr/bin/redis-server on free loopback ports, in temporary directories.

A Cluster is 3 masters + 3 replicas; slots are assigned with CLUSTER ADDSLOTSRANGE, nodes
joined with CLUSTER MEET and replicas attached with CLUSTER REPLICATE, then we wait for
cluster_state:ok everywhere. A short cluster-node-timeout keeps failover tests quick.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
NODE_TIMEOUT_MS = 1500
_SLOT_RANGES = ((0, 5460), (5461, 10922), (10923, 16383))


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int, *, with_bus: bool = False) -> list[int]:
    """Ports free now on 127.0.0.1 (and port + 10000 too, for a Cluster's bus)."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randint(20000, 45000)
        if port in ports or not _port_free(port):
            continue
        if with_bus and not _port_free(port + 10000):
            continue
        ports.append(port)
    return ports


def _wait(predicate: object, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(redis.RedisError, OSError):
            if predicate():  # type: ignore[operator]
                return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


@dataclass
class RedisServer:
    port: int
    directory: Path
    extra: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            REDIS_SERVER,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "no",
            *self.extra,
        ]  # fmt: skip
        with (self.directory / "redis.log").open("ab") as log:  # the child keeps its own fd
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        _wait(self.ping, f"redis-server on {self.port}", 10)

    def ping(self) -> bool:
        with redis.Redis(port=self.port, socket_timeout=0.5) as client:
            return bool(client.ping())

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-conversation, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class RedisCluster:
    directory: Path
    nodes: list[RedisServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    @property
    def seeds_url(self) -> str:
        """Every node as a seed: a client can start while any one of them is down."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def start(self) -> None:
        for port in free_ports(6, with_bus=True):
            node = RedisServer(
                port,
                self.directory / str(port),
                (
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                    # Serve what slots are covered even while one is failing over.
                    "--cluster-require-full-coverage", "no",
                    # A replica's full sync starts at once, not after the default 5 s wait
                    # for more replicas to share the transfer (each master has one).
                    "--repl-diskless-sync-delay", "0",
                ),
            )  # fmt: skip
            node.start()
            self.nodes.append(node)
        masters, replicas = self.nodes[:3], self.nodes[3:]
        for master, (first, last) in zip(masters, _SLOT_RANGES, strict=True):
            with master.client() as client:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
        with self.nodes[0].client() as first_client:
            for node in self.nodes[1:]:
                first_client.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
        _wait(lambda: all(_known_nodes(n) == 6 for n in self.nodes), "cluster meet")
        for master, replica in zip(masters, replicas, strict=True):
            master_id = _node_id(master)
            _wait(lambda r=replica, m=master_id: _replicate(r, m), "cluster replicate")
        _wait(self.healthy, "cluster_state:ok")
        _wait(lambda: all(_link_up(r) for r in replicas), "replicas in sync")

    def healthy(self) -> bool:
        """Every live node reports cluster_state:ok and every slot range has a replica."""
        for node in self.live_nodes():
            with node.client() as client:
                info = client.execute_command("CLUSTER", "INFO")
                text = info.decode() if isinstance(info, bytes) else str(info)
                if "cluster_state:ok" not in text:
                    return False
        return True

    def live_nodes(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def master_of_slot(self, slot: int) -> RedisServer:
        with self.live_nodes()[0].client() as client:
            for first, last, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                if first <= slot <= last:
                    port = int(master[1])
                    return next(n for n in self.nodes if n.port == port)
        raise LookupError(slot)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _known_nodes(node: RedisServer) -> int:
    with node.client() as client:
        listing = client.execute_command("CLUSTER", "NODES")
        text = listing.decode() if isinstance(listing, bytes) else str(listing)
        return len([line for line in text.splitlines() if line.strip()])


def _node_id(node: RedisServer) -> str:
    with node.client() as client:
        raw = client.execute_command("CLUSTER", "MYID")
        return raw.decode() if isinstance(raw, bytes) else str(raw)


def _link_up(replica: RedisServer) -> bool:
    with replica.client() as client:
        return bool(client.info("replication").get("master_link_status") == "up")


def _replicate(replica: RedisServer, master_id: str) -> bool:
    with replica.client() as client:
        client.execute_command("CLUSTER", "REPLICATE", master_id)
    return True
