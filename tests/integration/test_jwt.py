"""JWT over HTTP: RS256 and ES256 with --jwt-public-key-file, algorithm
confusion, nbf, required claims, and --jwt-issuer / --jwt-audience."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from discovery_it import (DaemonStartError, assert_error, claims_for, hs256, mint_hs256,
                          service_body, sign_jwt)


def pem_public(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def rsa_daemon(module_daemon_factory, rsa_key, tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "rsa.pem"
    path.write_bytes(pem_public(rsa_key))
    d = module_daemon_factory("--jwt-public-key-file", path)
    d.pem = path.read_bytes()
    return d


@pytest.fixture(scope="module")
def ec_daemon(module_daemon_factory, ec_key, tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "ec.pem"
    path.write_bytes(pem_public(ec_key))
    d = module_daemon_factory("--jwt-public-key-file", path)
    d.pem = path.read_bytes()
    return d


def check_works(d, tok, company="acme"):
    c = d.client(tok)
    r = c.register(service_body(company))
    assert r.status == 201, r
    assert c.service(r.body["serviceId"]).status == 200


def test_rs256_accepted(rsa_daemon, rsa_key):
    assert rsa_daemon.token is None  # no secret generated when a public key is configured
    check_works(rsa_daemon, sign_jwt(rsa_key, "RS256", claims_for("diamond")))
    check_works(rsa_daemon, sign_jwt(rsa_key, "RS256", claims_for("sapphire", "acme")))


def test_es256_accepted(ec_daemon, ec_key):
    check_works(ec_daemon, sign_jwt(ec_key, "ES256", claims_for("emerald")))


def test_rs256_rejections(rsa_daemon, rsa_key):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    bad = {
        "other-key": sign_jwt(other, "RS256", claims_for("diamond")),
        # Algorithm confusion: HS256 with the public key PEM as the HMAC secret.
        "hs256-with-pem-as-secret": hs256(rsa_daemon.pem, {"alg": "HS256", "typ": "JWT"}, claims_for("diamond")),
        "hs256-with-trimmed-pem": hs256(rsa_daemon.pem.strip(), {"alg": "HS256"}, claims_for("diamond")),
        "es256-on-rsa-key": sign_jwt(ec.generate_private_key(ec.SECP256R1()), "ES256", claims_for("diamond")),
        "rs256-header-es256": sign_jwt(rsa_key, "RS256", claims_for("diamond"), header={"alg": "ES256"}),
        "nbf-in-future": sign_jwt(rsa_key, "RS256", claims_for("diamond", extra={"nbf": now + 600})),
        "expired": sign_jwt(rsa_key, "RS256", claims_for("diamond", ttl=-300)),
        "missing-sao": sign_jwt(rsa_key, "RS256", claims_for("diamond", omit=("sao",))),
        "missing-company": sign_jwt(rsa_key, "RS256", claims_for("onyx")),
        "missing-exp": sign_jwt(rsa_key, "RS256", claims_for("diamond", omit=("exp",))),
        "alg-none": sign_jwt(rsa_key, "RS256", claims_for("diamond")).rsplit(".", 2)[0] + ".",
    }
    before = rsa_daemon.client(sign_jwt(rsa_key, "RS256", claims_for("diamond"))).discover().body["index"]
    for name, tok in bad.items():
        c = rsa_daemon.client(tok)
        r = c.discover()
        assert r.status == 401, (name, r)
        assert_error(r, 401)
        r = c.register(service_body("acme"))
        assert r.status == 401, (name, r)
    after = rsa_daemon.client(sign_jwt(rsa_key, "RS256", claims_for("diamond"))).discover().body["index"]
    assert after == before


def test_es256_rejections(ec_daemon, ec_key):
    bad = {
        "hs256-with-pem-as-secret": hs256(ec_daemon.pem, {"alg": "HS256"}, claims_for("diamond")),
        "other-key": sign_jwt(ec.generate_private_key(ec.SECP256R1()), "ES256", claims_for("diamond")),
        "missing-company": sign_jwt(ec_key, "ES256", claims_for("sapphire")),
        "nbf-in-future": sign_jwt(ec_key, "ES256", claims_for("diamond", extra={"nbf": int(time.time()) + 600})),
    }
    for name, tok in bad.items():
        r = ec_daemon.client(tok).discover()
        assert r.status == 401, (name, r)


def test_secret_and_public_key_together(start_daemon, rsa_key, tmp_path):
    """Both kinds configured: HS256 with the secret and RS256 with the key
    work; HS256 signed with the PEM still does not."""
    secret = tmp_path / "secret"
    secret.write_text("my-shared-secret-0123456789abcdef\n\n")
    pem = tmp_path / "rsa.pem"
    pem.write_bytes(pem_public(rsa_key))
    d = start_daemon("--jwt-secret-file", secret, "--jwt-public-key-file", pem)
    assert d.client(mint_hs256(b"my-shared-secret-0123456789abcdef", "diamond")).discover().status == 200
    assert d.client(sign_jwt(rsa_key, "RS256", claims_for("diamond"))).discover().status == 200
    assert d.client(hs256(pem.read_bytes(), {"alg": "HS256"}, claims_for("diamond"))).discover().status == 401
    # The secret file's trailing whitespace is not part of the key.
    assert d.client(mint_hs256(b"my-shared-secret-0123456789abcdef\n", "diamond")).discover().status == 401


def test_issuer_and_audience_enforced(start_daemon):
    d = start_daemon("--jwt-issuer", "https://issuer.example", "--jwt-audience", "discovery")
    # The diamond token printed on first start carries them.
    assert d.client(d.token).discover().status == 200
    good = {"iss": "https://issuer.example", "aud": "discovery"}
    assert d.client(d.mint("diamond", extra=good)).discover().status == 200
    assert d.client(d.mint("diamond", extra={**good, "aud": ["other", "discovery"]})).discover().status == 200
    for extra, omit in [({**good, "iss": "https://evil.example"}, ()), ({**good, "aud": "other"}, ()),
                        ({**good, "aud": ["other"]}, ()), (good, ("iss",)), (good, ("aud",))]:
        r = d.client(d.mint("diamond", extra=extra, omit=omit)).discover()
        assert_error(r, 401)


def test_without_audience_option_aud_is_ignored(daemon):
    assert daemon.client(daemon.mint("diamond", extra={"aud": "anything", "iss": "whoever"})).discover().status == 200


def test_weak_rsa_key_refused_at_start(start_daemon, tmp_path):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = tmp_path / "weak.pem"
    pem.write_bytes(pem_public(weak))
    d = start_daemon("--jwt-public-key-file", pem, start=False)
    with pytest.raises(DaemonStartError):
        d.start(timeout=20)
    assert d.proc.returncode not in (0, None)
    assert "discoveryd:" in d.stderr()


def test_unreadable_public_key_file_refused_at_start(start_daemon, tmp_path):
    d = start_daemon("--jwt-public-key-file", tmp_path / "missing.pem", start=False)
    with pytest.raises(DaemonStartError):
        d.start(timeout=20)
    assert d.proc.returncode != 0
