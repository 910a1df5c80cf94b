"""Keep a hub-managed service from taking the hub down, and make its failures visible.

``python -m satco2.hub.supervise NAME [--port PORT] -- COMMAND ...`` runs COMMAND; when it exits
on its own the exit is logged (``satco2.supervise: service NAME exited with status S``) and it is
restarted after a back-off (1, 2, 4 … 60 s). SIGINT/SIGTERM (how JupyterHub stops services) are
forwarded as SIGTERM (``panel serve`` ignores SIGINT), then SIGKILL after 10 s, and the wrapper
exits.

JupyterHub 5 exits when a managed service with a URL does not answer HTTP within ~10 s of its
start. With ``--port``, the wrapper first answers that check itself (404 "starting", on
127.0.0.1:PORT), then frees the port and starts COMMAND, so a slow or broken service is logged
and retried while the hub keeps running.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time


def log(msg: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"[E {stamp} satco2.supervise] {msg}", file=sys.stderr, flush=True)


_stopping = False


def answer_startup_check(name: str, port: int, timeout: float = 20.0) -> None:
    """Serve 404 "starting" on 127.0.0.1:``port`` until one request was answered or ``timeout``."""
    from http.server import BaseHTTPRequestHandler, HTTPServer

    done = []

    class Starting(BaseHTTPRequestHandler):
        def do_GET(self):
            done.append(True)
            body = f"{name} is starting\n".encode()
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    try:
        server = HTTPServer(("127.0.0.1", port), Starting)
    except OSError:
        return  # port taken (e.g. the service restarted quickly): nothing to answer
    server.timeout = 0.5
    end = time.monotonic() + timeout
    with server:
        while not done and time.monotonic() < end and not _stopping:
            server.handle_request()


def main(argv: list[str]) -> int:
    port = None
    if len(argv) > 3 and argv[1] == "--port":
        port = int(argv[2])
        argv = [argv[0], *argv[3:]]
    if "--" not in argv or argv.index("--") != 1 or len(argv) < 3:
        print("usage: python -m satco2.hub.supervise NAME [--port PORT] -- COMMAND ...", file=sys.stderr)
        return 2
    name, cmd = argv[0], argv[2:]
    stopping = False
    child: subprocess.Popen | None = None

    def on_signal(signum, frame):
        nonlocal stopping
        global _stopping
        stopping = _stopping = True
        if child is not None and child.poll() is None:
            child.terminate()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if port:
        answer_startup_check(name, port)
    delay = 1.0
    while not stopping:
        started = time.monotonic()
        child = subprocess.Popen(cmd)
        while child.poll() is None:
            try:
                child.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
            if stopping:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        if stopping:
            break
        log(f"service {name} exited with status {child.returncode}; restarting in {delay:.0f} s")
        if time.monotonic() - started > 60:
            delay = 1.0
        end = time.monotonic() + delay
        while not stopping and time.monotonic() < end:
            time.sleep(0.2)
        delay = min(delay * 2, 60.0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
