"""The TLS port with real clients: redis-cli --tls and redis-py ssl=True against a
sluice-server started with --tls-port, certificates made at test time by
scripts/make-test-certificates (the openssl CLI); and the binary refusing bad TLS settings."""
import os
import pathlib
import re
import subprocess
import time

import pytest
import redis

from conftest import free_port, start_sluice, stop

BINARY = os.environ.get("SLUICE_BIN", ".build/debug/sluice-server")
SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "make-test-certificates"


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    subprocess.run(["bash", str(SCRIPT), str(directory)], check=True, capture_output=True)
    return directory


def start_tls(certs, *extra, cert="server.crt", key="server.key"):
    """A sluice-server with a plain port and a TLS port; both in the returned info.
    A free plain port is chosen here: start_sluice's --port 0 next to --tls-port would mean TLS only."""
    tls_port = free_port()
    process, info = start_sluice(
        "--port", str(free_port()), "--tls-port", str(tls_port),
        "--tls-cert", str(certs / cert), "--tls-key", str(certs / key), *extra
    )
    info["tls_port"] = tls_port
    return process, info


@pytest.fixture(scope="module")
def sluice_tls(certs):
    process, info = start_tls(certs, "--requirepass", "tls-s3cret")
    yield info
    assert stop(process) == 0, "sluice-server did not exit cleanly on SIGTERM"


def redis_cli(*args, timeout=20):
    return subprocess.run(["redis-cli", *args], capture_output=True, text=True, timeout=timeout)


def test_redis_cli_supports_tls():
    result = redis_cli("--help")
    assert "--tls" in result.stdout + result.stderr


def test_redis_cli_tls_ping_set_get(sluice_tls, certs):
    base = ["--tls", "--cacert", str(certs / "ca.crt"), "-h", "127.0.0.1", "-p", str(sluice_tls["tls_port"]),
            "-a", "tls-s3cret", "--no-auth-warning"]
    assert redis_cli(*base, "PING").stdout == "PONG\n"
    assert redis_cli(*base, "SET", "tls:cli", "v1").stdout == "OK\n"
    assert redis_cli(*base, "GET", "tls:cli").stdout == "v1\n"
    # The same keyspace through the plain port.
    plain = redis_cli("-p", str(sluice_tls["port"]), "-a", "tls-s3cret", "--no-auth-warning", "GET", "tls:cli")
    assert plain.stdout == "v1\n"


def test_redis_cli_tls_without_password_gets_noauth(sluice_tls, certs):
    result = redis_cli("--tls", "--cacert", str(certs / "ca.crt"), "-p", str(sluice_tls["tls_port"]), "GET", "k")
    # redis-cli prints an error reply followed by an empty line, with redis-server too.
    assert result.stdout == "NOAUTH Authentication required.\n\n"


def test_redis_cli_refuses_a_server_its_ca_did_not_sign(sluice_tls, certs):
    result = redis_cli("--tls", "--cacert", str(certs / "other-ca.crt"), "-p", str(sluice_tls["tls_port"]), "PING")
    assert "PONG" not in result.stdout
    assert "certificate verify failed" in result.stdout + result.stderr


def test_plain_redis_cli_on_the_tls_port_fails_and_the_server_keeps_serving(sluice_tls, certs):
    result = redis_cli("-p", str(sluice_tls["tls_port"]), "PING", timeout=20)
    assert "PONG" not in result.stdout
    client = redis.Redis(port=sluice_tls["tls_port"], password="tls-s3cret", ssl=True, ssl_ca_certs=str(certs / "ca.crt"))
    assert client.ping() is True
    client.close()


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_redis_py_ssl_with_hostname_check(sluice_tls, certs, protocol, host):
    client = redis.Redis(
        host=host, port=sluice_tls["tls_port"], password="tls-s3cret", protocol=protocol, decode_responses=True,
        ssl=True, ssl_ca_certs=str(certs / "ca.crt"), ssl_cert_reqs="required", ssl_check_hostname=True,
    )
    assert client.ping() is True
    assert client.set("tls:py", "v2") is True
    assert client.get("tls:py") == "v2"
    assert client.incr("tls:n") >= 1
    with pytest.raises(redis.exceptions.ResponseError, match="unknown command 'NOPE'"):
        client.execute_command("NOPE")
    assert client.ping() is True
    client.close()


def test_redis_py_rejects_a_certificate_for_another_host(certs):
    """The same CA, a certificate for sluice.invalid only: the host name check is what fails."""
    process, info = start_tls(certs, cert="wrong-host.crt", key="wrong-host.key")
    try:
        checked = redis.Redis(port=info["tls_port"], ssl=True, ssl_ca_certs=str(certs / "ca.crt"), ssl_check_hostname=True)
        with pytest.raises(redis.exceptions.ConnectionError, match="(?i)hostname|IP address mismatch"):
            checked.ping()
        unchecked = redis.Redis(port=info["tls_port"], ssl=True, ssl_ca_certs=str(certs / "ca.crt"), ssl_check_hostname=False)
        assert unchecked.ping() is True
        unchecked.close()
    finally:
        assert stop(process) == 0


def test_sigterm_with_an_idle_tls_client_exits_promptly(certs):
    """The server does not wait for the close_notify of a client that is not reading."""
    process, info = start_tls(certs)
    client = redis.Redis(port=info["tls_port"], ssl=True, ssl_ca_certs=str(certs / "ca.crt"))
    assert client.ping() is True
    started = time.monotonic()
    assert stop(process) == 0
    # swift-nio-ssl's default would wait 5 s for the client's close_notify.
    assert time.monotonic() - started < 4
    client.close()


def test_tls_only_with_port_zero(certs):
    """Redis's port 0 next to tls-port: no plain-text listener."""
    tls_port = free_port()
    process = subprocess.Popen(
        [BINARY, "--port", "0", "--tls-port", str(tls_port), "--tls-cert", str(certs / "server.crt"),
         "--tls-key", str(certs / "server.key")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        line = process.stdout.readline()
        assert re.search(rf"ready on TLS 127\.0\.0\.1:{tls_port} \(", line), line
        client = redis.Redis(port=tls_port, ssl=True, ssl_ca_certs=str(certs / "ca.crt"), decode_responses=True)
        assert client.ping() is True
        assert client.config_get("port") == {"port": "0"}
        assert client.config_get("tls-port") == {"tls-port": str(tls_port)}
        client.close()
        # The container's health check, given the same settings, PINGs over TLS.
        settings = ["--port", "0", "--tls-port", str(tls_port), "--tls-cert", str(certs / "server.crt"),
                    "--tls-key", str(certs / "server.key")]
        assert run("--health-check", *settings).returncode == 0
    finally:
        assert stop(process) == 0
    stopped = run("--health-check", *settings)
    assert stopped.returncode == 1
    assert stopped.stderr.startswith(f"sluice-server: health check failed: TLS to 127.0.0.1:{tls_port} failed: ")


def test_mutual_tls_with_redis_py(certs):
    process, info = start_tls(certs, "--tls-auth-clients", "yes", "--tls-ca-cert", str(certs / "ca.crt"))
    try:
        with_cert = redis.Redis(
            port=info["tls_port"], ssl=True, ssl_ca_certs=str(certs / "ca.crt"),
            ssl_certfile=str(certs / "client.crt"), ssl_keyfile=str(certs / "client.key"),
        )
        assert with_cert.ping() is True
        with_cert.close()
        without = redis.Redis(port=info["tls_port"], ssl=True, ssl_ca_certs=str(certs / "ca.crt"))
        with pytest.raises(redis.exceptions.ConnectionError):
            without.ping()
    finally:
        assert stop(process) == 0


def run(*args):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SLUICE_")}
    return subprocess.run([BINARY, *args], capture_output=True, text=True, env=environment, timeout=20)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tls-port", "6390"], "tls-port needs tls-cert and tls-key (PEM files)"),
        (["--tls-port", "6390", "--tls-cert", "{d}/missing.crt", "--tls-key", "{d}/server.key"],
         "invalid tls-cert '{d}/missing.crt': cannot read it: No such file or directory"),
        (["--tls-port", "6390", "--tls-cert", "{d}/server.key", "--tls-key", "{d}/server.key"],
         "invalid tls-cert '{d}/server.key': no PEM certificate in the file"),
        (["--tls-port", "6390", "--tls-cert", "{d}/server.crt", "--tls-key", "{d}/server.crt"],
         "invalid tls-key '{d}/server.crt': no unencrypted PEM private key in the file"),
        (["--tls-port", "6390", "--tls-cert", "{d}/server.crt", "--tls-key", "{d}/other.key"],
         "tls-key '{d}/other.key' does not match the certificate in tls-cert '{d}/server.crt'"),
        (["--port", "6390", "--tls-port", "6390", "--tls-cert", "{d}/server.crt", "--tls-key", "{d}/server.key"],
         "tls-port 6390 is the same as port"),
        (["--tls-cert", "{d}/server.crt", "--tls-key", "{d}/server.key"], "tls-cert is set but tls-port is not"),
        (["--tls-port", "6390", "--tls-cert", "{d}/server.crt", "--tls-key", "{d}/server.key", "--tls-auth-clients", "yes"],
         "tls-auth-clients yes needs tls-ca-cert"),
    ],
)
def test_bad_tls_settings_exit_before_binding(certs, args, message):
    result = run(*[arg.format(d=certs) for arg in args])
    assert result.returncode == 1
    assert "sluice-server: " + message.format(d=certs) in result.stderr
    assert "ready on" not in result.stdout + result.stderr


def test_encrypted_key_is_refused(certs, tmp_path):
    encrypted = tmp_path / "encrypted.key"
    subprocess.run(["openssl", "pkey", "-in", str(certs / "server.key"), "-aes256", "-passout", "pass:secret",
                    "-out", str(encrypted)], check=True, capture_output=True)
    result = run("--tls-port", "6390", "--tls-cert", str(certs / "server.crt"), "--tls-key", str(encrypted))
    assert result.returncode == 1
    assert f"invalid tls-key '{encrypted}': no unencrypted PEM private key in the file" in result.stderr


def test_help_lists_the_tls_options():
    text = run("--help").stdout
    for name in ["--tls-port", "--tls-cert", "--tls-key", "--tls-ca-cert", "--tls-auth-clients", "SLUICE_TLS_PORT"]:
        assert name in text

