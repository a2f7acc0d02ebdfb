"""Run every benchmark (``python -m bench``) or some (``python -m bench relay patterns``)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path


def main(names: list[str]) -> None:
    available = sorted(
        info.name
        for info in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not info.name.startswith("_")
    )
    unknown = set(names) - set(available)
    if unknown:
        raise SystemExit(f"unknown benchmarks {sorted(unknown)}; available: {available}")
    selected = names or available
    if len(selected) == 1:
        print(f"\n=== bench.{selected[0]} ===", flush=True)
        importlib.import_module(f"bench.{selected[0]}").main()
        return
    # Each benchmark sets Django up on its own scratch database: one process each.
    failed = [
        name
        for name in selected
        if subprocess.run([sys.executable, "-m", "bench", name], check=False).returncode != 0
    ]
    if failed:
        raise SystemExit(f"benchmarks failed: {failed}")


if __name__ == "__main__":
    main(sys.argv[1:])
