"""The network prober against real peers: MCP servers on the official
TypeScript SDK (plus a hand-written 2026-07-28 one), and a fault server that
hangs, resets, redirects, flaps and presents bad certificates.

Runs tests/fixtures/probe_once (from $PROBE_ONCE, else build/dev) once per
probe and reads its JSON lines. The MCP servers need Node.js and
`npm ci` in tests/fixtures/mcp (done here on first use).

    tests/python-env.sh python -m pytest -q tests/health
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
MCP_DIR = FIXTURES / "mcp"
PROBE_ONCE = Path(os.environ.get("PROBE_ONCE", ROOT / "build" / "dev" / "tests" / "unit" / "probe_once"))
LOOPBACK = ["--allow", "127.0.0.1"]

# The slack on top of a probe's timeout that process start-up and a loaded
# machine may take. It bounds a hang, it does not measure speed.
SLACK_S = 3.0


def probe(*args: str, timeout: str = "5s") -> dict:
    """One probe; its ProbeResult as a dict, plus the wall time taken."""
    if not PROBE_ONCE.exists():
        pytest.skip(f"probe_once not built at {PROBE_ONCE}")
    start = time.monotonic()
    out = subprocess.run([str(PROBE_ONCE), "--timeout", timeout, *args], capture_output=True, text=True,
                         timeout=120, check=True)
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, out.stdout
    result = lines[0]
    result["wall_s"] = time.monotonic() - start
    return result


def probe_lines(*args: str) -> list[dict]:
    if not PROBE_ONCE.exists():
        pytest.skip(f"probe_once not built at {PROBE_ONCE}")
    out = subprocess.run([str(PROBE_ONCE), *args], capture_output=True, text=True, timeout=300, check=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


class Process:
    """A fixture server that prints one JSON line when ready."""

    def __init__(self, argv: list[str], cwd: Path):
        self.proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{argv} did not start: {self.proc.stderr.read()}")
        self.info = json.loads(line)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def faults():
    server = Process([sys.executable, str(FIXTURES / "fault_server.py")], FIXTURES)
    yield server.info
    server.stop()


@pytest.fixture(scope="module")
def node_modules():
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js is not installed")
    if not (MCP_DIR / "node_modules" / "@modelcontextprotocol" / "sdk").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=MCP_DIR, check=True,
                       timeout=600)
    return MCP_DIR


MCP_KINDS = {
    # kind: (transport the probe should settle on, protocolVersion, serverInfo name)
    "stateless": ("streamable-http", "2025-11-25", "fixture-stateless"),
    "stateful": ("streamable-http", "2025-11-25", "fixture-stateful"),
    "sse": ("sse", "2024-11-05", "fixture-sse"),
    "modern": ("2026-07-28", "2026-07-28", "fixture-modern"),
}
BASE_TOOLS = ["search", "echo", "clock"]


@pytest.fixture(scope="module", params=sorted(MCP_KINDS))
def mcp_server(request, node_modules):
    server = Process(["node", "server.mjs", "--kind", request.param, "--port", "0"], node_modules)
    server.info["kind"] = request.param
    yield server
    server.stop()


def admin(server: Process, path: str, method: str = "GET") -> dict:
    req = urllib.request.Request(f"http://127.0.0.1:{server.info['port']}{path}", method=method)
    with urllib.request.urlopen(req, timeout=10) as answer:
        return json.load(answer)


# --- MCP ---------------------------------------------------------------------

def test_each_mcp_server_kind_passes_and_reports_its_tools(mcp_server):
    transport, version, name = MCP_KINDS[mcp_server.info["kind"]]
    result = probe("--kind", "mcp", "--url", mcp_server.info["url"], "--introspect", *LOOPBACK)
    assert result["ok"], result["error"]
    assert result["transport"] == transport
    info = result["mcp"]
    assert info["transport"] == transport
    assert info["protocolVersion"] == version
    assert info["serverInfo"] == {"name": name, "version": "2.0.0" if transport == "2026-07-28" else "1.2.3"}
    assert info["capabilities"]["tools"]["listChanged"] is True
    names = [tool["name"] for tool in info["tools"]]
    assert names[:3] == BASE_TOOLS  # the modern server pages 2 by 2: nextCursor was followed
    assert info["tools"][0] == {"name": "search", "title": "Search", "description": "Full-text search"}


def test_negotiation_order_follows_the_specification(mcp_server):
    kind = mcp_server.info["kind"]
    before = len(admin(mcp_server, "/admin/requests")["requests"])
    assert probe("--kind", "mcp", "--url", mcp_server.info["url"], *LOOPBACK)["ok"]
    seen = admin(mcp_server, "/admin/requests")["requests"][before:]
    if kind == "modern":
        assert seen == ["server/discover"]
    elif kind == "sse":
        # discover and initialize POSTed to the SSE URL are refused; then the GET stream.
        assert seen == ["server/discover", "initialize", "initialize", "notifications/initialized", "ping"]
    else:
        assert seen == ["server/discover", "initialize", "notifications/initialized", "ping"]


def test_transport_hint_skips_to_what_worked(mcp_server):
    transport = MCP_KINDS[mcp_server.info["kind"]][0]
    before = len(admin(mcp_server, "/admin/requests")["requests"])
    result = probe("--kind", "mcp", "--url", mcp_server.info["url"], "--hint", transport, *LOOPBACK)
    assert result["ok"], result["error"]
    seen = admin(mcp_server, "/admin/requests")["requests"][before:]
    if transport != "2026-07-28":
        assert "server/discover" not in seen


def test_a_wrong_hint_falls_back_to_negotiation(mcp_server):
    transport = MCP_KINDS[mcp_server.info["kind"]][0]
    wrong = "sse" if transport != "sse" else "streamable-http"
    result = probe("--kind", "mcp", "--url", mcp_server.info["url"], "--hint", wrong, *LOOPBACK)
    assert result["ok"], result["error"]
    assert result["transport"] == transport


def test_a_tool_added_at_runtime_is_seen_on_the_next_introspection(mcp_server):
    name = f"added_{mcp_server.info['kind']}"
    first = probe("--kind", "mcp", "--url", mcp_server.info["url"], "--introspect", *LOOPBACK)
    assert name not in [t["name"] for t in first["mcp"]["tools"]]
    admin(mcp_server, f"/admin/tools?name={name}", method="POST")
    second = probe("--kind", "mcp", "--url", mcp_server.info["url"], "--introspect", *LOOPBACK)
    assert second["ok"], second["error"]
    tools = {t["name"]: t for t in second["mcp"]["tools"]}
    assert name in tools
    assert tools[name]["description"] == f"added at runtime: {name}"


def test_a_tool_added_by_signal_is_seen_too(node_modules):
    server = Process(["node", "server.mjs", "--kind", "stateful", "--port", "0"], node_modules)
    try:
        server.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while True:
            result = probe("--kind", "mcp", "--url", server.info["url"], "--introspect", *LOOPBACK)
            if any(t["name"].startswith("signal_tool_") for t in result["mcp"]["tools"]) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert any(t["name"].startswith("signal_tool_") for t in result["mcp"]["tools"])
    finally:
        server.stop()


def test_an_http_endpoint_that_is_not_mcp_fails_naming_each_attempt(faults):
    result = probe("--kind", "mcp", "--url", f"http://127.0.0.1:{faults['http']}/status/404", *LOOPBACK)
    assert not result["ok"]
    assert result["error"] == ("mcp: no transport answered: server/discover: http status 404; "
                               "initialize: http status 404; sse: GET answered http status 404")


@pytest.mark.parametrize("fault, error", [
    ("error", "mcp: initialize: JSON-RPC error -32601: Method not found"),
    ("wrong-id", "mcp: initialize: response id 7 does not match request id 1"),
    ("malformed", "mcp: initialize: malformed JSON: incomplete JSON"),
    ("hang", "timeout: no response within 1s"),
])
def test_mcp_protocol_faults(faults, fault, error):
    result = probe("--kind", "mcp", "--url", f"http://127.0.0.1:{faults['http']}/mcp/{fault}", *LOOPBACK,
                   timeout="1s")
    assert not result["ok"]
    assert result["error"] == error
    assert result["wall_s"] < 1 + SLACK_S


# --- HTTP, TCP, TLS faults ----------------------------------------------------

@pytest.mark.parametrize("path, timeout, error", [
    ("ok", "2s", ""),
    ("status/503", "2s", "http: status 503, expected 200"),
    ("hang", "1s", "timeout: no response within 1s"),
    ("reset", "2s", "http: connection reset by peer"),
    ("slow-body", "1s", "timeout: body not complete within 1s"),
    ("endless", "5s", "http: body exceeds 65536 bytes"),
    ("big", "2s", "http: body exceeds 65536 bytes"),
    ("redirect-loop", "2s", "http: too many redirects (4)"),
    ("redirect?to=/ok", "2s", ""),
])
def test_http_faults_are_classified_within_their_timeout(faults, path, timeout, error):
    result = probe("--url", f"http://127.0.0.1:{faults['http']}/{path}", *LOOPBACK, timeout=timeout)
    assert result["ok"] == (error == "")
    assert result["error"] == error
    limit_s = float(timeout[:-1])
    assert result["responseTimeMs"] <= limit_s * 1000 + 250
    assert result["wall_s"] < limit_s + SLACK_S


def test_expected_status_range(faults):
    result = probe("--url", f"http://127.0.0.1:{faults['http']}/status/503", "--expect", "500-599", *LOOPBACK)
    assert result["ok"], result["error"]
    result = probe("--url", f"http://127.0.0.1:{faults['http']}/status/204", "--expect", "200-299", *LOOPBACK)
    assert result["ok"], result["error"]
    result = probe("--url", f"http://127.0.0.1:{faults['http']}/status/302", "--expect", "200-299", *LOOPBACK)
    assert result["error"] == "http: status 302, expected 200-299"  # no Location: not followed


def test_flapping_target_alternates(faults):
    lines = probe_lines("--url", f"http://127.0.0.1:{faults['http']}/flap", *LOOPBACK, "--repeat", "6")
    results = [line["ok"] for line in lines if "ok" in line]
    assert len(results) == 6
    assert all(a != b for a, b in zip(results, results[1:])), results


def test_tcp_probe(faults):
    assert probe("--kind", "tcp", "--url", f"http://127.0.0.1:{faults['http']}/", *LOOPBACK)["ok"]
    # A port nothing listens on: bind one, and close it.
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = probe("--kind", "tcp", "--url", f"http://127.0.0.1:{port}/", *LOOPBACK)
    assert result["error"] == "connect: connection refused"


def test_dns_failure_names_the_host():
    result = probe("--url", "http://nosuch.invalid/health", timeout="5s")
    assert result["error"] == "dns: host not found: nosuch.invalid"


def test_tls_with_the_ca_passed_in(faults):
    for host in ("127.0.0.1", "localhost"):
        result = probe("--url", f"https://{host}:{faults['tls_valid']}/ok", "--ca-file", faults["ca_file"],
                       "--allow", "127.0.0.0/8", "--allow", "::1")
        assert result["ok"], result["error"]


@pytest.mark.parametrize("port_name, host, error", [
    ("tls_valid", "127.0.0.1", None),  # without --ca-file: the system store does not know our CA
    ("tls_wrong_host", "localhost", "tls: certificate verify failed: hostname mismatch"),
    ("tls_wrong_host", "127.0.0.1", "tls: certificate verify failed: IP address mismatch"),
    ("tls_untrusted", "127.0.0.1", "tls: certificate verify failed: self-signed certificate"),
])
def test_tls_verification_failures(faults, port_name, host, error):
    args = ["--url", f"https://{host}:{faults[port_name]}/ok", "--allow", "127.0.0.0/8", "--allow", "::1"]
    if error is not None:
        args += ["--ca-file", faults["ca_file"]]
    result = probe(*args)
    assert not result["ok"]
    if error is None:
        assert result["error"].startswith("tls: certificate verify failed: unable to get local issuer")
    else:
        assert result["error"] == error


# --- SSRF ---------------------------------------------------------------------

def test_loopback_is_refused_by_default_and_allowed_with_allow(faults):
    url = f"http://127.0.0.1:{faults['http']}/ok"
    result = probe("--url", url)
    assert result["error"] == "blocked: 127.0.0.1 is loopback (allow it with --probe-allow)"
    assert probe("--url", url, "--allow", "127.0.0.0/8")["ok"]
    # The IPv4-mapped IPv6 spelling is the same host.
    result = probe("--url", f"http://[::ffff:127.0.0.1]:{faults['http']}/ok")
    assert result["error"] == "blocked: ::ffff:127.0.0.1 is loopback (allow it with --probe-allow)"


def test_metadata_address_is_refused_by_default_and_allowed_with_allow():
    url = "http://169.254.169.254/latest/meta-data/"
    result = probe("--url", url, timeout="1s")
    assert result["error"] == "blocked: 169.254.169.254 is link-local (allow it with --probe-allow)"
    # Allowed, the probe really tries (whatever the network then says).
    result = probe("--url", url, "--allow", "169.254.0.0/16", timeout="1s")
    assert not result["error"].startswith("blocked:")


def test_tcp_and_mcp_probes_are_guarded_too(faults):
    for kind in ("tcp", "mcp"):
        result = probe("--kind", kind, "--url", f"http://127.0.0.1:{faults['http']}/ok")
        assert result["error"] == "blocked: 127.0.0.1 is loopback (allow it with --probe-allow)"


@pytest.mark.parametrize("target, error", [
    ("http://169.254.169.254/latest/meta-data/", "blocked: 169.254.169.254 is link-local (allow it with --probe-allow)"),
    ("http://127.0.0.2:1/", "blocked: 127.0.0.2 is loopback (allow it with --probe-allow)"),
])
def test_a_redirect_to_a_denied_address_is_refused(faults, target, error):
    # Only the fault server's own address is allowed; the redirect leads elsewhere.
    result = probe("--url", f"http://127.0.0.1:{faults['http']}/redirect?to={target}", "--allow", "127.0.0.1")
    assert result["error"] == error


# --- Resources ----------------------------------------------------------------

@pytest.mark.parametrize("path, timeout", [("hang", "200ms"), ("reset", "2s")])
def test_memory_stays_flat_over_many_faulty_probes(faults, path, timeout):
    lines = probe_lines("--url", f"http://127.0.0.1:{faults['http']}/{path}", *LOOPBACK, "--timeout", timeout,
                        "--repeat", "2000", "--concurrency", "100", "--summary")
    rss = [line for line in lines if "maxRssKb" in line]
    summary = lines[-1]
    assert summary["count"] == 2000 and summary["ok"] == 0
    assert len(summary["errors"]) == 1, summary["errors"]
    early, late = rss[0], rss[-1]
    assert (early["probes"], late["probes"]) == (200, 2000)
    # A leak of one connection, buffer or coroutine frame per probe would add
    # megabytes over 1800 probes; allocator noise stays well under this.
    assert late["maxRssKb"] - early["maxRssKb"] < 4096, rss
