"""spark-submit entry: the docs stage of --config alone (as `codecorpus stage docs CONFIG`)."""
import sys

from codecorpus.cluster import run_job

if __name__ == "__main__":
    sys.exit(run_job("docs"))
