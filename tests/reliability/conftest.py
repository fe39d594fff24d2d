"""Fixtures of the reliability suite: real discoveryd processes, as in
tests/integration (see its conftest.py), started here with the flags each
test needs."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from discovery_it import STOP_TIMEOUT, Daemon  # noqa: E402


@pytest.fixture
def start_daemon(tmp_path):
    started: list[Daemon] = []

    def start(*args) -> Daemon:
        d = Daemon(tmp_path / f"daemon{len(started)}", args)
        started.append(d)
        return d.start()

    try:
        yield start
    finally:
        failures = []
        for d in started:
            if d.running:
                rc = d.stop(STOP_TIMEOUT)
                if rc != 0:
                    failures.append(f"discoveryd exit {rc} on SIGTERM; stderr: {d.stderr()}")
            d.kill()
        assert not failures, "\n".join(failures)
