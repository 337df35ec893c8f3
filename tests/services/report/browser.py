"""Headless Chromium driven over its DevTools protocol (websocket-client), for the tests
that open the report as a reader would, and for the README's screenshot."""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import websocket

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--remote-allow-origins=*", "--hide-scrollbars")
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def chromium_available() -> bool:
    """Returns True when the Chromium binary is installed."""
    return Path(CHROMIUM).exists()


class Chromium:
    """One headless Chromium with a fresh profile, and one page to drive."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        self.width, self.height = width, height
        self.profile = tempfile.mkdtemp(prefix="valedger-chromium-")
        self.process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.ids = itertools.count(1)
        self.socket = self._page_socket(self._browser_url())

    def _browser_url(self) -> str:
        assert self.process.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line and self.process.poll() is not None:
                break
            found = _LISTENING.search(line)
            if found:
                return found.group(1)
        raise RuntimeError("Chromium did not start its DevTools endpoint within 30 s")

    def _page_socket(self, browser_url: str) -> websocket.WebSocket:
        browser = websocket.create_connection(browser_url, timeout=30, suppress_origin=True)
        try:
            browser.send(json.dumps({"id": 1, "method": "Target.createTarget",
                                     "params": {"url": "about:blank"}}))
            while True:
                reply = json.loads(browser.recv())
                if reply.get("id") == 1:
                    target = reply["result"]["targetId"]
                    break
        finally:
            browser.close()
        page_url = browser_url.split("/devtools/")[0] + f"/devtools/page/{target}"
        return websocket.create_connection(page_url, timeout=60, suppress_origin=True)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Sends one DevTools command; returns its result (raises on an error)."""
        call_id = next(self.ids)
        self.socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.socket.recv())
            if reply.get("id") == call_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def evaluate(self, expression: str) -> Any:
        """Returns the value of a JavaScript expression (promises awaited)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, path: Path) -> None:
        """Loads a file at the window's size and waits until it (and its images) loaded."""
        self.call("Emulation.setDeviceMetricsOverride", width=self.width,
                  height=self.height, deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", url=path.resolve().as_uri())
        deadline = time.monotonic() + 30
        while self.evaluate("document.readyState") != "complete":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path} did not finish loading within 30 s")
            time.sleep(0.1)

    def screenshot(self, out: Path, full_page: bool = False) -> None:
        """Writes a PNG of the viewport (or of the whole page)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        out.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", **params)["data"]))

    def close(self) -> None:
        """Stops the browser and removes its profile."""
        try:
            self.socket.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


LAYOUT_CHECK = """(() => {
  const images = [...document.images].map(i => ({alt: i.alt, loaded: i.complete &&
      i.naturalWidth > 0, width: i.naturalWidth, shown: i.getBoundingClientRect().width}));
  const overflowing = [];
  for (const el of document.querySelectorAll('body, body *')) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.display === 'inline') continue;
    if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0)
      overflowing.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} ` +
        `${el.scrollWidth}>${el.clientWidth}: ${el.textContent.trim().slice(0, 60)}`);
  }
  return {images, overflowing, pageWidth: document.documentElement.scrollWidth,
          viewport: window.innerWidth};
})()"""
"""Returns every image with whether it loaded, every element whose content is wider than
its box, and the page's width against the window's."""
