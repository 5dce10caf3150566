"""Headless Chromium driven through the DevTools protocol over a pipe (--remote-debugging-pipe):
no WebDriver, no websocket library, just JSON messages ending in NUL on file descriptors 3
(to the browser) and 4 (from it)."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import Any

CHROMIUM = os.environ.get("VSA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


class Browser:
    """One headless Chromium with one page. ``errors`` collects console errors, uncaught
    exceptions and error log entries; ``requests`` every URL the page asked for."""

    def __init__(
        self, width: int = 1200, height: int = 900, extra_args: Sequence[str] = ()
    ) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="vsa-chromium-")
        to_browser, self._write = os.pipe()
        self._read, from_browser = os.pipe()

        def wire_fds() -> None:
            # Above 9 first, so that moving one onto 3 or 4 cannot close the other.
            high_in = fcntl.fcntl(to_browser, fcntl.F_DUPFD, 10)
            high_out = fcntl.fcntl(from_browser, fcntl.F_DUPFD, 10)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        self._proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",  # root in CI; the page is our own file
                "--disable-gpu",
                "--no-first-run",
                "--hide-scrollbars",
                # Nothing but the page's own requests: no updates, sync or metrics pings.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-pipe",
                f"--user-data-dir={self._profile.name}",
                f"--window-size={width},{height}",
                *extra_args,
            ],
            preexec_fn=wire_fds,
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._next_id = 0
        self._replies: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self._pending: dict[str, str] = {}  # requestId -> URL of requests not yet finished
        self._lock = threading.Lock()
        threading.Thread(target=self._reader, daemon=True).start()
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=True)

    def _reader(self) -> None:
        buffer = b""
        with os.fdopen(self._read, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for raw in messages:
                    self._dispatch(json.loads(raw))

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            with self._lock:
                waiting = self._replies.get(message["id"])
            if waiting:
                waiting.put(message)
            return
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append(" ".join(str(a.get("value", a)) for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            self.errors.append(json.dumps(params.get("exceptionDetails", {}))[:500])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
            with self._lock:
                self._pending[params["requestId"]] = params["request"]["url"]
        elif method in ("Network.loadingFinished", "Network.loadingFailed"):
            with self._lock:
                self._pending.pop(params["requestId"], None)
        self._events.put(message)

    def call(self, method: str, session: bool = False, timeout: float = 30, **params: Any) -> Any:
        """Sends one command and returns its result (raises on a protocol error)."""
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            self._replies[ident] = queue.Queue()
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        reply = self._replies[ident].get(timeout=timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def open(self, url: str, timeout: float = 30) -> None:
        """Navigates and waits for the load event."""
        self.call("Page.navigate", session=True, url=url)
        while True:
            event = self._events.get(timeout=timeout)
            if event.get("method") == "Page.loadEventFired":
                return

    def wait_for_requests(self, url_prefix: str, timeout: float = 10) -> None:
        """Waits until every request the page made to a URL starting with ``url_prefix`` has
        finished (answered or failed)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = [url for url in self._pending.values() if url.startswith(url_prefix)]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"requests still pending after {timeout} s: {pending}")
            time.sleep(0.05)

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", session=True, expression=expression, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: str | os.PathLike[str]) -> None:
        """The whole page as PNG."""
        data = self.call(
            "Page.captureScreenshot", session=True, format="png", captureBeyondViewport=True
        )["data"]
        with open(path, "wb") as file:
            file.write(base64.b64decode(data))

    def close(self) -> None:
        # The browser may close the pipe before it replies.
        with contextlib.suppress(Exception):
            self.call("Browser.close", timeout=5)
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        os.close(self._write)
        self._profile.cleanup()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
