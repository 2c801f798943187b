"""The deployment files agree with each other and with the package.

Docker and Helm cannot run here (no registry for images), so what can drift silently is pinned:
the storage driver, the environment variable names, the concurrency limits, the module the
code location loads, loopback-only ports, and the chart's release matching our dagster pin.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _yaml(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _pin(requirements: list[str], name: str) -> str:
    spec = next(r for r in requirements if re.split(r"[=<>\[]", r)[0] == name)
    return spec.split("==", 1)[1]


def test_instance_storage_pins_the_psycopg2_driver_and_reads_the_environment() -> None:
    postgres_db = _yaml("dagster.yaml")["storage"]["postgres"]["postgres_db"]
    assert postgres_db["scheme"] == "postgresql+psycopg2"
    assert {k: v["env"] for k, v in postgres_db.items() if k != "scheme"} == {
        "hostname": "DAGSTER_PG_HOST", "port": "DAGSTER_PG_PORT", "username": "DAGSTER_PG_USER",
        "password": "DAGSTER_PG_PASSWORD", "db_name": "DAGSTER_PG_DB"}


def test_compose_gives_every_service_the_storage_variables_and_binds_loopback_only() -> None:
    compose = _yaml("docker-compose.yaml")
    wanted = {v["env"] for k, v in _yaml("dagster.yaml")["storage"]["postgres"]["postgres_db"]
              .items() if k != "scheme"}
    for name in ("code", "webserver", "daemon"):
        service = compose["services"][name]
        assert wanted <= set(service["environment"]), name
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    assert "ports" not in compose["services"]["dagster-postgres"]
    assert (DEPLOY / ".env.example").exists()
    assert "deploy/.env" in (ROOT / ".gitignore").read_text().split()


def test_helm_values_mirror_the_instance_config() -> None:
    instance = _yaml("dagster.yaml")
    values = _yaml("helm/values.yaml")
    assert values["postgresql"]["postgresqlScheme"] == \
        instance["storage"]["postgres"]["postgres_db"]["scheme"]
    runs = instance["concurrency"]["runs"]
    assert values["concurrency"]["runs"]["maxConcurrentRuns"] == runs["max_concurrent_runs"]
    assert values["concurrency"]["runs"]["tagConcurrencyLimits"] == runs["tag_concurrency_limits"]
    assert values["concurrency"]["pools"]["defaultLimit"] == \
        instance["concurrency"]["pools"]["default_limit"]
    assert values["dagsterDaemon"]["runCoordinator"]["type"] == \
        instance["run_coordinator"]["class"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"


def test_code_location_module_is_the_one_the_package_declares() -> None:
    module = _pyproject()["tool"]["dagster"]["module_name"]
    deployment = _yaml("helm/values.yaml")["dagster-user-deployments"]["deployments"][0]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", module]
    assert f'"-m", "{module}"' in (DEPLOY / "Dockerfile").read_text()
    workspace = _yaml("workspace.yaml")["load_from"][0]["grpc_server"]
    assert workspace["location_name"] == _pyproject()["tool"]["dagster"]["code_location_name"]


def test_kubernetes_launcher_matches_the_dagster_pin() -> None:
    project = _pyproject()["project"]
    assert _pin(project["optional-dependencies"]["k8s"], "dagster-k8s") == \
        _pin(project["dependencies"], "dagster-postgres")
    assert "pip install '.[k8s]'" in (DEPLOY / "Dockerfile").read_text()
    chart = re.search(r"--version (\S+)", (DEPLOY / "helm" / "values.yaml").read_text())
    assert chart and chart.group(1) == _pin(project["dependencies"], "dagster")
