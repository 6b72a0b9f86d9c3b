"""Build the real GitHub event fixtures (GH Archive layout) used by the tests and bench/events_bench.py.

    python scripts/build_event_fixtures.py [--out DIR]

Downloads two pinned npm packages once (cached under $CODECORPUS_CACHE, default ~/.cache/codecorpus) and
wraps their recorded webhook payloads into GH Archive records; see codecorpus/sources/event_sample.py for
exactly what is wrapped, what is changed, and the malformed files.
"""
import argparse
from pathlib import Path

from codecorpus.sources.event_sample import build_event_fixtures

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="output folder (default: in the cache)")
    print(build_event_fixtures(parser.parse_args().out))
