"""The real discoveryd for the tests: started on 127.0.0.1:0 with memory
storage and an HS256 secret file, stopped with SIGTERM."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[3]
DEFAULT_BINARY = REPO / "build" / "dev" / "apps" / "discoveryd" / "discoveryd"


def binary() -> Optional[str]:
    path = os.environ.get("DISCOVERYD") or str(DEFAULT_BINARY)
    return path if os.access(path, os.X_OK) else None


class Daemon:
    def __init__(self, *extra_args: str, start_timeout: float = 30.0) -> None:
        exe = binary()
        if exe is None:
            raise RuntimeError("discoveryd is not built (set DISCOVERYD or build build/dev)")
        self.dir = Path(tempfile.mkdtemp(prefix="discoveryd-py-"))
        self.secret_file = self.dir / "jwt-secret"
        self.secret_file.write_text(secrets.token_hex(32) + "\n")
        self.secret_file.chmod(0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DISCOVERY_")}
        self.proc = subprocess.Popen(
            [exe, "--listen", "127.0.0.1:0", "--storage", "memory", "--data-dir", str(self.dir / "data"),
             "--jwt-secret-file", str(self.secret_file), "--min-check-interval", "1s", *extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        self.url = self._wait_listening(start_timeout)
        # Drain standard output so the daemon never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def _wait_listening(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        found: list = []

        def read() -> None:
            for line in self.proc.stdout:
                m = re.search(r"listening on (http://\S+)", line)
                if m:
                    found.append(m.group(1))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(max(0.0, deadline - time.monotonic()))
        if not found:
            self.stop()
            raise RuntimeError("discoveryd did not start listening")
        return found[0]

    @property
    def secret(self) -> bytes:
        return self.secret_file.read_bytes().rstrip()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
