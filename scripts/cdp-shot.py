#!/usr/bin/env python3
"""Screenshot of a local HTML file with headless Chromium, driven over the DevTools protocol on
a pipe (--remote-debugging-pipe: no port, no network, standard library only), and every console
message, uncaught exception and browser log entry (a refused load, say) reported.

    cdp-shot.py PAGE.html OUT.png [--width 1280] [--height 900] [--selector CSS] [--max-height N]

Without --selector the whole page is captured (up to --max-height pixels); with it, the first
element it matches, scrolled into view. Prints "console: ..." per message; exits 0 when the page
said nothing, 1 when it did, 2 when it could not be rendered.

Headless Chromium's own --screenshot cannot do this: it ignores a URL's #fragment (the picture
comes out blank) and only reports the console through its log.
"""
import argparse
import base64
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import shutil
import time

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--force-device-scale-factor=1", "--remote-debugging-pipe",
]


class Browser:
    def __init__(self, deadline):
        self.deadline = deadline
        self.profile = tempfile.mkdtemp(prefix="cdp-shot-")
        r, self.to_child = os.pipe()
        self.from_child, w = os.pipe()
        # Out of the way of 3 and 4, where the child wants them.
        to_child_r = fcntl.fcntl(r, fcntl.F_DUPFD, 10)
        from_child_w = fcntl.fcntl(w, fcntl.F_DUPFD, 10)
        os.close(r)
        os.close(w)

        def fds():
            # The DevTools pipe is fd 3 (commands in) and fd 4 (answers out), kept over exec.
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.proc = subprocess.Popen(
            ["chromium", *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # The pipe's fds are put in place by `fds`; closing the others would close them.
            preexec_fn=fds, close_fds=False)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read(self):
        while b"\0" not in self.buf:
            if time.monotonic() > self.deadline:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self.from_child, 1 << 16)
            if not chunk:
                raise EOFError("chromium closed the DevTools pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None):
        self.next_id += 1
        cmd = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            cmd["sessionId"] = session
        os.write(self.to_child, json.dumps(cmd).encode() + b"\0")
        while True:
            m = self._read()
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method):
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        while True:
            m = self._read()
            if m.get("method") == method:
                return m
            self.events.append(m)


def console_lines(events):
    """The page's console messages, exceptions and log entries, one line each."""
    out = []
    for e in events:
        p = e.get("params", {})
        if e.get("method") == "Runtime.consoleAPICalled":
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            out.append(f"console.{p.get('type')}: {args}")
        elif e.get("method") == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
        elif e.get("method") == "Log.entryAdded":
            entry = p.get("entry", {})
            out.append(f"log.{entry.get('level')} ({entry.get('source')}): {entry.get('text')}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("page")
    ap.add_argument("out")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--selector")
    ap.add_argument("--max-height", type=int, default=6000)
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    url = "file://" + os.path.abspath(a.page)
    b = Browser(time.monotonic() + a.timeout)
    try:
        target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            b.send(f"{domain}.enable", session=s)
        b.send("Emulation.setDeviceMetricsOverride", {
            "width": a.width, "height": a.height, "deviceScaleFactor": 1, "mobile": False}, session=s)
        b.send("Page.navigate", {"url": url}, session=s)
        b.wait_event("Page.loadEventFired")
        if a.selector:
            js = ("(() => { const e = document.querySelector(%s); if (!e) return null;"
                  " const r = e.getBoundingClientRect();"
                  " return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height}; })()"
                  % json.dumps(a.selector))
        else:
            js = ("({x: 0, y: 0, w: document.documentElement.scrollWidth,"
                  " h: document.documentElement.scrollHeight})")
        box = b.send("Runtime.evaluate", {"expression": js, "returnByValue": True},
                     session=s)["result"].get("value")
        if not box:
            print(f"cdp-shot: {a.selector} matches nothing in {a.page}", file=sys.stderr)
            return 2
        clip = {"x": max(0, box["x"] - (8 if a.selector else 0)),
                "y": max(0, box["y"] - (8 if a.selector else 0)),
                "width": min(a.width, box["w"] + (16 if a.selector else 0)),
                "height": min(a.max_height, box["h"] + (16 if a.selector else 0)),
                "scale": 1}
        shot = b.send("Page.captureScreenshot", {
            "format": "png", "clip": clip, "captureBeyondViewport": True}, session=s)
        with open(a.out, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        # Let late messages (the script runs after load) arrive.
        b.send("Runtime.evaluate", {"expression": "1"}, session=s)
        lines = console_lines(b.events)
    except (TimeoutError, EOFError, RuntimeError, OSError, KeyError) as e:
        print(f"cdp-shot: {a.page}: {e}", file=sys.stderr)
        return 2
    finally:
        b.close()
    for line in lines:
        print(f"console: {line}")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
