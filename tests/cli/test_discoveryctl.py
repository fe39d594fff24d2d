"""discoveryctl end to end against a real discoveryd (see discoveryctl_harness.py)."""

import base64
import json
import re
import shutil
import signal
import socket
import subprocess

import pytest

from discoveryctl_harness import Ctl, Daemon, clean_env

LEVELS = ["diamond", "emerald", "sapphire", "opal", "onyx"]
PRIMARY = "https://mcp.example.com"


def register(ctl, company, *flags):
    """Registers from flags; returns the new service ID."""
    return ctl.ok("register", "--company", company, "--primary", PRIMARY, "--quiet", *flags).strip()


def discover_json(ctl, *flags):
    return json.loads(ctl.ok("discover", "--json", *flags))


def table(text):
    """An aligned table as (header, rows of column values), checking the alignment."""
    lines = text.rstrip("\n").split("\n")
    header = lines[0]
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", header)]
    rows = []
    for line in lines[1:]:
        for start in starts[1:]:
            assert line[start - 2 : start] == "  " and line[start] != " ", (header, line)
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
        rows.append(cells)
    return [header[a:b].strip() for a, b in zip(starts, starts[1:] + [None])], rows


def jwt_claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# ---- register -------------------------------------------------------------------


def test_register_from_flags(ctl, company):
    out = ctl.ok(
        "register", "--company", company, "--instance", "i-1", "--primary", PRIMARY,
        "--region", "us-west1", "--environment", "production", "--version", "1.4.2",
        "--capability", "tools", "--capability", "search", "--tag", "beta", "--tag", "gpu",
        "--mcp-endpoint", PRIMARY + "/mcp", "--ttl", "30s", "--interval", "45s",
    )
    m = re.fullmatch(r"registered (\S+) \(" + company + r"/i-1, active\)\n", out)
    assert m, out
    record = json.loads(ctl.ok("get", m.group(1)))
    assert record["companyName"] == company and record["instanceId"] == "i-1"
    info = record["serviceInfo"]
    assert info["region"] == "us-west1" and info["environment"] == "production"
    assert info["version"] == "1.4.2"
    assert info["capabilities"] == ["tools", "search"]
    assert info["endpoints"] == {"primary": PRIMARY, "mcp": PRIMARY + "/mcp"}
    assert record["tags"] == ["beta", "gpu"]
    assert record["healthCheckConfig"]["ttl"] == "30s"
    assert record["healthCheckConfig"]["interval"] == "45s"


def test_register_from_file_and_stdin_and_reregister(ctl, company, tmp_path):
    doc = {
        "companyName": company,
        "instanceId": "file-1",
        "serviceInfo": {"region": "eu-1", "endpoints": {"primary": PRIMARY}},
        "tags": ["from-file"],
        "metadata": {"owner": "team-a"},
    }
    path = tmp_path / "service.json"
    path.write_text(json.dumps(doc))
    record = json.loads(ctl.ok("register", "--file", path, "--json"))
    assert record["serviceInfo"]["region"] == "eu-1" and record["metadata"] == {"owner": "team-a"}

    # The same company and instance again, from standard input, with a flag
    # overriding one field of the document: an update keeping the ID.
    out = ctl.ok("register", "--file", "-", "--region", "eu-2", input=json.dumps(doc))
    assert out == f"re-registered {record['serviceId']} ({company}/file-1, active)\n"
    again = json.loads(ctl.ok("get", record["serviceId"]))
    assert again["serviceInfo"]["region"] == "eu-2"
    assert again["registeredAt"] == record["registeredAt"]


def test_register_errors(ctl, company, tmp_path):
    bad = ctl.run("register", "--company", company, "--primary", PRIMARY, "--region", "US West")
    assert bad.returncode == 1
    assert bad.stderr == "discoveryctl: invalid_argument: serviceInfo.region: must match [a-z0-9-]+\n"
    assert ctl.run("register").returncode == 2  # nothing to register
    (tmp_path / "bad.json").write_text("{not json")
    broken = ctl.run("register", "--file", tmp_path / "bad.json")
    assert broken.returncode == 2 and "is not valid JSON" in broken.stderr
    missing = ctl.run("register", "--file", tmp_path / "missing.json")
    assert missing.returncode == 2 and "cannot read" in missing.stderr


# ---- discover ---------------------------------------------------------------


def test_discover_table_and_filters(ctl, company):
    a = register(ctl, company, "--instance", "a", "--region", "us-west1", "--environment", "production",
                 "--tag", "gpu", "--capability", "tools")
    b = register(ctl, company, "--instance", "b", "--region", "eu-1", "--environment", "staging",
                 "--tag", "gpu", "--tag", "beta")
    header, rows = table(ctl.ok("discover", "--company", company))
    assert header == ["SERVICE ID", "COMPANY", "INSTANCE", "STATUS", "REGION", "ENV", "PRIMARY"]
    assert rows == sorted([
        [a, company, "a", "active", "us-west1", "production", PRIMARY],
        [b, company, "b", "active", "eu-1", "staging", PRIMARY],
    ])

    def ids(*flags):
        return [s["serviceId"] for s in discover_json(ctl, "--company", company, *flags)["services"]]

    assert ids("--region", "eu-1") == [b]
    assert ids("--environment", "production") == [a]
    assert sorted(ids("--tag", "gpu")) == sorted([a, b])
    assert ids("--tag", "gpu", "--tag", "beta") == [b]
    assert ids("--capability", "tools") == [a]
    assert sorted(ids("--status", "active")) == sorted([a, b])
    assert ids("--status", "maintenance") == []
    assert sorted(ids("--sao-level", "diamond")) == sorted([a, b])
    assert ids("--sao-level", "onyx") == []
    assert ids("--tool", "search") == []

    none = ctl.run("discover", "--company", company + "-none")
    assert none.returncode == 0 and none.stdout == "" and "no services match" in none.stderr


def test_discover_pages(ctl, company):
    expected = sorted(register(ctl, company, "--instance", f"p{i}") for i in range(5))

    one_page = ctl.run("discover", "--company", company, "--limit", "2")
    assert one_page.returncode == 0
    assert len(table(one_page.stdout)[1]) == 2
    assert "--all" in one_page.stderr and "--cursor" in one_page.stderr

    _, rows = table(ctl.ok("discover", "--company", company, "--limit", "2", "--all"))
    assert [r[0] for r in rows] == expected

    page = discover_json(ctl, "--company", company, "--limit", "2")
    assert page["count"] == 2 and page["nextCursor"]
    rest = discover_json(ctl, "--company", company, "--limit", "2", "--cursor", page["nextCursor"])
    assert [s["serviceId"] for s in rest["services"]] == expected[2:4]

    merged = discover_json(ctl, "--company", company, "--limit", "2", "--all")
    assert [s["serviceId"] for s in merged["services"]] == expected
    assert merged["count"] == 5 and merged["nextCursor"] is None
    assert isinstance(merged["index"], int)


# ---- one service ------------------------------------------------------------


def test_get_patch_status_deregister(ctl, company, tmp_path):
    sid = register(ctl, company, "--tag", "old", "--version", "1.0.0")
    record = json.loads(ctl.ok("get", sid))
    assert record["serviceId"] == sid and record["status"] == "active"

    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"tags": ["new"], "serviceInfo": {"version": "1.1.0"}}))
    assert ctl.ok("patch", sid, "--file", patch) == f"updated {sid}\n"
    patched = json.loads(ctl.ok("patch", sid, "--file", "-", "--json", input='{"metadata": {"k": "v"}}'))
    assert patched["tags"] == ["new"] and patched["serviceInfo"]["version"] == "1.1.0"
    assert patched["metadata"] == {"k": "v"}
    forbidden = ctl.run("patch", sid, "--file", "-", input='{"status": "inactive"}')
    assert forbidden.returncode == 1 and forbidden.stderr.startswith("discoveryctl: invalid_argument: status")
    assert ctl.run("patch", sid).returncode == 2  # no --file

    assert ctl.ok("status", sid, "maintenance") == f"{sid} is now maintenance\n"
    assert json.loads(ctl.ok("get", sid))["status"] == "maintenance"
    assert json.loads(ctl.ok("status", sid, "active", "--json"))["status"] == "active"

    assert ctl.ok("deregister", sid) == f"deregistered {sid}\n"
    gone = ctl.run("get", sid)
    assert gone.returncode == 1
    assert gone.stderr == f"discoveryctl: not_found: service {sid} is not registered\n"


def test_report_and_health(ctl, company):
    sid = register(ctl, company)
    failed = ctl.ok("report", sid, "--fail", "--response-time", "12.5", "--message", "probe timed out")
    assert re.search(r"^consecutive failures:\s+1$", failed, re.M)
    assert re.search(r"^response time:\s+12\.5 ms$", failed, re.M)
    assert re.search(r"^last error:\s+probe timed out$", failed, re.M)
    status = json.loads(ctl.ok("report", sid, "--ok", "--response-time", "3", "--json"))
    assert status["consecutiveSuccesses"] == 1 and status["consecutiveFailures"] == 0

    text = ctl.ok("health", sid)
    assert re.search(rf"^service:\s+{sid}$", text, re.M)
    assert re.search(r"^status:\s+active$", text, re.M)
    checks = text.split("recent checks (newest first):\n")[1]
    header, rows = table(checks)
    assert header == ["AT", "RESULT", "RESPONSE MS", "ENDPOINT", "ERROR"]
    assert [r[1:] for r in rows] == [["ok", "3", "external", "-"],
                                     ["FAIL", "12.5", "external", "probe timed out"]]
    detail = json.loads(ctl.ok("health", sid, "--json"))
    assert detail["serviceId"] == sid and len(detail["recentChecks"]) == 2

    assert ctl.run("report", sid).returncode == 2  # neither --ok nor --fail
    assert ctl.run("report", sid, "--ok", "--fail").returncode == 2
    assert ctl.run("report", sid, "--ok", "--response-time", "fast").returncode == 2


def test_heartbeat(ctl, company):
    with_ttl = register(ctl, company, "--ttl", "30s")
    out = ctl.ok("heartbeat", with_ttl)
    assert re.fullmatch(rf"{with_ttl} is active; next heartbeat due by \S+Z\n", out), out
    beat = json.loads(ctl.ok("heartbeat", with_ttl, "--json"))
    assert beat["serviceId"] == with_ttl and beat["expiresAt"]
    without = register(ctl, company, "--instance", "no-ttl")
    assert ctl.ok("heartbeat", without) == f"{without} is active; it has no heartbeat TTL\n"


# ---- watch ------------------------------------------------------------------


def stop(proc):
    proc.send_signal(signal.SIGTERM)  # the watch ends cleanly, exit status 0
    return proc.wait(timeout=10)


def test_watch_prints_a_concurrent_registration(ctl, company):
    watch = ctl.popen("watch", "--company", company)
    try:
        watch.err.wait_for(lambda l: l.startswith("watching "))
        sid = register(ctl, company, "--instance", "w1")
        line = watch.out.next_line()
    finally:
        code = stop(watch)
    fields = line.split()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", fields[0])
    assert fields[1].isdigit()
    assert fields[2:] == ["upsert", f"{company}/w1", "active", sid]
    assert code == 0


def test_watch_json_from_an_index(ctl, company):
    start = discover_json(ctl, "--limit", "1")["index"]
    sid = register(ctl, company)
    ctl.ok("status", sid, "maintenance")
    ctl.ok("deregister", sid)
    # Everything since the index is replayed, and only this company's changes match.
    watch = ctl.popen("watch", "--company", company, "--index", start, "--json")
    try:
        events = [json.loads(watch.out.next_line()) for _ in range(3)]
    finally:
        assert stop(watch) == 0
    assert [e["type"] for e in events] == ["upsert", "status", "delete"]
    assert all(e["service"]["serviceId"] == sid for e in events)
    assert events[1]["service"]["status"] == "maintenance"
    assert [e["index"] for e in events] == sorted(e["index"] for e in events)
    assert events[0]["index"] > start


@pytest.mark.parametrize("storage", ["sqlite", "memory"])
def test_watch_reconnects_after_a_restart(tmp_path, company, storage):
    first = Daemon(tmp_path / "data", extra=["--storage", storage])
    ctl = Ctl(first)
    watch = ctl.popen("watch", "--company", company)
    second = None
    try:
        watch.err.wait_for(lambda l: l.startswith("watching "))
        for name in ("before-1", "before-2"):
            register(ctl, company, "--instance", name)
            assert watch.out.next_line().split()[3] == f"{company}/{name}"
        assert first.stop() == 0
        watch.err.wait_for(lambda l: "reconnecting in" in l)
        second = Daemon(tmp_path / "data", listen=f"127.0.0.1:{first.port}",
                        extra=["--storage", storage])
        # Registered maybe before the watch is back: Last-Event-ID replays it.
        # An in-memory daemon starts its index again at 0, below the watch's
        # last event id; the watch notices and replays from the start.
        sid = register(ctl, company, "--instance", "after-restart")
        line = watch.out.next_line(timeout=30)
        assert line.split()[2:] == ["upsert", f"{company}/after-restart", "active", sid]
        if storage == "memory":
            watch.err.wait_for(lambda l: "is ahead of the server's" in l)
        watch.err.wait_for(lambda l: "reconnected, resuming after index" in l)
    finally:
        stop(watch)
        if second:
            assert second.stop() == 0


def test_watch_from_an_index_ahead_of_the_server(ctl, company):
    watch = ctl.popen("watch", "--company", company, "--index", "99999999", "--json")
    try:
        watch.err.wait_for(lambda l: "is ahead of the server's" in l)
        watch.err.wait_for(lambda l: l.startswith("watching "))
        sid = register(ctl, company)
        event = json.loads(watch.out.next_line())
    finally:
        assert stop(watch) == 0
    assert event["type"] == "upsert" and event["service"]["serviceId"] == sid


# ---- tokens and access ------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_token_for_each_level(ctl, company, level):
    sid = register(ctl, company)
    other = register(ctl, company + "-other")
    token = ctl.mint(level, company, "--ttl", "2h", "--subject", f"{level}-user")
    claims = jwt_claims(token)
    assert claims["sao"] == level and claims["company"] == company
    assert claims["sub"] == f"{level}-user" and claims["exp"] - claims["iat"] == 7200

    env = ctl.env(DISCOVERY_TOKEN=token)
    visible = {s["serviceId"] for s in json.loads(ctl.ok("discover", "--json", env=env))["services"]}
    assert sid in visible
    assert (other in visible) == (level in ("diamond", "emerald"))
    health = ctl.run("health", sid, env=env)
    if level == "onyx":
        assert health.returncode == 1 and health.stderr.startswith("discoveryctl: permission_denied: ")
    else:
        assert health.returncode == 0, health.stderr


def test_token_usage_errors(ctl, tmp_path):
    data = ctl.daemon.data_dir
    for args in (
        [],  # no --sao
        ["--sao", "ruby"],
        ["--sao", "sapphire"],  # no --company
        ["--sao", "diamond", "--ttl", "soon"],
        ["--sao", "diamond", "--data-dir", tmp_path],  # no secret there
        ["--sao", "diamond", "--data-dir", data, "--secret-file", data / "jwt-secret"],
    ):
        result = ctl.run("token", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stdout == ""
    # DISCOVERY_DATA_DIR works as for the daemon; --secret-file names the file itself.
    env = clean_env(DISCOVERY_DATA_DIR=str(data))
    assert jwt_claims(ctl.ok("token", "--sao", "emerald", env=env).strip())["sao"] == "emerald"
    claims = jwt_claims(ctl.ok("token", "--sao", "diamond", "--secret-file", data / "jwt-secret").strip())
    assert claims["sub"] == "discoveryctl" and claims["exp"] - claims["iat"] == 3600


def test_token_sources(ctl, company, tmp_path):
    sid = register(ctl, company)
    token_file = tmp_path / "token"
    token_file.write_text(ctl.token + "\n")

    from_file = ctl.run("get", sid, "--token-file", token_file, env=ctl.env(DISCOVERY_TOKEN=None))
    assert from_file.returncode == 0 and from_file.stderr == ""
    from_env_file = ctl.run("get", sid, env=ctl.env(DISCOVERY_TOKEN=None, DISCOVERY_TOKEN_FILE=str(token_file)))
    assert from_env_file.returncode == 0

    flag = ctl.run("get", sid, "--token", ctl.token, env=ctl.env(DISCOVERY_TOKEN=None))
    assert flag.returncode == 0
    assert "visible to other users" in flag.stderr and ctl.token not in flag.stderr

    none = ctl.run("get", sid, env=ctl.env(DISCOVERY_TOKEN=None))
    assert none.returncode == 1 and none.stderr.startswith("discoveryctl: unauthenticated: ")

    bad = ctl.run("get", sid, "--token", ctl.token[:-4] + "AAAA", env=ctl.env(DISCOVERY_TOKEN=None))
    assert bad.returncode == 1 and "unauthenticated" in bad.stderr
    assert ctl.token[:-4] not in bad.stderr + bad.stdout  # the token is never echoed

    both = ctl.run("get", sid, "--token", ctl.token, "--token-file", token_file)
    assert both.returncode == 2


# ---- errors, help, version ----------------------------------------------------


def test_unknown_id_is_an_api_error(ctl):
    result = ctl.run("get", "no-such-service")
    assert result.returncode == 1
    assert result.stderr == "discoveryctl: not_found: service no-such-service is not registered\n"
    assert ctl.run("deregister", "no-such-service").returncode == 1


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["discover", "--no-such-flag"],
        ["discover", "--limit", "0"],
        ["discover", "--status", "sleeping"],
        ["get"],
        ["get", "a", "b"],
        ["status", "some-id", "sleeping"],
        ["watch", "--index", "latest"],
        ["discover", "--server", "ftp://example.com"],
        ["discover", "--timeout", "forever"],
        ["help", "frobnicate"],
    ],
)
def test_bad_usage_exits_2(ctl, args):
    result = ctl.run(*args)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    assert result.stderr.startswith("discoveryctl: ") or result.stderr.startswith("usage:")


@pytest.mark.parametrize("command", [["discover"], ["get", "x"], ["watch"], ["heartbeat", "x"]])
def test_server_down_exits_3(ctl, command):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = ctl.run(*command, "--server", f"http://127.0.0.1:{port}")
    assert result.returncode == 3
    assert result.stderr == f"discoveryctl: cannot connect to http://127.0.0.1:{port}: Connection refused\n"


def test_silent_server_times_out(ctl):
    with socket.socket() as s:  # accepts connections (backlog) but never answers
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        port = s.getsockname()[1]
        result = ctl.run("discover", "--server", f"http://127.0.0.1:{port}", "--timeout", "500ms")
    assert result.returncode == 3
    assert result.stderr == f"discoveryctl: no answer from http://127.0.0.1:{port}: timed out after 500ms\n"


def test_help(ctl):
    tool = ctl.run("--help")
    assert tool.returncode == 0
    commands = re.findall(r"^  (\w+)  ", tool.stdout.split("commands:\n")[1].split("\n\n")[0], re.M)
    assert commands == ["register", "discover", "get", "patch", "status", "deregister", "health",
                        "report", "heartbeat", "watch", "token", "version", "help"]
    for option in ("--server", "--token", "--token-file", "--timeout", "--insecure",
                   "DISCOVERY_SERVER", "DISCOVERY_TOKEN", "DISCOVERY_TOKEN_FILE"):
        assert option in tool.stdout
    assert ctl.ok("help") == tool.stdout
    for command in commands:
        text = ctl.ok("help", command)
        assert text.startswith(f"usage: discoveryctl {command}")
        assert ctl.ok(command, "--help") == text
    register_help = ctl.ok("register", "-h")
    for flag in ("--file", "--company", "--instance", "--primary", "--region", "--environment",
                 "--version", "--capability", "--tag", "--mcp-endpoint", "--ttl", "--interval"):
        assert flag in register_help
    watch_help = ctl.ok("help", "watch")
    for flag in ("--company", "--region", "--environment", "--status", "--sao-level",
                 "--capability", "--tag", "--tool", "--json", "--index"):
        assert flag in watch_help
    assert ctl.run().returncode == 2


def test_version(ctl):
    version = ctl.ok("version")
    assert re.fullmatch(r"discoveryctl \d+\.\d+\.\d+\n", version)
    assert ctl.ok("--version") == version


def test_settings_precedence(ctl, company):
    sid = register(ctl, company)
    # Only the global settings come from DISCOVERY_*; DISCOVERY_STATUS means nothing.
    env = ctl.env(DISCOVERY_STATUS="maintenance", DISCOVERY_COMPANY="nobody")
    found = json.loads(ctl.ok("discover", "--json", "--company", company, env=env))
    assert [s["serviceId"] for s in found["services"]] == [sid]
    # A flag beats the environment, and global options may precede the command.
    dead = ctl.env(DISCOVERY_SERVER="http://127.0.0.1:1", DISCOVERY_TIMEOUT="1ms")
    assert ctl.run("get", sid, env=dead).returncode == 3
    out = ctl.ok("--server", ctl.daemon.url, "--timeout=5s", "get", sid, env=dead)
    assert json.loads(out)["serviceId"] == sid


# ---- TLS --------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_daemon(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", d / "key.pem", "-out", d / "cert.pem", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )
    daemon = Daemon(d / "data", extra=["--tls-cert", d / "cert.pem", "--tls-key", d / "key.pem"])
    daemon.cert = d / "cert.pem"
    yield daemon
    assert daemon.stop() == 0


def test_tls(tls_daemon, company):
    ctl = Ctl(tls_daemon)
    assert tls_daemon.url.startswith("https://127.0.0.1:")
    port = tls_daemon.port

    untrusted = ctl.run("discover")
    assert untrusted.returncode == 3
    assert "certificate verify failed: self-signed certificate" in untrusted.stderr

    sid = register(ctl, company, "--instance", "tls-1", "--insecure")
    assert json.loads(ctl.ok("get", sid, "--insecure"))["serviceId"] == sid

    # Trusted through the system store's SSL_CERT_FILE override: the name is checked.
    trusted = ctl.env(SSL_CERT_FILE=str(tls_daemon.cert))
    by_name = ctl.run("get", sid, "--server", f"https://localhost:{port}", env=trusted)
    assert by_name.returncode == 0, by_name.stderr
    by_address = ctl.run("get", sid, env=trusted)  # the certificate names localhost only
    assert by_address.returncode == 3 and "IP address mismatch" in by_address.stderr

    watch = ctl.popen("watch", "--company", company, "--insecure")
    try:
        watch.err.wait_for(lambda l: l.startswith("watching https://"))
        ctl.ok("status", sid, "maintenance", "--insecure")
        line = watch.out.next_line()
    finally:
        assert stop(watch) == 0
    assert line.split()[2:] == ["status", f"{company}/tls-1", "maintenance", sid]
