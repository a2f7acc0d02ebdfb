"""Run every benchmark (``python -m bench``) or some (``python -m bench relay patterns``)."""

from __future__ import annotations

import importlib
import pkgutil
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
    for name in names or available:
        print(f"\n=== bench.{name} ===", flush=True)
        importlib.import_module(f"bench.{name}").main()


if __name__ == "__main__":
    main(sys.argv[1:])
