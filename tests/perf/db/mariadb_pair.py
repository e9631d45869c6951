"""A MariaDB primary and one replica of it on free loopback ports, for the lag check's test.

Built with mariadb-install-db and mariadbd in a temporary directory (as the `mysql` user when
run as root); the suite's MariaDB on 3306 is never touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from banrimkwae.perf.db.local_cluster import ClusterError, free_port

MARIADBD = Path("/usr/sbin/mariadbd")
INSTALL_DB = Path("/usr/bin/mariadb-install-db")


@dataclass
class _Server:
    name: str
    data_dir: Path
    port: int
    server_id: int
    process: subprocess.Popen[bytes] | None = None


@dataclass
class MariaDBPair:
    base_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bk-maria-")))
    servers: list[_Server] = field(default_factory=list)

    def url(self, index: int, database: str = "mysql") -> str:
        return f"mysql+asyncmy://root@127.0.0.1:{self.servers[index].port}/{database}"

    def start(self) -> None:
        if not MARIADBD.exists() or not INSTALL_DB.exists():
            raise ClusterError("MariaDB server binaries are not installed")
        if os.geteuid() == 0:
            shutil.chown(self.base_dir, "mysql", "mysql")
        for index, name in enumerate(("primary", "replica"), start=1):
            server = _Server(name, self.base_dir / name, free_port(), index)
            self._run(
                str(INSTALL_DB),
                f"--datadir={server.data_dir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--no-defaults",
            )
            self._launch(server)
            self.servers.append(server)
        primary = self.servers[0]
        self.sql(
            self.servers[1],
            (
                f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port},"
                " MASTER_USER='root', MASTER_USE_GTID=slave_pos; START REPLICA"
            ),
        )

    def _launch(self, server: _Server) -> None:
        command = [
            str(MARIADBD),
            "--no-defaults",
            f"--datadir={server.data_dir}",
            f"--port={server.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.base_dir}/{server.name}.sock",
            f"--pid-file={self.base_dir}/{server.name}.pid",
            f"--server-id={server.server_id}",
            "--log-bin=mariadb-bin",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=32M",
        ]
        if os.geteuid() == 0:
            command.append("--user=mysql")
        log_path = self.base_dir / f"{server.name}.log"
        with log_path.open("ab") as log:
            server.process = subprocess.Popen(command, stdout=log, stderr=log, cwd=self.base_dir)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise ClusterError(f"mariadbd {server.name} exited: {log_path.read_text()[-300:]}")
            if self._ping(server):
                return
            time.sleep(0.2)
        raise ClusterError(f"mariadbd {server.name} did not start")

    def _ping(self, server: _Server) -> bool:
        done = subprocess.run(
            ["mariadb-admin", "--no-defaults", "-h127.0.0.1", f"-P{server.port}", "-uroot", "ping"],
            capture_output=True,
            check=False,
        )
        return done.returncode == 0

    def sql(self, server: _Server, statement: str) -> str:
        done = subprocess.run(
            [
                "mariadb",
                "--no-defaults",
                "-h127.0.0.1",
                f"-P{server.port}",
                "-uroot",
                "-Nse",
                statement,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise ClusterError(f"mariadb: {done.stderr.strip()}")
        return done.stdout

    def _run(self, *command: str) -> None:
        full = list(command)
        if os.geteuid() == 0:
            full = ["runuser", "-u", "mysql", "--", *full]
        done = subprocess.run(full, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ClusterError(f"{command[0]} failed: {done.stderr.strip()[-300:]}")

    def destroy(self) -> None:
        for server in self.servers:
            if server.process is not None and server.process.poll() is None:
                server.process.terminate()
                try:
                    server.process.wait(30)
                except subprocess.TimeoutExpired:
                    server.process.kill()
                    server.process.wait()
        shutil.rmtree(self.base_dir, ignore_errors=True)
