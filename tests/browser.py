"""Drive headless Chromium over the DevTools protocol on a pipe (no driver package, no network port)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(Exception):
    """Chromium answered a command with an error, or a page script threw."""


class Browser:
    """One headless Chromium with one page; `open` a URL, then `run` JavaScript in it."""

    def __init__(self, profile: Path, width: int = 1200, height: int = 900) -> None:
        assert CHROMIUM is not None, "chromium is not installed"
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # --remote-debugging-pipe reads commands on fd 3 and writes replies on fd 4, NUL-terminated.
        self._proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", f"--window-size={width},{height}", "--remote-debugging-pipe",
             "about:blank"],
            pass_fds=(3, 4), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, preexec_fn=lambda: _move_fds(to_chrome_r, from_chrome_w),
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        target = self._call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self._call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self._call("Page.enable", session=True)
        self._call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                   deviceScaleFactor=1, mobile=False)

    def _call(self, method: str, session: bool = False, **params: Any) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise BrowserError("chromium closed the pipe")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(line)  # type: ignore[no-any-return]

    def open(self, url: str, ready: str = "document.readyState === 'complete'", timeout: float = 30) -> None:
        """Load `url` and wait until the JavaScript expression `ready` is true in the new document."""
        self.run("window.__leaving = true")
        self._call("Page.navigate", session=True, url=url)
        self.wait(f"!window.__leaving && ({ready})", timeout)

    def wait(self, condition: str, timeout: float = 30) -> None:
        """Wait until the JavaScript expression `condition` is true (an exception counts as not yet).

        While a page is being replaced its context can vanish under a call; that counts as not yet too.
        """
        deadline = time.monotonic() + timeout
        probe = f"(() => {{ try {{ return !!({condition}); }} catch (e) {{ return false; }} }})()"
        last: object = "still false"
        while True:
            try:
                if self.run(probe):
                    return
            except BrowserError as exc:
                last = exc
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {condition} ({last})")
            time.sleep(0.05)

    def run(self, expression: str) -> Any:
        """Evaluate a JavaScript expression in the page (promises awaited) and return its JSON value."""
        result = self._call("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                            awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(json.dumps(result["exceptionDetails"])[:2000])
        return result["result"].get("value")

    def centre(self, selector: str) -> tuple[float, float]:
        """Return the viewport centre of the first element matching `selector`."""
        box = self.run(f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
                       ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        return box[0], box[1]

    def _mouse(self, kind: str, x: float, y: float, **extra: Any) -> None:
        self._call("Input.dispatchMouseEvent", session=True, type=kind, x=x, y=y, **extra)

    def click(self, selector: str) -> None:
        """Click (real mouse events, hit-tested by Chromium) at the centre of the element."""
        self.run(f"document.querySelector({json.dumps(selector)}).scrollIntoView({{block: 'center'}})")
        x, y = self.centre(selector)
        self._mouse("mouseMoved", x, y)
        self._mouse("mousePressed", x, y, button="left", buttons=1, clickCount=1)
        self._mouse("mouseReleased", x, y, button="left", buttons=0, clickCount=1)

    def click_and_load(self, selector: str, ready: str = "document.readyState === 'complete'") -> None:
        """Click an element that leads to another page and wait until `ready` is true there."""
        self.run("window.__leaving = true")
        self.click(selector)
        self.wait(f"!window.__leaving && ({ready})")

    def wheel(self, x: float, y: float, delta_y: float) -> None:
        """Turn the mouse wheel at (x, y); a negative delta scrolls up (zooms a map in)."""
        self._mouse("mouseWheel", x, y, deltaX=0, deltaY=delta_y)

    def drag(self, start: tuple[float, float], end: tuple[float, float], steps: int = 5) -> None:
        """Press the left button at `start`, move to `end` in steps, and release."""
        self._mouse("mousePressed", *start, button="left", buttons=1, clickCount=1)
        for i in range(1, steps + 1):
            x = start[0] + (end[0] - start[0]) * i / steps
            y = start[1] + (end[1] - start[1]) * i / steps
            self._mouse("mouseMoved", x, y, button="left", buttons=1)
        self._mouse("mouseReleased", *end, button="left", buttons=0, clickCount=1)

    def close(self) -> None:
        """Stop Chromium."""
        try:
            self._call("Browser.close")
        except BrowserError:
            pass
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def _move_fds(read_end: int, write_end: int) -> None:
    """In the child: put the command pipe on fd 3 and the reply pipe on fd 4, as Chromium expects."""
    high_read = fcntl.fcntl(read_end, fcntl.F_DUPFD, 10)
    high_write = fcntl.fcntl(write_end, fcntl.F_DUPFD, 10)
    os.dup2(high_read, 3)
    os.dup2(high_write, 4)
