"""The daemon's command line: --help, bad flags, and settings from flags,
DISCOVERY_* environment and a --config file (flag > environment > file)."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest

from discovery_it import DaemonStartError, binary, clean_env, service_body

# API.md's daemon table.
API_FLAGS = ["--listen", "--data-dir", "--storage", "--jwt-secret-file", "--jwt-public-key-file", "--probe-allow",
             "--min-check-interval", "--tls-cert", "--tls-key", "--config", "--rate-limit", "--max-connections",
             "--max-body-bytes"]


def run(*args, env=None, timeout=30):
    return subprocess.run([binary(), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=clean_env(env), stdin=subprocess.DEVNULL)


def test_help_lists_every_flag_of_api_md():
    r = run("--help")
    assert r.returncode == 0, r.stderr
    for flag in API_FLAGS:
        assert flag in r.stdout, flag
        env = "DISCOVERY_" + flag[2:].upper().replace("-", "_")
        assert env in r.stdout, env


def test_version():
    r = run("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("discoveryd ")


@pytest.mark.parametrize("args,needle", [
    (["--bogus"], "--bogus"),
    (["--listen"], "--listen"),
    (["--max-body-bytes", "lots"], "max-body-bytes"),
    (["--rate-limit", "-1"], "rate-limit"),
    (["--storage", "paper"], "storage"),
    (["--min-check-interval", "often"], "min-check-interval"),
    (["--listen", "127.0.0.1"], "listen"),
    (["--listen", "127.0.0.1:70000"], "listen"),
    (["--log-level", "loud"], "log-level"),
    (["positional"], "positional"),
    (["--tls-cert", "/nonexistent/cert.pem"], "tls"),
])
def test_bad_flag_exits_non_zero_with_a_message(tmp_path, args, needle):
    listen = [] if "--listen" in args else ["--listen", "127.0.0.1:0"]  # never a fixed port
    r = run("--data-dir", tmp_path / "d", *listen, *args)
    assert r.returncode != 0
    assert needle in r.stderr, r.stderr
    assert "listening on" not in r.stdout


def test_bad_config_file(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text('{"max-body-bytes": 1000, "no-such-key": 1}')
    r = run("--config", cfg, "--data-dir", tmp_path / "d", "--listen", "127.0.0.1:0")
    assert r.returncode != 0 and "no-such-key" in r.stderr
    cfg.write_text("not json")
    r = run("--config", cfg, "--data-dir", tmp_path / "d", "--listen", "127.0.0.1:0")
    assert r.returncode != 0 and "config" in r.stderr


def test_generated_secret_is_private(start_daemon):
    d = start_daemon()
    mode = stat.S_IMODE(os.stat(d.data_dir / "jwt-secret").st_mode)
    assert mode == 0o600, oct(mode)
    assert d.token and d.client(d.token).discover().status == 200


def body_of(size: int) -> bytes:
    body = service_body("cfg", metadata={"pad": ""})
    base = len(json.dumps(body).encode())
    body["metadata"]["pad"] = "x" * (size - base)
    return json.dumps(body).encode()


def accepts(d, size) -> bool:
    r = d.admin().register(body_of(size))
    assert r.status in (200, 201, 413), r
    return r.status != 413


def test_settings_precedence_flag_over_env_over_file(start_daemon, tmp_path):
    cfg = tmp_path / "settings.json"
    cfg.write_text(json.dumps({"max-body-bytes": 2000}))

    file_only = start_daemon("--config", cfg, expect_token=True)
    assert accepts(file_only, 1900) and not accepts(file_only, 2100)

    env_over_file = start_daemon("--config", cfg, env={"DISCOVERY_MAX_BODY_BYTES": "3000"}, expect_token=True)
    assert accepts(env_over_file, 2900) and not accepts(env_over_file, 3100)

    flag_over_env = start_daemon("--config", cfg, "--max-body-bytes", "4000",
                                 env={"DISCOVERY_MAX_BODY_BYTES": "3000"}, expect_token=True)
    assert accepts(flag_over_env, 3900) and not accepts(flag_over_env, 4100)

    # The config file itself may come from the environment.
    env_config = start_daemon(env={"DISCOVERY_CONFIG": str(cfg)}, expect_token=True)
    assert accepts(env_config, 1900) and not accepts(env_config, 2100)


def test_data_dir_from_env_and_from_file(start_daemon, tmp_path):
    env_dir = tmp_path / "from-env"
    d = start_daemon(env={"DISCOVERY_DATA_DIR": str(env_dir)}, data_dir=env_dir, data_dir_flag=False)
    assert (env_dir / "jwt-secret").exists() and (env_dir / "discovery.db").exists()
    assert d.token

    file_dir = tmp_path / "from-file"
    cfg = tmp_path / "dir.json"
    cfg.write_text(json.dumps({"data-dir": str(file_dir)}))
    d = start_daemon("--config", cfg, data_dir=file_dir, data_dir_flag=False, expect_token=True)
    assert (file_dir / "discovery.db").exists()

    # The flag beats both.
    flag_dir = tmp_path / "from-flag"
    d = start_daemon("--config", cfg, env={"DISCOVERY_DATA_DIR": str(env_dir)}, data_dir=flag_dir,
                     expect_token=True)
    assert (flag_dir / "discovery.db").exists()
    assert d.token


def test_memory_storage_keeps_nothing(start_daemon):
    d = start_daemon("--storage", "memory")
    admin = d.admin()
    assert admin.register(service_body("mem")).status == 201
    assert d.stop() == 0
    d.restart()
    assert d.admin().discover().body["count"] == 0
    assert not (d.data_dir / "discovery.db").exists()


def test_second_daemon_on_the_same_data_dir_is_refused(start_daemon):
    d = start_daemon()
    twin = start_daemon(data_dir=d.data_dir, start=False)
    with pytest.raises(DaemonStartError):
        twin.start(timeout=20)
    assert twin.proc.returncode != 0
    assert d.client().get("/ready").status == 200


def test_min_check_interval_flag(start_daemon):
    d = start_daemon("--min-check-interval", "10s")
    admin = d.admin()
    r = admin.register(service_body("mci", healthCheckConfig={"interval": "5s"}))
    assert r.status == 400 and r.body["error"]["field"] == "healthCheckConfig.interval"
    assert admin.register(service_body("mci", healthCheckConfig={"interval": "10s"})).status == 201
