"""Keep a hub-managed service from taking the hub down, and make its failures visible.

``python -m satco2.hub.supervise NAME -- COMMAND ...`` runs COMMAND; when it exits on its own the
exit is logged (``satco2.supervise: service NAME exited with status S``) and it is restarted after
a back-off (1, 2, 4 … 60 s). SIGINT/SIGTERM (how JupyterHub stops services) are forwarded as
SIGTERM (``panel serve`` ignores SIGINT), then SIGKILL after 10 s, and the wrapper exits.
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time


def log(msg: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"[E {stamp} satco2.supervise] {msg}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") != 1 or len(argv) < 3:
        print("usage: python -m satco2.hub.supervise NAME -- COMMAND ...", file=sys.stderr)
        return 2
    name, cmd = argv[0], argv[2:]
    stopping = False
    child: subprocess.Popen | None = None

    def on_signal(signum, frame):
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.terminate()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
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
