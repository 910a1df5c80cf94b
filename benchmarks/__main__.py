"""Run every benchmark module in this folder in turn (``python -m benchmarks [--small]``)."""
from __future__ import annotations

import pkgutil
import runpy
import sys
from pathlib import Path

here = Path(__file__).parent
names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
failed = []
for name in names:
    print(f"\n===== benchmarks.{name} =====", flush=True)
    argv = sys.argv
    try:
        sys.argv = [name, *argv[1:]]
        runpy.run_module(f"benchmarks.{name}", run_name="__main__")
    except SystemExit as e:
        if e.code not in (0, None):
            failed.append(name)
    except Exception as e:  # report and continue with the next benchmark
        print(f"benchmark {name} failed: {e!r}", flush=True)
        failed.append(name)
    finally:
        sys.argv = argv
if failed:
    print(f"\nfailed: {', '.join(failed)}")
    sys.exit(1)
