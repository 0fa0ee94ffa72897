"""python -m ingestion.contract [--check]: rewrite (or only check) every copy of the lake contract."""

from __future__ import annotations

import argparse
import sys

from ingestion.contract.render import drift, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingestion.contract", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 listing the copies that differ; write nothing")
    args = parser.parse_args(argv)
    if args.check:
        stale = drift()
        for path in stale:
            print(f"out of date: {path} (run: python -m ingestion.contract)", file=sys.stderr)
        return 1 if stale else 0
    for path in write():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
