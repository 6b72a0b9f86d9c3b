"""spark-submit entry: the dedup stage of --config alone (as `codecorpus stage dedup CONFIG`)."""
import sys

from codecorpus.cluster import run_job

if __name__ == "__main__":
    sys.exit(run_job("dedup"))
