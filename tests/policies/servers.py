"""Real servers on loopback for the policy tests: ``transformers serve`` and small scripted HTTP servers.

- :class:`TransformersServer` runs ``transformers serve`` on a local model directory (offline) in a
  process group of its own, waits until it answers, and stops every process it started.
- :class:`ScriptedServer` is a real threaded ``http.server`` whose answers a test scripts (500 then
  200, 429 with ``Retry-After``, 400...); it records every request and how many overlapped.
- :class:`SilentServer` accepts connections and never answers (the timeout case).
- :func:`refusing_port` gives a port that refuses connections.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def refusing_port() -> Iterator[int]:
    """A port bound but not listening: connections to it are refused, and nobody else can take it."""
    with socket.socket() as bound:
        bound.bind((LOOPBACK, 0))
        yield bound.getsockname()[1]


class TransformersServer:
    """``transformers serve MODEL_DIR`` on loopback, offline, started and stopped by the caller.

    Args:
        model_dir: A local model directory (``config.json``, weights, tokenizer).
        port: The port (default: a free one).
        startup_timeout_s: How long to wait for the server to answer.
        extra_args: More ``transformers serve`` options.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike[str],
        *,
        port: int | None = None,
        startup_timeout_s: float = 180.0,
        extra_args: tuple[str, ...] = (),
    ):
        self.model = str(model_dir)
        self.port = port or free_port()
        self.base_url = f"http://{LOOPBACK}:{self.port}/v1"
        self.startup_timeout_s = startup_timeout_s
        self.extra_args = extra_args
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="transformers-serve-", suffix=".log", delete=False)

    def command(self) -> list[str]:
        """The command line: the venv's ``transformers`` console script, serving the model on CPU."""
        script = Path(sys.executable).with_name("transformers")
        launcher = [str(script)] if script.exists() else [sys.executable, "-m", "transformers.cli.transformers"]
        return [
            *launcher,
            "serve",
            self.model,
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
            "--device",
            "cpu",
            *self.extra_args,
        ]

    def start(self) -> TransformersServer:
        """Start the server and wait until it lists its model; raise with the log's tail if it does not."""
        env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TRANSFORMERS_VERBOSITY="warning")
        # One intra-op thread: on a small shared CPU, OpenMP threads spin-waiting against other processes made
        # each request 10-30x slower; requests are served one at a time anyway.
        env["OMP_NUM_THREADS"] = "1"
        started = time.perf_counter()
        self.process = subprocess.Popen(
            self.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # its own process group, so stop() can reach the model process it spawns
        )
        deadline = started + self.startup_timeout_s
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {self.process.returncode}:\n{self.log_tail()}")
            if self._answers():
                self.startup_s = time.perf_counter() - started
                return self
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"transformers serve did not answer in {self.startup_timeout_s:g} s:\n{self.log_tail()}")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM the server (it stops its model process), then SIGKILL whatever is left in its group."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                pass
        group = self.process.pid  # start_new_session: the group id is the server's pid
        with contextlib.suppress(ProcessLookupError):
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:  # children (the model process) may still be exiting
                os.killpg(group, 0)
                time.sleep(0.1)
            os.killpg(group, signal.SIGKILL)
        self.process.wait()

    def leftover_processes(self) -> bool:
        """Whether any process of the server's group is still alive."""
        if self.process is None:
            return False
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's output."""
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-chars:]

    def __enter__(self) -> TransformersServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


#: What a scripted server answers: ``(status, headers, json_payload)``.
Reply = tuple[int, dict[str, str], Any]


def chat_reply(text: str, **message: Any) -> Reply:
    """A 200 answer shaped like an OpenAI chat completion whose message says ``text``."""
    choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text, **message}}
    return 200, {}, {"id": "chatcmpl-test", "object": "chat.completion", "choices": [choice]}


class ScriptedServer:
    """A threaded HTTP server on loopback whose answers come from ``script(body, index)``.

    ``index`` counts requests from 0 in arrival order. Each request's JSON body and headers are
    recorded in :attr:`requests`; :attr:`peak` is the most requests that were in flight at once.

    Args:
        script: Returns the reply to a request.
        delay_s: How long each request is held before the answer (so overlap can be observed).
    """

    def __init__(self, script: Callable[[dict[str, Any], int], Reply], *, delay_s: float = 0.0):
        self.script = script
        self.delay_s = delay_s
        self.requests: list[dict[str, Any]] = []
        self.peak = 0
        self._active = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server._lock:
                    index = len(server.requests)
                    server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    server._active += 1
                    server.peak = max(server.peak, server._active)
                try:
                    time.sleep(server.delay_s)
                    status, headers, payload = server.script(body, index)
                finally:
                    with server._lock:
                        server._active -= 1
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://{LOOPBACK}:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, name="scripted-server", daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class SilentServer:
    """Accepts every connection and never answers; counts the connections."""

    def __init__(self):
        self._socket = socket.create_server((LOOPBACK, 0))
        self.base_url = f"http://{LOOPBACK}:{self._socket.getsockname()[1]}/v1"
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="silent-server", daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:  # closed by __exit__
                return
            self.connections.append(connection)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        # shutdown() wakes the thread blocked in accept(); close() alone may not
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        self._thread.join()
        for connection in self.connections:
            connection.close()
