"""spark-submit entry: the format stage of --config alone (as `codecorpus stage format CONFIG`)."""
import sys

from codecorpus.cluster import run_job

if __name__ == "__main__":
    sys.exit(run_job("format"))
