"""Headless Debian chromium over the DevTools protocol, and a screenshot of the live web console.

`python -m clients.console_shot [--out docs/console.png]` starts the servers and an orchestrator
with its console, joins an English speaker and a Spanish listener over Conference.Join, and saves
a PNG of the console while the speaker talks (captions forming, the latency chart filled in).

The browser is driven over the DevTools protocol (a websocket, with the `websockets` package the
dev tools already have) rather than selenium: no new dependency, and only `chromium` is needed
(`chromium-driver` is installed beside it by scripts/setup for tools that want WebDriver).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

from clients.launch import REPO, running
from common.ports import free_port


class Browser:
    """One headless chromium with one page, driven over the DevTools protocol."""

    def __init__(self, width: int = 1400, height: int = 1000, timeout: float = 60.0) -> None:
        binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if binary is None:
            raise RuntimeError("no chromium: apt-get install chromium chromium-driver (scripts/setup does)")
        self.profile = tempfile.mkdtemp(prefix="lingua-chromium-")
        self.proc = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",  # root in CI containers
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        active = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (active.exists() and len(active.read_text().split()) >= 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"chromium did not open its DevTools port (exit code {self.proc.poll()})")
            time.sleep(0.1)
        port = int(active.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            targets = json.load(response)
        page = next(t for t in targets if t.get("type") == "page")
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(
            connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10)
        )
        self._ids = itertools.count(1)
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def call(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events in between are skipped)."""
        number = next(self._ids)
        self.ws.send(json.dumps({"id": number, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    def open(self, url: str, timeout: float = 30.0) -> None:
        self.call("Page.navigate", url=url)
        if not wait_until(lambda: self.evaluate("document.readyState") == "complete", timeout):
            raise RuntimeError(f"{url} did not load")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def text(self) -> str:
        """What the page shows, whitespace folded."""
        return " ".join(str(self.evaluate("document.body.innerText")).split())

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=False)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stack.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def wait_until(condition: Callable[[], object], timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return False


@contextmanager
def console_orchestrator(*args: str, timeout: float = 120.0) -> Iterator[tuple[str, str]]:
    """An orchestrator (`--no-ari` and args) with its console; yields (gRPC address, console URL).

    The console URL is the `CONSOLE http://...` line it prints (with the token it made up).
    """
    printed = {"CONSOLE": ""}
    flags = ["--no-ari", "--metrics-port", "0", "--console-port", str(free_port()), *args]
    with running("orchestrator", *flags, timeout=timeout, capture=printed) as address:
        yield address, printed["CONSOLE"]


def main() -> None:
    import corpus
    from clients.conference import Participant

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(REPO / "docs" / "console.png"), help="PNG to write")
    args = p.parse_args()
    with contextlib.ExitStack() as stack:
        data = stack.enter_context(tempfile.TemporaryDirectory(prefix="lingua-profiles-"))
        profile = stack.enter_context(running("profile_server", "--data-dir", data))
        stt = stack.enter_context(running("stt_server"))
        mt = stack.enter_context(running("mt_server"))
        tts = stack.enter_context(running("tts_server", "--profile-server", profile))
        address, url = stack.enter_context(console_orchestrator("--stt", stt, "--mt", mt, "--tts", tts))
        browser = Browser(height=720)
        stack.callback(browser.close)
        browser.open(url)
        beto = Participant(address, "Beto", "es")
        stack.callback(beto.leave)
        ana = Participant(address, "Ana", "en")
        stack.callback(ana.leave)
        silence = bytes(32000)
        for number, name in enumerate(("conf-getpin", "vm-nobodyavail", "queue-thankyou"), 1):
            ana.say(corpus.prompt_pcm16(name) + silence * 2)

            def translated(n: int = number) -> bool:
                return len({c.utterance_id for c in beto.captions if c.is_final and c.language_code == "es"}) >= n

            if not wait_until(lambda: translated() and ana.idle(), 60):
                raise SystemExit(f"no Spanish translation of {name} arrived within 60 s")
            time.sleep(1.5)
        ana.say(corpus.prompt_pcm16("vm-intro") + silence * 2)
        talking = "!!document.querySelector('li.talking') && !!document.querySelector('.line.partial')"
        wait_until(lambda: browser.evaluate(talking), 20, every=0.05)
        out = browser.screenshot(Path(args.out))
        print(f"wrote {out} ({out.stat().st_size} bytes): {browser.text()[:300]}")


if __name__ == "__main__":
    main()
