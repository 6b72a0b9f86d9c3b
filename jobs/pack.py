"""spark-submit entry: the pack stage of --config alone (as `codecorpus stage pack CONFIG`)."""
import sys

from codecorpus.cluster import run_job

if __name__ == "__main__":
    sys.exit(run_job("pack"))
