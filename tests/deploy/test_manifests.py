"""deploy/: the compose file, the Dockerfile and the Kubernetes manifests, CHECKED, NOT RUN.

The development machine and CI have neither Docker nor Kubernetes, so nothing here builds an
image or starts a container. What is checked, offline:

- syntax: every file parses as YAML;
- schema: deploy/compose.yml against the Compose Specification's JSON schema (vendored in the
  `check-jsonschema` package), each Kubernetes object against its JSON schema in *strict* mode
  (unknown fields refused; bundled in the `kubernetes-validate` package) for the oldest version
  the manifests claim (KUBERNETES_VERSION) and the newest one the package knows;
- consistency with roo: every environment variable the files give a roo process is a setting of
  `roo.config.Settings` (by its environment names), with a value it takes where the setting has
  a fixed set (CHOICES); every command is a `roo` command with its options; every probe path is
  a route of `roo.api.health` (the API's, and the one `roo worker --health-port` serves); and
  the pieces refer to each other (labels, volumes, ports, the Secret and the ConfigMap).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate.utils as kv
import pytest
import typer.main
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema
from pydantic import AliasChoices

from roo.api.health import router as health_router
from roo.cli import app as roo_cli
from roo.config import Settings

pytestmark = pytest.mark.deploy_files

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
KUBERNETES = sorted((DEPLOY / "kubernetes").glob("*.yaml"))

# The oldest Kubernetes the manifests are written for (appArmorProfile fields: 1.30)
KUBERNETES_VERSION = "1.30"

# Settings with a fixed set of values, and those values
CHOICES = {"ROO_TASK_RUNNER": {"inprocess", "queue"}}

ROO_IMAGE = re.compile(r"^roo-core(:|$)")


def load_compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def load_kubernetes() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.name, doc)
        for path in KUBERNETES
        for doc in yaml.safe_load_all(path.read_text())
        if doc is not None
    ]


def objects(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in load_kubernetes() if doc["kind"] == kind}


def setting_names() -> set[str]:
    """Every environment name `Settings` reads (each field's aliases)."""
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices)
        elif isinstance(alias, str):
            names.add(alias.upper())
    return names


def roo_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if "build" in service or ROO_IMAGE.match(service.get("image", ""))
    }


def roo_containers() -> list[tuple[str, dict[str, Any]]]:
    """(workload name, container) for every container running the roo image."""
    found = []
    for _, doc in load_kubernetes():
        if doc["kind"] in {"Deployment", "Job"}:
            for container in doc["spec"]["template"]["spec"]["containers"]:
                if ROO_IMAGE.match(container["image"]):
                    found.append((doc["metadata"]["name"], container))
    return found


def check_command(argv: list[str]) -> list[str]:
    """What is wrong with `roo <argv>`: an unknown command or option."""
    group = typer.main.get_command(roo_cli)
    commands = group.commands  # type: ignore[attr-defined]
    name, rest = argv[0], argv[1:]
    given = {arg.split("=", 1)[0] for arg in rest if arg.startswith("-")}
    if name in commands:
        known = {opt for param in commands[name].params for opt in param.opts}
    else:
        return [f"`roo {name}` is not a command (commands: {', '.join(sorted(commands))})"]
    return [f"`roo {name}` has no option {opt}" for opt in sorted(given - known)]


def option(argv: list[str], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name:
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def probe_paths(command: str) -> set[str]:
    """Paths a roo process answers probes on: the health routes, which `roo serve` serves with
    the API and `roo worker --health-port` on its own port."""
    assert command in {"serve", "worker"}, command
    return {route.path for route in health_router.routes}  # type: ignore[attr-defined]


def test_the_deployment_guide_names_every_file() -> None:
    guide = (ROOT / "docs" / "deployment.md").read_text()
    for path in [COMPOSE, DOCKERFILE, *KUBERNETES]:
        assert path.name in guide, f"docs/deployment.md does not mention {path.name}"


# -- syntax and schemas -------------------------------------------------------------------------


def test_every_file_parses_and_the_deliverables_are_there() -> None:
    assert load_compose()["services"]
    kinds = {(doc["kind"], doc["metadata"]["name"]) for _, doc in load_kubernetes()}
    assert {
        ("Deployment", "roo-api"),
        ("Deployment", "roo-worker"),
        ("Service", "roo-api"),
        ("Job", "roo-migrate"),
        ("PersistentVolumeClaim", "roo-workspaces"),
        ("ConfigMap", "roo-config"),
    } <= kinds


def compose_errors(data: dict[str, Any]) -> list[str]:
    schema = get_builtin_schema("vendor.compose-spec")
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema)
    return [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(data)
    ]


def test_compose_file_matches_the_compose_specification() -> None:
    assert compose_errors(load_compose()) == []


@pytest.mark.parametrize(
    ("name", "doc"), load_kubernetes(), ids=lambda v: v if isinstance(v, str) else v["kind"]
)
@pytest.mark.parametrize("version", [KUBERNETES_VERSION, kv.latest_version()])
def test_kubernetes_objects_match_their_schemas(
    name: str, doc: dict[str, Any], version: str
) -> None:
    kv.validate(doc, version, strict=True)  # raises, naming the field, on any mismatch


def test_the_schema_checks_refuse_a_mistake() -> None:
    """The checks above can fail: a misspelt field is refused by both schemas."""
    compose = load_compose()
    compose["services"]["api"]["healthcheck"]["intervall"] = "10s"
    assert any("intervall" in error for error in compose_errors(compose))

    deployment = copy.deepcopy(objects("Deployment")["roo-api"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["livenesProbe"] = container.pop("livenessProbe")
    with pytest.raises(kv.ValidationError):
        kv.validate(deployment, KUBERNETES_VERSION, strict=True)


# -- consistency with roo -----------------------------------------------------------------------


def test_every_environment_variable_is_a_roo_setting() -> None:
    known = setting_names()
    given: dict[str, dict[str, Any]] = {}
    for name, service in roo_services(load_compose()).items():
        given[f"compose {name}"] = dict(service.get("environment") or {})
    for name, container in roo_containers():
        given[f"{name}/{container['name']}"] = {e["name"]: e.get("value") for e in container["env"]}
    for name, config in objects("ConfigMap").items():
        given[f"ConfigMap {name}"] = config["data"]
    unknown = {where: sorted(set(env) - known) for where, env in given.items()}
    assert all(not names for names in unknown.values()), unknown
    for env in given.values():
        for name, values in CHOICES.items():
            assert env.get(name) in values | {None}


def test_the_dockerfile_sets_only_roo_settings_and_installs_the_sandbox() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    assert re.search(r"apt-get install [^\n]*\bbubblewrap\b", text)
    env_block = re.search(r"^ENV ((?:.*\\\n)*.*)$", text, re.MULTILINE)
    assert env_block is not None
    names = set(re.findall(r"([A-Z_][A-Z0-9_]*)=", env_block.group(1)))
    assert names - {"PYTHONUNBUFFERED"} <= setting_names()
    for source in re.findall(r"^COPY (.+) \S+$", text, re.MULTILINE):
        for part in source.split():
            assert (ROOT / part).exists(), f"the Dockerfile copies {part}, which is not there"
    assert re.search(r"^USER (?!0\b|root\b)", text, re.MULTILINE), "the image runs as root"
    assert 'ENTRYPOINT ["roo"]' in text


def test_every_command_is_a_roo_command() -> None:
    argvs = {f"compose {n}": s["command"] for n, s in roo_services(load_compose()).items()}
    argvs |= {f"{n}/{c['name']}": c["args"] for n, c in roo_containers()}
    problems = {where: check_command(argv) for where, argv in argvs.items()}
    assert all(not p for p in problems.values()), problems
    # and the check itself refuses what is not there
    assert check_command(["wrk"])
    assert check_command(["serve", "--threads", "2"])


def test_probes_ask_roo_paths_on_the_ports_roo_listens_on() -> None:
    for name, container in roo_containers():
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        command = container["args"][0]
        listen = option(container["args"], "--port" if command == "serve" else "--health-port")
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            if kind not in container:
                continue
            probe = container[kind]["httpGet"]
            assert probe["path"] in probe_paths(command), (name, kind, probe)
            assert str(ports.get(probe["port"], probe["port"])) == listen, (name, kind)
        if command in {"serve", "worker"}:
            assert {"livenessProbe", "readinessProbe"} <= container.keys(), name
    for name, service in roo_services(load_compose()).items():
        command = service["command"]
        if command[0] not in {"serve", "worker"}:
            continue
        test = " ".join(service["healthcheck"]["test"])
        url = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/]*)", test)
        assert url is not None, name
        port = option(command, "--port" if command[0] == "serve" else "--health-port")
        assert url.group(1) == port, name
        assert url.group(2) in probe_paths(command[0]), name


def test_compose_runs_the_migration_first_and_shares_the_workspaces() -> None:
    compose = load_compose()
    services = roo_services(compose)
    assert services["migrate"]["command"] == ["migrate"]
    for name in ("api", "worker"):
        service = services[name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        env = service["environment"]
        assert env["ROO_TASK_RUNNER"] == "queue"
        assert env["ROO_AUTO_MIGRATE"] == "false"
        assert f"workspaces:{env['WORKSPACE_ROOT']}" in service["volumes"], name
    assert "workspaces" in compose["volumes"]
    assert services["worker"]["command"][0] == "worker"
    assert _seconds(services["worker"]["stop_grace_period"]) >= 60


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match is not None, duration
    return int(match.group(1))


def test_kubernetes_objects_refer_to_each_other() -> None:
    deployments = objects("Deployment")
    config = objects("ConfigMap")["roo-config"]["data"]
    claims = objects("PersistentVolumeClaim")
    assert claims["roo-workspaces"]["spec"]["accessModes"] == ["ReadWriteMany"]
    assert config["ROO_TASK_RUNNER"] == "queue"
    assert config["ROO_AUTO_MIGRATE"] == "false"
    mounts: set[str] = set()
    for name, container in roo_containers():
        assert {ref["configMapRef"]["name"] for ref in container["envFrom"]} == {"roo-config"}
        secrets = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
        assert secrets == {"roo-secrets"}, name
    for name in ("roo-api", "roo-worker"):
        deployment = deployments[name]
        spec = deployment["spec"]
        assert (
            spec["selector"]["matchLabels"].items()
            <= spec["template"]["metadata"]["labels"].items()
        )
        pod = spec["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        for mount in pod["containers"][0]["volumeMounts"]:
            assert mount["name"] in volumes, (name, mount)
            claim = volumes[mount["name"]].get("persistentVolumeClaim")
            if claim is not None:
                assert claim["claimName"] in claims
                mounts.add(mount["mountPath"])
    # The one workspace volume, at one path on every pod, holding WORKSPACE_ROOT
    assert len(mounts) == 1
    assert Path(config["WORKSPACE_ROOT"]).is_relative_to(mounts.pop())
    assert (
        deployments["roo-worker"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 60
    )

    service = objects("Service")["roo-api"]
    api_pod = deployments["roo-api"]["spec"]["template"]
    worker_labels = deployments["roo-worker"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= api_pod["metadata"]["labels"].items()
    assert not service["spec"]["selector"].items() <= worker_labels.items()
    port_names = {p["name"] for p in api_pod["spec"]["containers"][0]["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    assert objects("Job")["roo-migrate"]["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "migrate"
    ]
