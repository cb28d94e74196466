"""redis-py with a password, and the sluice-server binary's configuration handling:
file < environment < flags, errors before binding, protected mode, --help, --health-check."""
import os
import subprocess

import pytest
import redis

from conftest import free_port, start_sluice, stop

BINARY = os.environ.get("SLUICE_BIN", ".build/debug/sluice-server")


@pytest.fixture(scope="module")
def sluice_auth():
    process, info = start_sluice("--requirepass", "py-s3cret")
    yield info
    assert stop(process) == 0


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_with_password(sluice_auth, protocol):
    client = redis.Redis(port=sluice_auth["port"], password="py-s3cret", protocol=protocol, decode_responses=True)
    assert client.ping() is True
    assert client.set("auth:k", "v") is True
    assert client.get("auth:k") == "v"
    client.close()


def test_redis_py_with_user_and_password(sluice_auth):
    client = redis.Redis(port=sluice_auth["port"], username="default", password="py-s3cret", protocol=3)
    assert client.ping() is True
    client.close()


def test_redis_py_without_or_with_a_wrong_password(sluice_auth):
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=sluice_auth["port"]).ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=sluice_auth["port"], password="wrong").ping()


def run(*args, env=None, timeout=20):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SLUICE_")}
    environment.update(env or {})
    return subprocess.run([BINARY, *args], capture_output=True, text=True, env=environment, timeout=timeout)


@pytest.mark.parametrize(
    "args, env, message",
    [
        (["--port", "abc"], {}, "invalid port 'abc' (flag --port): argument couldn't be parsed into an integer"),
        ([], {"SLUICE_MAXCLIENTS": "-1"}, "invalid maxclients '-1' (environment variable SLUICE_MAXCLIENTS)"),
        (["--no-such-option", "1"], {}, "unknown option '--no-such-option'"),
        (["--config", "/nonexistent/sluice.toml"], {}, "cannot read configuration file /nonexistent/sluice.toml"),
        (["--bind", "0.0.0.0", "--port", "0"], {}, "refusing to start: bind 0.0.0.0 is not a loopback address"),
    ],
)
def test_invalid_configuration_exits_before_binding(args, env, message):
    result = run(*args, env=env)
    assert result.returncode != 0
    assert message in result.stderr
    assert "ready on" not in result.stdout


def test_unknown_key_in_the_file_names_the_line(tmp_path):
    path = tmp_path / "sluice.toml"
    path.write_text("port = 0\n# comment\nmaxclient = 5\n")
    result = run("--config", str(path))
    assert result.returncode != 0
    assert f"{path} line 3: unknown option 'maxclient'" in result.stderr


def test_file_then_environment_then_flags(tmp_path):
    path = tmp_path / "sluice.toml"
    path.write_text('maxclients = 11\ntimeout = 12\nrequirepass = "from-file"\n')
    environment = {"SLUICE_CONFIG": str(path), "SLUICE_TIMEOUT": "22", "SLUICE_REQUIREPASS": "from-env"}
    old = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)
    try:
        process, info = start_sluice("--requirepass", "from-flag")
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value
    try:
        client = redis.Redis(port=info["port"], password="from-flag", decode_responses=True)
        assert client.config_get("maxclients") == {"maxclients": "11"}
        assert client.config_get("timeout") == {"timeout": "22"}
        assert client.config_get("requirepass") == {"requirepass": "from-flag"}
        client.close()
    finally:
        assert stop(process) == 0


def test_help_documents_every_option(sluice):
    names = redis.Redis(port=sluice["port"], decode_responses=True).config_get("*")
    text = run("--help").stdout
    for name in ["bind", "port", "requirepass", "protected-mode", "maxclients", "timeout",
                 "client-query-buffer-limit", "client-output-buffer-limit", "proto-max-bulk-len"]:
        assert name in names
        assert f"--{name} <" in text
        assert "SLUICE_" + name.upper().replace("-", "_") in text


def test_health_check(sluice_auth):
    port = str(sluice_auth["port"])
    assert run("--health-check", "--port", port, "--requirepass", "py-s3cret").returncode == 0
    assert run("--health-check", env={"SLUICE_PORT": port, "SLUICE_REQUIREPASS": "py-s3cret"}).returncode == 0
    refused = run("--health-check", "--port", port)
    assert refused.returncode != 0
    assert "NOAUTH" in refused.stderr


def test_health_check_reaches_a_wildcard_bind_through_loopback(sluice):
    # Binding nothing, the check does not apply protected mode.
    assert run("--health-check", "--bind", "0.0.0.0", "--port", str(sluice["port"])).returncode == 0
    assert run("--health-check", "--port", str(free_port())).returncode != 0
