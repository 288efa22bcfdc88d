"""The production stack file: valid, and built the way the README says it scales."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_docker_compose_accepts_the_file() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("REQUIRE_COMPOSE"):
            pytest.fail("docker-compose is required here (apt-get install -y docker-compose)")
        pytest.skip("docker-compose is not installed (apt-get install -y docker-compose)")
    result = subprocess.run(
        [binary, "config", "-q"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_the_stack_has_every_role_with_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker"}
    for name in ("postgres", "redis", "web"):
        assert "healthcheck" in services[name], name
    assert services["migrate"]["command"] == ["python", "-m", "app.infra.migrate"]
    assert services["migrate"]["restart"] == "no"
    for role in ("web", "worker"):
        assert services[role]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_workers_scale_and_redis_keeps_what_it_holds(compose: dict[str, Any]) -> None:
    services = compose["services"]
    worker = services["worker"]
    assert "ports" not in worker, "a worker must not bind a host port, or it cannot scale"
    assert "container_name" not in worker
    assert worker["command"] == ["python", "-m", "jobs"]
    redis = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis
    assert "--maxmemory-policy noeviction" in redis
    assert set(compose["volumes"]) == {"pgdata", "redisdata"}


def test_the_image_runs_as_a_non_root_user_in_two_stages() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.count("\nFROM ") + dockerfile.startswith("FROM ") >= 2
    assert "\nUSER engine" in dockerfile
    for path in ("app", "jobs", "migrations", "templates", "static", "piccolo_conf.py"):
        assert f" {path}" in dockerfile, f"{path} must be in the image"
