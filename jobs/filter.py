"""spark-submit entry: the filter stage of --config alone (as `codecorpus stage filter CONFIG`)."""
import sys

from codecorpus.cluster import run_job

if __name__ == "__main__":
    sys.exit(run_job("filter"))
