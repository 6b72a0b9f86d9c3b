"""spark-submit entry: the conversations stage of --config alone (as `codecorpus stage conversations CONFIG`)."""
import sys

from codecorpus.cluster import run_job

if __name__ == "__main__":
    sys.exit(run_job("conversations"))
