"""spark-submit entry: the events stage of --config alone (as `codecorpus stage events CONFIG`)."""
import sys

from codecorpus.cluster import run_job

if __name__ == "__main__":
    sys.exit(run_job("events"))
