"""The container files, checked without a Docker engine (none runs where these tests
run): Debian's docker-compose validates docker-compose.yml for its default services and
for each profile, and the Dockerfile is compared with what README.md says about it, so
that either one changing alone fails here."""
import json
import os
import re
import shlex
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"


def compose(*arguments):
    """Runs Debian's docker-compose (1.x) on the project's file; needs no engine."""
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose not found: scripts/install-deps --test installs Debian's package")
    # The test run's own SLUICE_* variables must not change what the file expands to.
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLUICE_", "COMPOSE_"))}
    return subprocess.run(
        ["docker-compose", "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), *arguments],
        capture_output=True, text=True, env=environment, timeout=60,
    )


def profiles():
    result = compose("config", "--profiles")
    assert result.returncode == 0, result.stderr
    return sorted(result.stdout.split())


def profile_arguments(profile):
    return [] if profile is None else ["--profile", profile]


@lru_cache(maxsize=None)
def resolved(profile):
    """The file as docker-compose resolves it (anchors, defaults), as a dict."""
    result = compose(*profile_arguments(profile), "config")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def active_services(profile):
    """Services `docker compose [--profile P] up` starts: those without profiles, and P's."""
    services = resolved(profile)["services"]
    return {name: spec for name, spec in services.items()
            if not spec.get("profiles") or profile in spec["profiles"]}


def test_compose_file_has_the_documented_profiles():
    found = profiles()
    assert found == ["backend", "sidecar"]
    readme = (ROOT / "README.md").read_text()
    for profile in found:
        assert f"docker compose --profile {profile} up" in readme


@pytest.mark.parametrize("profile", [None, "backend", "sidecar"])
def test_compose_config_is_valid(profile):
    result = compose(*profile_arguments(profile), "config", "-q")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_compose_default_is_sluice_in_memory():
    services = active_services(None)
    assert sorted(services) == ["sluice"]
    environment = services["sluice"]["environment"]
    assert "SLUICE_BACKEND" not in environment


def test_compose_backend_profile_is_redis_and_two_sluice_instances_in_backend_mode():
    services = active_services("backend")
    assert sorted(services) == ["redis", "sluice", "sluice-backend-1", "sluice-backend-2"]
    for name in ["sluice-backend-1", "sluice-backend-2"]:
        assert services[name]["environment"]["SLUICE_BACKEND"] == "redis://redis:6379/0"
        assert "redis" in services[name]["depends_on"]
    published = [services[name]["ports"][0].split(":")[1] for name in ["sluice-backend-1", "sluice-backend-2"]]
    assert len(set(published)) == 2


def test_compose_sidecar_app_shares_the_network_namespace_of_a_loopback_only_sluice():
    services = active_services("sidecar")
    assert sorted(services) == ["sidecar-app", "sluice", "sluice-sidecar"]
    app, sidecar = services["sidecar-app"], services["sluice-sidecar"]
    assert app["network_mode"] == "service:sluice-sidecar"
    assert app["depends_on"]["sluice-sidecar"]["condition"] == "service_healthy"
    # Reached only from inside the shared namespace: loopback, nothing published.
    assert sidecar["environment"]["SLUICE_BIND"] == "127.0.0.1"
    assert "ports" not in sidecar and "ports" not in app
    port = sidecar["environment"]["SLUICE_PORT"]
    assert f"-h 127.0.0.1 -p {port} " in " ".join(app["command"])


class Dockerfile:
    """The parts of the Dockerfile README.md describes."""

    def __init__(self, text):
        # Continuation lines joined, comments kept apart.
        lines, current = [], ""
        self.comments = []
        for line in text.splitlines():
            if line.startswith("#"):
                self.comments.append(line.lstrip("#").strip())
                continue
            current += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
            if not line.endswith("\\"):
                if current:
                    lines.append(current)
                current = ""
        self.instructions = [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]
        self.arguments = dict(value.split("=", 1) for kind, value in self.instructions if kind == "ARG" and "=" in value)
        # Stages, each with its instructions.
        self.stages = []
        for kind, value in self.instructions:
            if kind == "FROM":
                image = re.sub(r"\$\{(\w+)\}", lambda m: self.arguments[m.group(1)], value.split()[0])
                self.stages.append({"image": image, "name": value.split()[2] if " AS " in value.upper() else None,
                                    "instructions": []})
            elif self.stages:
                self.stages[-1]["instructions"].append((kind, value))

    def values(self, kind, stage=-1):
        return [value for k, value in self.stages[stage]["instructions"] if k == kind]

    def environment(self):
        result = {}
        for value in self.values("ENV"):
            for word in shlex.split(value):
                name, _, setting = word.partition("=")
                result[name] = setting
        return result


@pytest.fixture(scope="module")
def dockerfile():
    return Dockerfile((ROOT / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def container_section():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("\n## Container\n")
    return readme[start:readme.index("\n## ", start + 1)]


def readme_commands(section):
    """The `docker ...` lines of the section's first code block, comments removed."""
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.startswith("docker ")]


def test_dockerfile_header_gives_the_readme_build_and_run_commands(dockerfile, container_section):
    readme = [c for c in readme_commands(container_section) if c.startswith(("docker build", "docker run"))]
    header = [c for c in dockerfile.comments if c.startswith(("docker build", "docker run"))]
    assert len(readme) == 2
    assert header == readme


def test_readme_run_command_fits_the_image(dockerfile, container_section):
    build, run = [shlex.split(c) for c in readme_commands(container_section) if c.startswith(("docker build", "docker run"))]
    tag = build[build.index("-t") + 1]
    assert build[-1] == "."
    assert run[-1] == tag
    exposed = dockerfile.values("EXPOSE")
    assert exposed == [dockerfile.environment()["SLUICE_PORT"]]
    host, container = run[run.index("-p") + 1].rsplit(":", 1)
    assert container == exposed[0]
    assert host.startswith("127.0.0.1:")
    # The image binds all interfaces, so protected mode needs a password: the command gives one.
    assert dockerfile.environment()["SLUICE_BIND"] == "0.0.0.0"
    assert "SLUICE_REQUIREPASS" in " ".join(run)


def test_compose_services_built_here_listen_on_the_port_the_image_exposes(dockerfile):
    exposed = dockerfile.values("EXPOSE")[0]
    for profile in [None, "backend", "sidecar"]:
        for name, service in active_services(profile).items():
            if "build" not in service:
                continue
            assert service["environment"].get("SLUICE_PORT", exposed) == exposed, name
            for mapping in service.get("ports", []):
                # "HOST_IP:HOST_PORT:CONTAINER_PORT/tcp", published on the host's loopback only
                assert mapping.startswith("127.0.0.1:"), name
                assert mapping.split(":")[-1].split("/")[0] == exposed, name


def test_stop_timeouts_outlast_the_shutdown_grace_period(container_section):
    help_text = subprocess.run([os.environ.get("SLUICE_BIN", str(ROOT / ".build/debug/sluice-server")), "--help"],
                               capture_output=True, text=True, timeout=30).stdout
    grace = int(re.search(r"--shutdown-timeout <SECONDS>.*?default (\d+)", help_text, re.S).group(1))
    run = next(shlex.split(c) for c in readme_commands(container_section) if c.startswith("docker run"))
    assert int(run[run.index("--stop-timeout") + 1]) > grace
    for profile in [None, "backend", "sidecar"]:
        for name, service in active_services(profile).items():
            if "build" in service:
                seconds = int(service["stop_grace_period"].rstrip("s"))
                assert seconds > grace, name


def test_readme_describes_the_dockerfile(dockerfile, container_section):
    build_stage, runtime_stage = dockerfile.stages[0], dockerfile.stages[-1]
    assert len(dockerfile.stages) == 2 and build_stage["name"] == "build"
    assert f"`{build_stage['image']}`" in container_section
    assert f"`{runtime_stage['image']}`" in container_section
    # The compile command README quotes is the one the build stage runs.
    quoted = re.search(r"`(swift build [^`]*)`", container_section).group(1)
    assert any(quoted in run for run in dockerfile.values("RUN", 0))
    # Every library the runtime stage installs is named.
    installs = " ".join(dockerfile.values("RUN"))
    packages = re.search(r"install -y --no-install-recommends ([^&]*)", installs).group(1).split()
    for package in packages:
        if package != "libstdc++6":
            assert f"`{package}`" in container_section, package
    # The user and its uid.
    user = dockerfile.values("USER")
    uid = re.search(r"--uid (\d+)", installs).group(1)
    assert user == ["sluice"]
    assert f"as user `sluice` (uid {uid})" in container_section
    # The health check and the entry point.
    healthcheck = dockerfile.values("HEALTHCHECK")[0]
    command = " ".join(json.loads(healthcheck.split("CMD", 1)[1]))
    assert command == "sluice-server --health-check"
    assert f"`HEALTHCHECK` runs `{command}`" in container_section.replace("\n", " ")
    assert dockerfile.values("ENTRYPOINT") == ['["sluice-server"]']
    assert "`SLUICE_BIND=0.0.0.0`" in container_section


def test_dockerfile_copies_what_exists(dockerfile):
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()]
    for value in dockerfile.values("COPY", 0):
        for source in value.split()[:-1]:
            assert (ROOT / source).exists(), source
            assert source not in ignored, source
