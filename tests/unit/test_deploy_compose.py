"""deploy/compose.yaml, checked without a container engine: every service's command, env,
secrets, volumes and dependencies exist, and nginx's template gets every value it needs."""

import re
import shutil

import pytest

from tests.unit.deploy_support import DEPLOY, ROOT, compose, env_file, settings_sources

APP_SERVICES = ["migrate", "web", "worker"]
TEMPLATE = DEPLOY / "nginx" / "mge.conf.template"


def services() -> dict:
    return compose()["services"]


@pytest.mark.parametrize("name", list(compose()["services"]))
def test_every_service_uses_declared_secrets_volumes_and_dependencies(name):
    service = services()[name]
    top = compose()

    assert set(service.get("secrets", [])) <= set(top["secrets"])
    for volume in service.get("volumes", []):
        source = volume.split(":")[0]
        assert source.startswith(".") or source in top["volumes"], volume
    assert set(service.get("depends_on", {})) <= set(top["services"])


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_file_variables_point_at_secrets_the_service_mounts(name):
    service = services()[name]
    for variable, path in service["environment"].items():
        if variable.endswith("_FILE"):
            assert path.removeprefix("/run/secrets/") in service["secrets"], variable


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_variables_are_ones_the_settings_read(name):
    sources = settings_sources()
    for variable in services()[name]["environment"]:
        if variable != "DJANGO_SETTINGS_MODULE":
            assert f'"{variable.removesuffix("_FILE")}"' in sources, variable


def test_the_env_file_the_services_read_has_an_example():
    assert services()["web"]["env_file"] == ".env"
    assert env_file(DEPLOY / "env.example")


@pytest.mark.parametrize("name", ["migrate", "worker"])
def test_app_commands_are_installed(name):
    program, *args = services()[name]["command"]
    assert shutil.which(program) or (ROOT / ".venv" / "bin" / program).exists()
    if args[0] == "manage.py":
        from django.core.management import get_commands

        assert args[1] in get_commands()


def test_the_web_healthcheck_asks_readyz():
    test = " ".join(services()["web"]["healthcheck"]["test"])
    assert "/readyz" in test


def test_secret_files_are_made_by_the_run_book():
    run_book = (DEPLOY / "README.md").read_text()
    for name, secret in compose()["secrets"].items():
        assert secret["file"].removeprefix("./") in run_book, name


def test_the_nginx_template_gets_every_value_it_names():
    named = set(re.findall(r"\$\{(MGE_[A-Z_]+)\}", TEMPLATE.read_text()))
    environment = services()["nginx"]["environment"]
    given = {name for name in environment if name.startswith("MGE_")}

    assert named == given
    assert environment["NGINX_ENVSUBST_FILTER"] == "^MGE_"


def test_the_image_copies_files_that_exist():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (?!--from)(\S+) ", dockerfile, flags=re.MULTILINE):
        assert (ROOT / source).exists(), source
    targets = set(re.findall(r"^FROM \S+ AS (\w+)", dockerfile, flags=re.MULTILINE))
    assert {services()[s]["build"]["target"] for s in ("web", "nginx")} <= targets


def test_the_worker_serves_its_metrics_and_keeps_every_app_variable():
    worker, web = services()["worker"], services()["web"]

    port = worker["environment"]["MGE_WORKER_METRICS_PORT"]
    assert port != "0" and port in worker["expose"]
    assert set(web["environment"]) < set(worker["environment"])
