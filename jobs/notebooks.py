"""spark-submit entry: the notebooks stage of --config alone (as `codecorpus stage notebooks CONFIG`)."""
import sys

from codecorpus.cluster import run_job

if __name__ == "__main__":
    sys.exit(run_job("notebooks"))
