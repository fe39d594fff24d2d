"""Fixtures of the integration suite: real discoveryd processes.

- `start_daemon(*args, env=..., data_dir=...)` (function scope): starts a
  daemon (binary from $DISCOVERYD, else build/dev/apps/discoveryd/discoveryd)
  on 127.0.0.1:0 with a fresh data directory and returns a running Daemon.
  At teardown every daemon still running gets SIGTERM and must exit 0 within
  15 s; whatever happens, every process started is killed.
- `module_daemon_factory`: the same, shared by a test module.
- `daemon` (module scope): one default daemon per test module.
- `admin`: a diamond Client on `daemon`.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from discovery_it import STOP_TIMEOUT, Daemon, binary  # noqa: E402


def _kill_everything():
    for d in Daemon.all_started:
        try:
            d.kill()
        except Exception:
            pass


atexit.register(_kill_everything)


def pytest_configure(config):
    # A private base directory: concurrent runs (CTest and a developer's
    # pytest, say) never clean up each other's daemons' data directories.
    if config.option.basetemp is None:
        config.option.basetemp = tempfile.mkdtemp(prefix="discovery-it-")
        config._discovery_own_basetemp = config.option.basetemp


def pytest_unconfigure(config):
    own = getattr(config, "_discovery_own_basetemp", None)
    if own and getattr(config, "_discovery_passed", False):
        shutil.rmtree(own, ignore_errors=True)


def pytest_sessionfinish(session, exitstatus):
    _kill_everything()
    session.config._discovery_passed = exitstatus == 0
    if exitstatus != 0 and getattr(session.config, "_discovery_own_basetemp", None):
        print(f"\ndaemon data directories and logs kept in {session.config._discovery_own_basetemp}")


def pytest_sessionstart(session):
    path = binary()
    if not os.access(path, os.X_OK):
        raise pytest.UsageError(
            f"discoveryd not found at {path}: build it (cmake --preset dev && "
            f"cmake --build --preset dev --target discoveryd) or set DISCOVERYD")


class DaemonFactory:
    _ids = itertools.count()

    def __init__(self, tmp_root: Path):
        self.tmp_root = tmp_root
        self.daemons: list[Daemon] = []

    def __call__(self, *args, env: dict | None = None, data_dir: Path | None = None, start: bool = True,
                 data_dir_flag: bool = True, **start_kw) -> Daemon:
        if data_dir is None:
            data_dir = self.tmp_root / f"daemon{next(self._ids)}"
        d = Daemon(data_dir, args, env, data_dir_flag=data_dir_flag)
        self.daemons.append(d)
        if start:
            d.start(**start_kw)
        return d

    def finish(self):
        """SIGTERM every running daemon; each must exit 0 within 15 s."""
        failures = []
        for d in self.daemons:
            if d.running:
                rc = d.stop(STOP_TIMEOUT)
                if rc != 0:
                    failures.append(f"{d.command()}: exit {rc} (None: no exit within {STOP_TIMEOUT}s); "
                                    f"stderr: {d.stderr()}")
        for d in self.daemons:
            d.kill()
        assert not failures, "\n".join(failures)


@pytest.fixture
def start_daemon(tmp_path):
    factory = DaemonFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.finish()


@pytest.fixture(scope="module")
def module_daemon_factory(tmp_path_factory):
    factory = DaemonFactory(tmp_path_factory.mktemp("daemons"))
    try:
        yield factory
    finally:
        factory.finish()


@pytest.fixture(scope="module")
def daemon(module_daemon_factory) -> Daemon:
    return module_daemon_factory()


@pytest.fixture
def admin(daemon):
    return daemon.admin()
