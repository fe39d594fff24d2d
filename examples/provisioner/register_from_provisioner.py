#!/usr/bin/env python3
"""Register an MCP instance from the output of a provisioning step.

    provision-mcp ... | register_from_provisioner.py            # JSON on stdin
    register_from_provisioner.py provisioned.json

The JSON (field names in either spelling):

    {"company": "acme", "instanceId": "acme-eu-1", "domain": "mcp.acme.example.com",
     "region": "eu-west1", "capabilities": ["tools", "search"],
     "environment": "production", "version": "1.4.2", "tags": ["beta"],
     "endpoint": "https://mcp.acme.example.com", "ttl": "30s"}

company, instanceId and domain (or endpoint) are required. Running it again
with the same output is harmless: registration is idempotent per (company,
instanceId) and keeps the serviceId. Prints the record's serviceId, status and
whether it was new, as one JSON line.

Settings come from the environment, never from the command line (where any
user of the machine could read a token in `ps`):
  DISCOVERY_URL                     the daemon, e.g. http://127.0.0.1:8080
  DISCOVERY_TOKEN_FILE or DISCOVERY_TOKEN   a sapphire token of the company (or higher)

Exit status: 0 registered, 2 bad input or settings, 1 refused or unreachable.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict

from mcp_discovery import Client, DiscoveryError

ALIASES = {"companyName": "company", "instance_id": "instanceId", "instance": "instanceId",
           "primary": "endpoint", "url": "endpoint"}


class BadInput(ValueError):
    pass


def registration(provisioned: Dict[str, Any]) -> Dict[str, Any]:
    """The registration body for a provisioner's output."""
    if not isinstance(provisioned, dict):
        raise BadInput("the provisioner output must be a JSON object")
    p = {ALIASES.get(k, k): v for k, v in provisioned.items()}
    for name in ("company", "instanceId"):
        if not isinstance(p.get(name), str) or not p[name]:
            raise BadInput(f"{name} is required (a non-empty string)")
    endpoint = p.get("endpoint") or (f"https://{p['domain']}" if p.get("domain") else None)
    if not isinstance(endpoint, str):
        raise BadInput("domain or endpoint is required")
    caps = p.get("capabilities", [])
    if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
        raise BadInput("capabilities must be a list of strings")
    info: Dict[str, Any] = {"capabilities": caps, "endpoints": {"primary": endpoint}}
    for name in ("region", "environment", "version"):
        if p.get(name):
            info[name] = p[name]
    if p.get("mcpEndpoint"):
        info["endpoints"]["mcp"] = p["mcpEndpoint"]
    body: Dict[str, Any] = {"companyName": p["company"], "instanceId": p["instanceId"], "serviceInfo": info}
    if p.get("domain"):
        body["domain"] = p["domain"]
    if p.get("tags"):
        body["tags"] = p["tags"]
    if p.get("ttl"):
        body["healthCheckConfig"] = {"ttl": p["ttl"]}
    return body


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", help="the provisioner's JSON output (default: standard input)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    args = parser.parse_args(argv)
    try:
        text = open(args.file, encoding="utf-8").read() if args.file else sys.stdin.read()
        body = registration(json.loads(text))
        client = Client.from_env(timeout=args.timeout, retries=3)
    except (BadInput, ValueError, OSError) as e:
        print(f"register_from_provisioner: {e}", file=sys.stderr)
        return 2
    try:
        rec = client.register(body)
    except DiscoveryError as e:
        where = f" ({e.field})" if e.field else ""
        print(f"register_from_provisioner: {type(e).__name__}{where}: {e.message}", file=sys.stderr)
        return 2 if e.status == 400 else 1
    print(json.dumps({"serviceId": rec.service_id, "instanceId": rec.instance_id, "status": rec.status,
                      "created": rec.created}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
