"""Fixtures of the discoveryctl tests: one daemon for the session, shared by
tests that each use a company of their own."""

import itertools
import os

import pytest

from discoveryctl_harness import Ctl, Daemon


@pytest.fixture(scope="session")
def daemon(tmp_path_factory):
    d = Daemon(tmp_path_factory.mktemp("discoveryd") / "data")
    yield d
    assert d.stop() == 0


@pytest.fixture(scope="session")
def ctl(daemon):
    return Ctl(daemon)


_companies = itertools.count()


@pytest.fixture
def company():
    """A company name no other test uses, so tests share one daemon without interfering."""
    return f"co{os.getpid()}-{next(_companies)}"
