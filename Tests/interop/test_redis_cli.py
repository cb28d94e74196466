"""redis-cli (Debian redis-tools) against sluice-server."""
import subprocess


def cli(sluice, *args, stdin=None):
    result = subprocess.run(
        ["redis-cli", "-h", sluice["host"], "-p", str(sluice["port"]), *args],
        input=stdin, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_single_commands_print_redis_style_output(sluice):
    assert cli(sluice, "PING") == "PONG\n"
    assert cli(sluice, "SET", "cli:greeting", "hello world") == "OK\n"
    assert cli(sluice, "GET", "cli:greeting") == "hello world\n"
    assert cli(sluice, "INCRBY", "cli:n", "5") == "5\n"
    assert cli(sluice, "EXPIRE", "cli:n", "100") == "1\n"
    assert cli(sluice, "TTL", "cli:n") == "100\n"
    assert cli(sluice, "TYPE", "cli:greeting") == "string\n"
    assert cli(sluice, "GET", "cli:missing") == "\n"
    assert cli(sluice, "DEL", "cli:greeting", "cli:n") == "2\n"


def test_errors_are_printed_and_the_server_keeps_going(sluice):
    assert cli(sluice, "INCR").startswith("ERR wrong number of arguments for 'incr' command")
    assert cli(sluice, "NOSUCH", "x").startswith("ERR unknown command 'NOSUCH'")
    assert cli(sluice, "PING") == "PONG\n"


def test_a_script_on_stdin_runs_in_order(sluice):
    script = "SET cli:s 1\nINCR cli:s\nINCR cli:s\nGET cli:s\nDEL cli:s\n"
    assert cli(sluice, stdin=script) == "OK\n2\n3\n3\n1\n"


def test_resp3_mode_shows_maps_and_nulls(sluice):
    out = cli(sluice, "-3", "HELLO", "3")
    assert out.startswith("server sluice\nversion 7.2.0\nproto 3\nid ")
    assert out.endswith("mode standalone\nrole master\nmodules \n")
    assert cli(sluice, "-3", "GET", "cli:missing") == "\n"


def test_info_and_dbsize(sluice):
    assert "redis_version:" in cli(sluice, "INFO", "server")
    cli(sluice, "SET", "cli:size", "1")
    assert int(cli(sluice, "DBSIZE")) >= 1
    cli(sluice, "DEL", "cli:size")
