"""Starts a real `parendb serve` on a free loopback port for a test."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))


def binary() -> str:
    path = os.environ.get("PARENDB_BIN") or os.path.join(REPO, "build", "parendb")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"no parendb binary at {path}: build it (scripts/build build) or set PARENDB_BIN")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process with its own data directory, stopped by stop()."""

    def __init__(self, password: Optional[str] = None, extra: Optional[List[str]] = None) -> None:
        self.dir = tempfile.mkdtemp(prefix="parendb-pytest-")
        self.socket_path = os.path.join(self.dir, "parendb.sock")  # --socket, beside TCP
        self.password = password
        self.extra = extra or []
        self.proc: Optional[subprocess.Popen] = None
        self.start()

    def start(self) -> None:
        self.port = free_port()
        args = [binary(), "serve", "--data", os.path.join(self.dir, "data"), "--port", str(self.port),
                "--log-level", "warn", "--threads", "1", "--socket", self.socket_path] + self.extra
        if self.password is not None:
            pw = os.path.join(self.dir, "password")
            with open(pw, "w") as f:
                f.write(self.password)
            args += ["--password-file", pw]
        self.log = os.path.join(self.dir, "server.log")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    with open(self.log, errors="replace") as log:
                        raise RuntimeError("parendb serve exited: " + log.read())
                if time.monotonic() > deadline:
                    raise RuntimeError("parendb serve did not start listening")
                time.sleep(0.01)

    def kill(self) -> None:
        """SIGKILL: the process dies mid-whatever."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class ServerPerClass:
    """Mixin for a TestCase: one server for the class, in cls.server."""

    server: Server

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()  # type: ignore[misc]
        cls.server = Server()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.cleanup()
        super().tearDownClass()  # type: ignore[misc]
