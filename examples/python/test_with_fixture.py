"""An example test using the mcp_discovery pytest plugin.

    pip install ./bindings/python pytest
    pytest examples/python/test_with_fixture.py

`discovery_server` comes from the plugin (installed with the package): a real
discovery server on 127.0.0.1 with an ephemeral port, in memory, with an
admin client and a way to mint tokens of any level. Nothing to start or stop.
"""

import mcp_discovery


def test_my_provisioner_registers_an_instance(discovery_server):
    # Code under test would get these two values from its configuration.
    url = discovery_server.url
    token = discovery_server.mint_token("sapphire", company="acme")

    client = mcp_discovery.Client(url, token=token)
    client.register({
        "companyName": "acme",
        "instanceId": "acme-eu-1",
        "serviceInfo": {"region": "eu-west1", "capabilities": ["tools"],
                        "endpoints": {"primary": "https://mcp.acme.example.com"}},
    })

    # Assert with the admin client (or the in-process registry).
    found = discovery_server.client.discover(company="acme", region="eu-west1")
    assert [r.instance_id for r in found] == ["acme-eu-1"]


def test_a_read_only_token_cannot_change_records(discovery_server):
    rec = discovery_server.client.register({
        "companyName": "acme",
        "serviceInfo": {"endpoints": {"primary": "https://mcp.acme.example.com"}},
    })
    reader = discovery_server.client_for("onyx", company="acme")
    try:
        reader.set_status(rec.service_id, "maintenance")
    except mcp_discovery.PermissionDenied:
        pass
    else:
        raise AssertionError("onyx changed a record")
