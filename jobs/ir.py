"""spark-submit entry: the ir stage of --config alone (as `codecorpus stage ir CONFIG`)."""
import sys

from codecorpus.cluster import run_job

if __name__ == "__main__":
    sys.exit(run_job("ir"))
