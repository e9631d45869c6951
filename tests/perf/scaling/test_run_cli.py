"""`banrimkwae autoscale run`: the controller alone, on the orchestrator the settings name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.perf.scaling.conftest import DEPLOYMENT, NAMESPACE
from tests.perf.scaling.kube_api import KubeApiServer

BANRIMKWAE = str(Path(sys.executable).with_name("banrimkwae"))


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BANRIMKWAE, *args],
        env={**os.environ, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_one_cycle_scales_the_deployment_to_the_pin(
    kube_api: KubeApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    env = {
        "BANRIMKWAE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/run.db",
        "BANRIMKWAE_AUTOSCALE_ORCHESTRATOR": "kubernetes",
        "BANRIMKWAE_AUTOSCALE_KUBERNETES_KUBECONFIG": str(kubeconfig),
        "BANRIMKWAE_AUTOSCALE_KUBERNETES_DEPLOYMENT": DEPLOYMENT,
        "BANRIMKWAE_AUTOSCALE_LEADER_LOCK": "database",
    }
    assert _run("migrate", **env).returncode == 0
    assert _run("autoscale", "configure", "--max", "5", **env).returncode == 0
    assert _run("autoscale", "pin", "3", **env).returncode == 0
    result = _run("autoscale", "run", "--once", **env)
    assert result.returncode == 0, result.stderr
    assert "api: scale_up at 3 instances (pinned to 3" in result.stdout
    assert kube_api.deployments[(NAMESPACE, DEPLOYMENT)].replicas == 3
    events = _run("autoscale", "events", **env)
    assert "scale_up" in events.stdout and "scale_triggered" in events.stdout


def test_bad_orchestrator_setups_are_one_line_errors(tmp_path: Path) -> None:
    env = {"BANRIMKWAE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/bad.db"}
    assert _run("migrate", **env).returncode == 0
    missing = _run("autoscale", "run", "--once", **env)
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: no auto_scaling_config for 'api'")
    assert _run("autoscale", "configure", **env).returncode == 0
    for extra, expected in [
        ({}, "the uvicorn orchestrator runs inside `banrimkwae serve --autoscale`"),
        (
            {
                "BANRIMKWAE_AUTOSCALE_ORCHESTRATOR": "kubernetes",
                "BANRIMKWAE_AUTOSCALE_KUBERNETES_KUBECONFIG": str(tmp_path / "absent"),
            },
            "error: kubernetes configuration (kubeconfig",
        ),
        ({"BANRIMKWAE_AUTOSCALE_LEADER_LOCK": "redis"}, "needs BANRIMKWAE_REDIS_URL"),
    ]:
        result = _run("autoscale", "run", "--once", **env, **extra)
        assert result.returncode != 0
        assert expected in result.stderr
        assert result.stderr.strip().count("\n") == 0, result.stderr
