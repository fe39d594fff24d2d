"""The examples run as a user would run them: as programs, with settings in
the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def run(script, *args, env=None, stdin=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DISCOVERY_")}
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    full_env.update(env or {})
    return subprocess.run([sys.executable, str(EXAMPLES / script), *args], input=stdin, env=full_env,
                          capture_output=True, text=True, timeout=60)


def test_embed(tmp_path):
    r = run("python/embed.py", str(tmp_path / "embed.db"))
    assert r.returncode == 0, r.stderr
    assert "eu-west1 with search: ['acme-eu-west1-1', 'acme-eu-west1-2']" in r.stdout
    assert "status acme-eu-west1-2 -> maintenance" in r.stdout
    assert "3 records" in r.stdout
    again = run("python/embed.py", str(tmp_path / "embed.db"))  # the database persisted
    assert "storage: sqlite:" in again.stdout and ", 3 records" in again.stdout and "re-registered" in again.stdout


def test_client_quickstart(discovery_server):
    r = run("python/client_quickstart.py",
            env={"DISCOVERY_URL": discovery_server.url, "DISCOVERY_TOKEN": discovery_server.mint_token()})
    assert r.returncode == 0, r.stderr
    assert "registered quickstart-1" in r.stdout and "deregistered" in r.stdout
    missing = run("python/client_quickstart.py")
    assert missing.returncode == 2 and "DISCOVERY_URL" in missing.stderr


PROVISIONED = {"company": "acme", "instanceId": "acme-eu-1", "domain": "mcp.acme.example.com",
               "region": "eu-west1", "capabilities": ["tools", "search"]}


def test_provisioner_registers_idempotently(discovery_server, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(discovery_server.mint_token("sapphire", "acme") + "\n")
    env = {"DISCOVERY_URL": discovery_server.url, "DISCOVERY_TOKEN_FILE": str(token_file)}
    first = run("provisioner/register_from_provisioner.py", env=env, stdin=json.dumps(PROVISIONED))
    assert first.returncode == 0, first.stderr
    out1 = json.loads(first.stdout)
    assert out1["created"] is True and out1["status"] == "active"
    f = tmp_path / "provisioned.json"
    f.write_text(json.dumps(PROVISIONED))
    second = run("provisioner/register_from_provisioner.py", str(f), env=env)
    out2 = json.loads(second.stdout)
    assert out2["created"] is False and out2["serviceId"] == out1["serviceId"]
    rec = discovery_server.client.get(out1["serviceId"])
    assert rec.domain == "mcp.acme.example.com" and rec.service_info.region == "eu-west1"
    assert rec.service_info.endpoints.primary == "https://mcp.acme.example.com"
    assert discovery_server.client.discover(company="acme").count == 1


@pytest.mark.parametrize("provisioned, message", [
    ({"company": "acme", "domain": "mcp.acme.example.com"}, "instanceId is required"),
    ({"company": "acme", "instanceId": "a-1"}, "domain or endpoint"),
    ({"company": "acme", "instanceId": "a-1", "domain": "d.example.com", "region": "EU West"}, "serviceInfo.region"),
])
def test_provisioner_rejects_bad_input(discovery_server, provisioned, message):
    env = {"DISCOVERY_URL": discovery_server.url, "DISCOVERY_TOKEN": discovery_server.mint_token()}
    r = run("provisioner/register_from_provisioner.py", env=env, stdin=json.dumps(provisioned))
    assert r.returncode == 2 and message in r.stderr
    assert discovery_server.client.discover().count == 0


def test_provisioner_refused_for_another_company(discovery_server):
    env = {"DISCOVERY_URL": discovery_server.url, "DISCOVERY_TOKEN": discovery_server.mint_token("sapphire", "globex")}
    r = run("provisioner/register_from_provisioner.py", env=env, stdin=json.dumps(PROVISIONED))
    assert r.returncode == 1 and "PermissionDenied" in r.stderr
    assert discovery_server.mint_token("sapphire", "globex") not in r.stderr
