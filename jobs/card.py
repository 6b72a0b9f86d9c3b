"""spark-submit entry point of a release: `spark-submit ... jobs/card.py --run DIR --out DIR`.

Writes the release folder (shards, README.md card, figures, stats.json, attribution) of a finished run."""
from __future__ import annotations

import argparse
import sys

from codecorpus.config import load_config
from codecorpus.release.build import build_release
from codecorpus.release.config import ReleaseConfig
from codecorpus.release.run_view import ReleaseError
from codecorpus.session import get_spark


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", required=True, help="run directory (run_dir of the config)")
    parser.add_argument("--out", required=True, help="release folder to write")
    parser.add_argument("--version", default=ReleaseConfig().version, help="release version")
    parser.add_argument("--name", default=ReleaseConfig().name, help="dataset name")
    parser.add_argument("--config", help="run config whose `s3` section reaches an s3:// run or release")
    args = parser.parse_args(argv)
    s3 = load_config(args.config).s3 if args.config else None
    try:
        build_release(get_spark(), args.run, args.out, ReleaseConfig(name=args.name, version=args.version), s3)
    except ReleaseError as exc:
        print(f"card: {exc}", file=sys.stderr)
        return 1
    print(f"release written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
