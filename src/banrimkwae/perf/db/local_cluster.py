"""A throwaway PostgreSQL primary with streaming replicas on this machine, for tests and benches.

Built from the server binaries (initdb, pg_ctl, pg_basebackup) in a temporary directory, on
free loopback ports, so that the system's own PostgreSQL is never touched. initdb refuses to
run as root, so as root every command runs as the `postgres` system user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_BIN_DIR = Path(os.environ.get("BANRIMKWAE_PG_BIN", "/usr/lib/postgresql/15/bin"))
DATABASE = "banrimkwae"


class ClusterError(RuntimeError):
    """The local cluster could not be built or started."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class _Node:
    name: str
    data_dir: Path
    port: int


@dataclass
class LocalCluster:
    """`with LocalCluster(replicas=1) as cluster:` -> cluster.primary_url, cluster.replica_urls."""

    replicas: int = 1
    bin_dir: Path = DEFAULT_BIN_DIR
    base_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bk-pg-")))
    primary: _Node | None = None
    standbys: list[_Node] = field(default_factory=list)

    def __enter__(self) -> LocalCluster:
        try:
            self.start()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.destroy()

    # -- URLs -------------------------------------------------------------------------------
    @staticmethod
    def url_for(port: int, *, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://postgres@127.0.0.1:{port}/{DATABASE}"

    @property
    def primary_url(self) -> str:
        assert self.primary is not None
        return self.url_for(self.primary.port)

    @property
    def replica_urls(self) -> list[str]:
        return [self.url_for(node.port) for node in self.standbys]

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        if not (self.bin_dir / "initdb").exists():
            raise ClusterError(f"PostgreSQL server binaries not found in {self.bin_dir}")
        if os.geteuid() == 0:
            shutil.chown(self.base_dir, "postgres", "postgres")
        primary = _Node("primary", self.base_dir / "primary", free_port())
        self._run(
            "initdb",
            "-D",
            str(primary.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        self._configure(primary)
        self._pg_ctl("start", primary)
        self.primary = primary
        self._psql(primary, f"CREATE DATABASE {DATABASE}")
        for index in range(1, self.replicas + 1):
            self.add_replica(f"replica{index}")

    def add_replica(self, name: str) -> str:
        """A new streaming replica of the primary, with its own replication slot."""
        assert self.primary is not None
        node = _Node(name, self.base_dir / name, free_port())
        self._psql(self.primary, f"SELECT pg_create_physical_replication_slot('{name}')")
        self._run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.primary.port),
            "-U",
            "postgres",
            "-D",
            str(node.data_dir),
            "-R",
            "-S",
            name,
            "-X",
            "stream",
            "--no-sync",
            "--checkpoint=fast",
        )
        self._configure(node)
        self._pg_ctl("start", node)
        self.standbys.append(node)
        return self.url_for(node.port)

    def stop_replica(self, index: int = 0) -> None:
        self._pg_ctl("stop", self.standbys[index], "-m", "fast")

    def start_replica(self, index: int = 0) -> None:
        self._pg_ctl("start", self.standbys[index])

    def destroy(self) -> None:
        for node in [*self.standbys, *([self.primary] if self.primary else [])]:
            if (node.data_dir / "postmaster.pid").exists():
                with contextlib.suppress(ClusterError):
                    self._pg_ctl("stop", node, "-m", "immediate")
        shutil.rmtree(self.base_dir, ignore_errors=True)

    # -- helpers ----------------------------------------------------------------------------
    def _configure(self, node: _Node) -> None:
        settings = {
            "port": str(node.port),
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.base_dir}'",
            "wal_level": "replica",
            "max_wal_senders": "10",
            "max_replication_slots": "10",
            "hot_standby": "on",
            "hot_standby_feedback": "on",
            # Throwaway data: durability costs time and buys nothing here.
            "fsync": "off",
            "full_page_writes": "off",
            "shared_buffers": "64MB",
            "max_connections": "200",
        }
        with (node.data_dir / "postgresql.conf").open("a") as conf:
            conf.write("\n# banrimkwae local cluster\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        if os.geteuid() == 0:
            shutil.chown(node.data_dir / "postgresql.conf", "postgres", "postgres")

    def _pg_ctl(self, action: str, node: _Node, *extra: str) -> None:
        log = self.base_dir / f"{node.name}.log"
        self._run(
            "pg_ctl", action, "-D", str(node.data_dir), "-l", str(log), "-w", "-t", "60", *extra
        )
        if action == "start":
            self._wait_ready(node)

    def _wait_ready(self, node: _Node) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready = subprocess.run(
                [str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(node.port)],
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise ClusterError(f"{node.name} did not accept connections on port {node.port}")

    def _psql(self, node: _Node, sql: str) -> str:
        return self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(node.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-XAtqc",
            sql,
        )

    def _run(self, program: str, *args: str) -> str:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, check=False, cwd=self.base_dir
        )
        if done.returncode != 0:
            message = (done.stderr or done.stdout).strip().splitlines()
            raise ClusterError(f"{program} failed: {message[-1] if message else done.returncode}")
        return done.stdout
