"""spark-submit entry: the pii stage of --config alone (as `codecorpus stage pii CONFIG`)."""
import sys

from codecorpus.cluster import run_job

if __name__ == "__main__":
    sys.exit(run_job("pii"))
