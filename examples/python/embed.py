"""The registry in your own process: no daemon, no HTTP.

    python examples/python/embed.py [DATABASE]      # default: in memory

Registers a small fleet, discovers with filters, follows changes with a watch,
then serves the same registry over HTTP for a moment to show both faces.
"""

import sys

from mcp_discovery import Client, Registry, Server


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else None
    with Registry(path) as registry:
        print(f"storage: {registry.storage}, {len(registry)} records")

        for i, region in enumerate(["us-west1", "eu-west1", "eu-west1"]):
            rec = registry.register({
                "companyName": "acme",
                "instanceId": f"acme-{region}-{i}",
                "serviceInfo": {"region": region, "capabilities": ["tools", "search"] if i else ["tools"],
                                "endpoints": {"primary": f"https://mcp{i}.acme.example.com"}},
                "tags": ["gpu"] if i == 2 else [],
            })
            print(f"{'registered' if rec.created else 're-registered'} {rec.instance_id} as {rec.service_id}")

        page = registry.discover(company="acme", region="eu-west1", capabilities=["search"])
        print("eu-west1 with search:", sorted(r.instance_id for r in page))

        with registry.watch(company="acme") as changes:
            target = registry.find("acme", "acme-eu-west1-2")
            registry.set_status(target.service_id, "maintenance")
            event = changes.next(timeout=5)
            print(f"watch: #{event.index} {event.type} {event.service.instance_id} -> {event.service.status}")

        # The same registry behind the daemon's HTTP API, in this process.
        with Server(registry) as server:
            client = Client(server.url, token=server.mint_token("onyx", "acme"))
            print(f"over HTTP at {server.url}:", client.discover(company="acme").count, "records")


if __name__ == "__main__":
    main()
