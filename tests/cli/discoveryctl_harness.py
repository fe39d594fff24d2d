"""A real discoveryd and a way to run discoveryctl against it, for the CLI tests.

DISCOVERYD and DISCOVERYCTL name the binaries (CTest sets both); the defaults
are the dev preset's build tree. A module of its own (not conftest.py) so that
tests can import it whatever other conftest files a session loads.
"""

import os
import pathlib
import queue
import signal
import subprocess
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
DISCOVERYD = os.environ.get("DISCOVERYD", str(ROOT / "build/dev/apps/discoveryd/discoveryd"))
DISCOVERYCTL = os.environ.get("DISCOVERYCTL", str(ROOT / "build/dev/apps/discoveryctl/discoveryctl"))

START_TIMEOUT = 20


class LineReader:
    """Reads a pipe on a thread so that tests can wait for a line with a timeout."""

    def __init__(self, pipe):
        self.lines = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(pipe,), daemon=True)
        self._thread.start()

    def _run(self, pipe):
        for line in iter(pipe.readline, ""):
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of stream

    def wait_for(self, predicate, timeout=10):
        """The first line satisfying predicate; fails on timeout or end of stream."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching line within {timeout}s; saw {seen!r}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"stream ended without a matching line; saw {seen!r}")
            seen.append(line)
            if predicate(line):
                return line

    def next_line(self, timeout=10):
        return self.wait_for(lambda _: True, timeout)


class Daemon:
    """discoveryd on a free port (or a given one) with its own data directory."""

    def __init__(self, data_dir, listen="127.0.0.1:0", extra=()):
        self.data_dir = pathlib.Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.data_dir.parent / (self.data_dir.name + ".log"), "a")
        self.proc = subprocess.Popen(
            # Made-up hosts in these tests: no health checker changing records.
            [DISCOVERYD, "--listen", listen, "--data-dir", str(self.data_dir), "--health-checks", "off", *extra],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env=clean_env(),
        )
        self.stdout = LineReader(self.proc.stdout)
        try:
            line = self.stdout.wait_for(lambda l: l.startswith("listening on "), START_TIMEOUT)
        except AssertionError:
            self.stop()
            raise
        self.url = line.split()[-1]
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self):
        """SIGTERM, as an operator would; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def clean_env(**extra):
    """The environment without any DISCOVERY_* setting of the caller's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCOVERY_")}
    env.update(extra)
    return env


class Ctl:
    """Runs discoveryctl against one daemon, with a diamond token in DISCOVERY_TOKEN."""

    def __init__(self, daemon):
        self.daemon = daemon
        self.token = self.mint("diamond")

    def env(self, **extra):
        base = {"DISCOVERY_SERVER": self.daemon.url}
        if getattr(self, "token", None):
            base["DISCOVERY_TOKEN"] = self.token
        base.update(extra)
        return clean_env(**{k: v for k, v in base.items() if v is not None})

    def run(self, *args, input=None, env=None, timeout=30):
        return subprocess.run(
            [DISCOVERYCTL, *map(str, args)],
            input=input,
            capture_output=True,
            text=True,
            env=env if env is not None else self.env(),
            timeout=timeout,
        )

    def ok(self, *args, **kwargs):
        """stdout of a run that must succeed."""
        result = self.run(*args, **kwargs)
        assert result.returncode == 0, (args, result.returncode, result.stderr)
        return result.stdout

    def mint(self, level, company=None, *more):
        args = ["token", "--sao", level, "--data-dir", self.daemon.data_dir, *more]
        if company:
            args += ["--company", company]
        result = subprocess.run(
            [DISCOVERYCTL, *map(str, args)], capture_output=True, text=True, env=clean_env(), timeout=30
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def popen(self, *args, env=None):
        """A long-running discoveryctl (watch) with line readers on both pipes."""
        proc = subprocess.Popen(
            [DISCOVERYCTL, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env if env is not None else self.env(),
        )
        proc.out = LineReader(proc.stdout)
        proc.err = LineReader(proc.stderr)
        return proc
