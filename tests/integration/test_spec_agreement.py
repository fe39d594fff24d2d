"""Where schemathesis (tests/schemathesis) found the daemon and its own
OpenAPI document disagreeing, or an answer that was not JSON. Each case
checks the server against the pattern the served /openapi.json gives, so
the two cannot drift apart again unnoticed.

The patterns use only what ECMA-262 and Python's `re` read alike.
"""

from __future__ import annotations

import json
import math
import re

import pytest

from discovery_it import assert_error, service_body


@pytest.fixture(scope="module")
def spec(daemon):
    r = daemon.client().get("/openapi.json")
    assert r.status == 200
    return r.body


def schema(spec, name):
    return spec["components"]["schemas"][name]


def matches(pattern: str, text: str) -> bool:
    """A JSON Schema (ECMA-262) pattern: its `$` is the very end, where
    Python's also matches before a final newline."""
    if pattern.endswith("$"):
        pattern = pattern[:-1] + r"\Z"
    return re.search(pattern, text) is not None


def strict_json(raw: bytes):
    """json.loads that refuses Infinity and NaN, as every other JSON parser does."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(raw, parse_constant=refuse)


def test_a_huge_response_time_is_answered_as_json(admin):
    sid = admin.register(service_body("spec-rt")).body["serviceId"]
    r = admin.put(f"/api/v1/services/{sid}/health", {"ok": False, "responseTime": 9.56323079529432e307})
    assert r.status == 200, r
    body = strict_json(r.raw)  # was {"responseTime":Infinity,...}
    assert math.isfinite(body["responseTime"]) and body["responseTime"] == 9.56323079529432e307
    for path in (f"/api/v1/services/{sid}", f"/api/v1/services/{sid}/health"):
        got = admin.get(path)
        assert got.status == 200
        strict_json(got.raw)


URLS = [
    ("https://mcp.acme.example", True),
    ("HTTP://mcp.acme.example:8080/mcp?x=1#f", True),
    ("http://[::1]:8080/x", True),
    ("http://a.b_c~%/p", True),
    ("https://a:080", True),
    ("https://a:0", False),
    ("https://a:65536", False),
    ("https://a:", False),
    ("https://user@a", False),
    ("https://a/b c", False),
    ("https://\u00e9.example", False),
    ("ftp://a", False),
    ("https://", False),
    ("http://[]", False),
    # Bracketed hosts are real IPv6 addresses ("[782:]" was accepted, and
    # broke a client's URL parser when read back).
    ("http://[782:]", False),
    ("http://[2001:db8::1]/mcp", True),
    ("http://[::ffff:192.0.2.1]:8443", True),
    ("http://[1:2:3:4:5:6:7:8:9]", False),
    ("http://[:::]", False),
]


@pytest.mark.parametrize("url,valid", URLS)
def test_url_rule_of_server_and_spec_agree(admin, spec, url, valid):
    pattern = schema(spec, "HttpUrl")["pattern"]
    assert matches(pattern, url) == valid, f"spec pattern on {url!r}"
    body = service_body("spec-url")
    body["serviceInfo"]["endpoints"] = {"primary": "https://a.example", "metrics": url}
    r = admin.register(body)
    if valid:
        assert r.status in (200, 201), r
    else:
        assert_error(r, 400, "serviceInfo.endpoints.metrics")


def test_an_empty_optional_endpoint_is_refused_as_the_spec_says(admin, spec):
    # Was accepted and silently read as "absent".
    assert not matches(schema(spec, "HttpUrl")["pattern"], "")
    for name in ("health", "metrics", "mcp"):
        body = service_body("spec-empty")
        body["serviceInfo"]["endpoints"] = {"primary": "https://a.example", name: ""}
        assert_error(admin.register(body), 400, f"serviceInfo.endpoints.{name}")
    sid = admin.register(service_body("spec-empty")).body["serviceId"]
    r = admin.patch(f"/api/v1/services/{sid}", {"serviceInfo": {"endpoints": {"mcp": ""}}},
                    content_type="application/merge-patch+json")
    assert_error(r, 400, "serviceInfo.endpoints.mcp")


def _health_endpoint_pattern(spec):
    hcc = schema(spec, "HealthCheckConfig") if "HealthCheckConfig" in spec["components"]["schemas"] else None
    found = []

    def walk(x):
        if isinstance(x, dict):
            if x.get("type") == "array" and isinstance(x.get("items"), dict) and "pattern" in x["items"] \
                    and x["items"]["pattern"].startswith("^(/"):
                found.append(x["items"]["pattern"])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(hcc if hcc is not None else spec)
    assert found, "no health endpoint pattern in the spec"
    return found[0]


@pytest.mark.parametrize("endpoint,valid", [
    ("/health", True), ("/ready?full=1", True), ("https://other.example/health", True),
    ("/", True), ("/a b", False), ("/\u00e9", False), ("http://", False), ("health", False),
    ("https://a:0/h", False),
])
def test_health_endpoint_rule_of_server_and_spec_agree(admin, spec, endpoint, valid):
    assert matches(_health_endpoint_pattern(spec), endpoint) == valid
    r = admin.register(service_body("spec-hep", healthCheckConfig={"endpoints": [endpoint]}))
    if valid:
        assert r.status in (200, 201), r
    else:
        assert_error(r, 400, "healthCheckConfig.endpoints[0]")


@pytest.mark.parametrize("version,valid", [("1.4.2", True), ("v2 (beta) \u00e9", True), ("1.0\n", False),
                                           ("\u007f", False), ("a\tb", False)])
def test_version_rule_of_server_and_spec_agree(admin, spec, version, valid):
    pattern = schema(spec, "ServiceInfo")["properties"]["version"]["pattern"]
    assert matches(pattern, version) == valid
    body = service_body("spec-ver")
    body["serviceInfo"]["version"] = version
    r = admin.register(body)
    if valid:
        assert r.status in (200, 201), r
    else:
        assert_error(r, 400, "serviceInfo.version")


def test_cursor_rule_of_server_and_spec_agree(admin, spec):
    param = next(p for p in spec["components"]["parameters"].values() if p.get("name") == "cursor")
    pattern = param["schema"]["pattern"]
    good = "0000000a-0000-4000-8000-00000000000f"
    for cursor in ("0", "not-a-cursor", good.upper()):
        assert not matches(pattern, cursor)
        assert_error(admin.discover({"cursor": cursor}), 400, "cursor")
    assert matches(pattern, good)
    assert admin.discover({"cursor": good}).status == 200
    # A real nextCursor fits the pattern.
    for i in range(3):
        admin.register(service_body("spec-cur", f"spec-cur-{i}"))
    page = admin.discover({"company": "spec-cur", "limit": 1}).body
    assert page["nextCursor"] and matches(pattern, page["nextCursor"])


def test_error_answers_are_utf8_json_whatever_the_client_sent(admin, daemon):
    # A query value or parameter name that is not UTF-8 was quoted into the
    # error message byte for byte: the answer was not JSON (nor UTF-8).
    for path in ("/api/v1/audit?since=%F2%AC%B6%88X%C3%BA%F0%A0", "/api/v1/services/discover?%C3%28=1",
                 "/api/v1/services/discover?%FF%FE=x", "/api/v1/audit?%ED%A0%80=1"):
        r = admin.get(path)
        assert r.status == 400, r
        strict_json(r.raw.decode("utf-8"))  # raises on invalid UTF-8
        assert "\ufffd" in r.raw.decode("utf-8"), r.raw
    ok = admin.get("/api/v1/services/discover?caf%C3%A9=1")
    assert ok.status == 400 and "café" in ok.body["error"]["field"]


def test_empty_list_names_in_discover_are_refused_as_the_spec_says(admin, spec):
    params = spec["components"]["parameters"]
    for name, key in (("tags", "Tags"), ("capabilities", "Capabilities"), ("tools", "Tools")):
        pattern = params[key]["schema"]["items"]["pattern"]
        for value in ("", "a,,b", "a,"):
            assert not matches(pattern, value)
            assert_error(admin.discover([(name, value)]), 400, name)
        assert matches(pattern, "a,b")
        assert admin.discover([(name, "a,b")]).status == 200
    tool = "\u20ac" * 128  # 128 characters, 384 bytes
    assert matches(params["Tools"]["schema"]["items"]["pattern"], tool)
    assert admin.discover([("tools", tool)]).status == 200
    assert_error(admin.discover([("tools", tool + "x")]), 400, "tools")


def test_null_message_and_response_time_in_a_health_report(admin, spec):
    props = schema(spec, "HealthReport")["properties"]
    assert "null" in props["message"]["type"] and "null" in props["responseTime"]["type"]
    sid = admin.register(service_body("spec-null")).body["serviceId"]
    r = admin.put(f"/api/v1/services/{sid}/health", {"ok": False, "responseTime": None, "message": None})
    assert r.status == 200, r
    long_message = "\u20ac" * 1024  # 1024 characters: the limit counts characters
    assert admin.put(f"/api/v1/services/{sid}/health", {"ok": False, "message": long_message}).status == 200
    assert_error(admin.put(f"/api/v1/services/{sid}/health", {"ok": False, "message": long_message + "x"}), 400,
                 "message")


@pytest.mark.parametrize("primary,derivable", [
    ("https://mcp.acme.example", True), ("https://MCP.Acme.Example:8443/x", True), ("http://10.0.0.2:8080", True),
    ("http://[2606:4700::1111]:8080", False), ("http://a_b.example", False), ("http://a~b", False),
])
def test_domain_is_required_exactly_when_the_spec_says(admin, spec, primary, derivable):
    cond = schema(spec, "RegistrationRequest")["if"]
    pattern = cond["properties"]["serviceInfo"]["properties"]["endpoints"]["properties"]["primary"]["not"]["pattern"]
    assert matches(pattern, primary) == derivable
    body = service_body("spec-dom")
    body.pop("domain", None)
    body["serviceInfo"]["endpoints"] = {"primary": primary}
    r = admin.register(body)
    if derivable:
        assert r.status in (200, 201), r
        assert r.body["domain"] == primary.split("://")[1].split("/")[0].split(":")[0].lower()
    else:
        assert_error(r, 400, "domain")
        body["domain"] = "mcp.spec-dom.example"
        assert admin.register(body).status in (200, 201)


def test_empty_domain_is_refused_and_null_derives_it(admin, spec):
    body = service_body("spec-domain")
    body["domain"] = ""
    assert_error(admin.register(body), 400, "domain")  # was accepted as "derive it"
    body["domain"] = None
    r = admin.register(body)
    assert r.status == 201 and r.body["domain"] == "mcp.spec-domain.example.com", r
    assert_error(admin.patch(f"/api/v1/services/{r.body['serviceId']}", {"domain": ""}), 400, "domain")


def test_null_optional_registration_fields_are_documented_as_absent(admin, spec):
    # The server reads null as "left out"; schemathesis found metadata: null
    # accepted while the document said object.
    reg = schema(spec, "RegistrationRequest")
    for name, prop in reg["properties"].items():
        if name in reg["required"]:
            continue
        assert {"type": "null"} in prop.get("anyOf", []), name
        body = service_body("spec-nulls", f"spec-nulls-{name}")
        body[name] = None
        if name == "instanceId":
            body.pop("instanceId")
            body[name] = None
        r = admin.register(body)
        assert r.status in (200, 201), (name, r)


def test_alerts_refuse_an_empty_service_id(admin):
    # Was answered as if absent: every alert the caller may see.
    assert_error(admin.get("/api/v1/alerts", query={"serviceId": ""}), 400, "serviceId")


def test_registry_api_version_bounds_and_lowercase_remote_schemes(admin, spec):
    for path in ("/v0.1/servers", "/v0/servers"):
        version = next(p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == "version")
        assert version["schema"].get("minLength") == 1 and version["schema"].get("maxLength") == 255
        assert admin.get(path, query={"version": ""}).status == 400
    body = service_body("spec-scheme", "spec-scheme-1")
    body["serviceInfo"]["endpoints"] = {"primary": "HTTPS://mcp.spec-scheme.example.com/mcp"}
    assert admin.register(body).status == 201
    servers = admin.get("/v0.1/servers", query={"limit": 100}).body["servers"]
    urls = [r["url"] for s in servers for r in s["server"].get("remotes", []) if "spec-scheme" in r["url"]]
    assert urls == ["https://mcp.spec-scheme.example.com/mcp"], urls
    pattern = spec["components"]["schemas"]["McpRegistryStreamableHttpTransport"]["properties"]["url"]["pattern"]
    assert all(matches(pattern, u) for u in urls)


def test_numbers_beyond_a_double_are_refused_and_the_store_still_loads(start_daemon):
    # 1e400 in metadata was stored as Infinity: answers said `Infinity`, and
    # after a restart the daemon refused to start ("stored record ... is not
    # valid JSON").
    d = start_daemon()
    admin = d.admin()
    raw = json.dumps(service_body("spec-inf", "spec-inf-1"))
    for bad in ('{"y": 1e400}', '{"x": [0e400]}', '{"z": -1e999}'):
        r = admin.register(raw[:-1] + ', "metadata": ' + bad + "}")
        assert_error(r, 400, "metadata")
    sid = admin.register(service_body("spec-inf", "spec-inf-2")).body["serviceId"]
    r = admin.patch(f"/api/v1/services/{sid}", '{"metadata": {"n": 1e400}}', content_type="application/merge-patch+json")
    assert_error(r, 400, "metadata")
    assert d.stop() == 0
    d.restart()
    assert d.admin().service(sid).status == 200
