"""A headless Chromium driven over the DevTools protocol: open a page, ask it questions,
take its picture, and list every request it made.

For the digest's browser test and the screenshot in docs/. Chromium's own
protocol over the websockets client Prefect already brings, rather than
Playwright or Selenium: four commands are all that is needed, and neither a
driver download nor a second browser is.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.sync.client import connect

__all__ = ["Browser", "find_chromium"]

# Headless, and quiet: no sandbox (root in a container), no calls home, no updates.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


class Browser:
    """One Chromium process with one tab; `with Browser() as b: b.open(url)`."""

    def __init__(self, executable: str | None = None, width: int = 1100, height: int = 900):
        found = executable or find_chromium()
        if found is None:
            raise FileNotFoundError("no chromium on PATH (Debian: apt-get install chromium)")
        self.executable = found
        self.size = (width, height)
        self.requests: list[str] = []  # every URL the page asked for
        self._ids = itertools.count(1)

    def __enter__(self) -> Browser:
        self._profile = tempfile.mkdtemp(prefix="feedwatch-chromium-")
        w, h = self.size
        self._proc = subprocess.Popen(
            [
                self.executable,
                *FLAGS,
                f"--user-data-dir={self._profile}",
                f"--window-size={w},{h}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._ws = connect(self._endpoint(), max_size=None, open_timeout=30)
        target = self._call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self._call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Network"):
            self._call(f"{domain}.enable", session=True)
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            # Ends its renderers and writes its profile; closing anyway if it cannot.
            with contextlib.suppress(Exception):
                self._call("Browser.close")
            self._ws.close()
        finally:
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.terminate()
                try:
                    self._proc.wait(10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._remove_profile()

    def _remove_profile(self, timeout: float = 10) -> None:
        """Chromium's helper processes outlive its main one by a moment and may still
        write into the profile (seen with both cores busy): try again until they end."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                shutil.rmtree(self._profile)
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _endpoint(self, timeout: float = 30) -> str:
        """Chromium writes its port to DevToolsActivePort once it listens."""
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"{self.executable} exited with {self._proc.returncode}")
            lines = port_file.read_text().split() if port_file.exists() else []
            if len(lines) == 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.05)
        raise TimeoutError(f"{self.executable} did not open its DevTools port in {timeout:.0f} s")

    def _call(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        return self._send(method, params, session)

    def _send(self, method: str, params: dict[str, Any], session: bool) -> dict[str, Any]:
        n = next(self._ids)
        message: dict[str, Any] = {"id": n, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        self._ws.send(json.dumps(message))
        while True:
            reply = self._next(timeout=60)
            if reply.get("id") == n:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error'].get('message')}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def _next(self, timeout: float) -> dict[str, Any]:
        reply: dict[str, Any] = json.loads(self._ws.recv(timeout=timeout))
        if reply.get("method") == "Network.requestWillBeSent":
            self.requests.append(reply["params"]["request"]["url"])
        self._last_event = reply.get("method")
        return reply

    def open(self, url: str, timeout: float = 30) -> None:
        """Load `url` and wait for its load event."""
        self._call("Page.navigate", session=True, url=url)
        deadline = time.monotonic() + timeout
        while (
            self._next(timeout=max(deadline - time.monotonic(), 0.1)).get("method")
            != "Page.loadEventFired"
        ):
            pass

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-able)."""
        result = self._call(
            "Runtime.evaluate", session=True, expression=expression, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}…: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def press(self, key: str) -> None:
        """Type one key (a letter) as a person would: key down, the character, key up."""
        for kind in ("keyDown", "char", "keyUp"):
            params = {"type": kind, "key": key}
            if kind == "char":
                params["text"] = key
            self._call("Input.dispatchKeyEvent", session=True, **params)

    def click(self, selector: str) -> None:
        """Click the middle of the first element `selector` finds, with the mouse."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self._call(
                "Input.dispatchMouseEvent",
                session=True,
                type=kind,
                x=box[0],
                y=box[1],
                button="left",
                clickCount=1,
            )

    def wait_for(self, expression: str, timeout: float = 10) -> Any:
        """The value of `expression` once it is truthy (the page may answer late)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.05)

    def screenshot(self, path: Path, full_page: bool = True, element: str | None = None) -> Path:
        """A PNG of the page at the browser's width (its whole length with full_page), or
        of the element with this id alone."""
        width, height = self.size
        if full_page:
            height = int(self.evaluate("document.documentElement.scrollHeight"))
        self._call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        clip = {}
        if element is not None:
            box = self.evaluate(
                f"(() => {{ const r = document.getElementById({element!r}).getBoundingClientRect();"
                " return [r.left + scrollX, r.top + scrollY, r.width, r.height]; })()"
            )
            x, y, w, h = (float(v) for v in box)
            clip = {"clip": {"x": x, "y": y, "width": w, "height": h, "scale": 1}}
        data = self._call("Page.captureScreenshot", session=True, format="png", **clip)["data"]
        path.write_bytes(base64.b64decode(data))
        return path
