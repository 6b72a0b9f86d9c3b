"""spark-submit entry: the mix stage of --config alone (as `codecorpus stage mix CONFIG`)."""
import sys

from codecorpus.cluster import run_job

if __name__ == "__main__":
    sys.exit(run_job("mix"))
