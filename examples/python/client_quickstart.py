"""The REST client against a running discoveryd.

    export DISCOVERY_URL=http://127.0.0.1:8080
    export DISCOVERY_TOKEN_FILE=~/.config/discovery/token   # or DISCOVERY_TOKEN
    python examples/python/client_quickstart.py

(`make run` prints an admin token on the daemon's first start; keep it in a
file readable only by you, never on a command line.)
"""

import sys

from mcp_discovery import Client, DiscoveryError, NotFound


def main() -> int:
    try:
        client = Client.from_env()
    except (ValueError, OSError) as e:
        print(f"client_quickstart: {e}", file=sys.stderr)
        return 2
    try:
        rec = client.register({
            "companyName": "quickstart",
            "instanceId": "quickstart-1",            # the same id again is an update, not a duplicate
            "serviceInfo": {"region": "us-west1", "environment": "staging", "capabilities": ["tools"],
                            "endpoints": {"primary": "https://mcp.quickstart.example.com"}},
            "healthCheckConfig": {"ttl": "60s"},
        })
        print(f"{'registered' if rec.created else 'updated'} {rec.instance_id}: {rec.service_id}")

        beat = client.heartbeat(rec.service_id)
        print(f"heartbeat: {beat.status}, next one due before {beat.expires_at:%H:%M:%S} UTC")

        for r in client.iter_discover(company="quickstart", status="active"):
            print(f"  {r.instance_id:<20} {r.service_info.region:<12} {','.join(r.capabilities)}")

        client.deregister(rec.service_id)
        try:
            client.get(rec.service_id)
        except NotFound:
            print("deregistered")
    except DiscoveryError as e:
        print(f"client_quickstart: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
