"""spark-submit entry: the annotate stage of --config alone (as `codecorpus stage annotate CONFIG`)."""
import sys

from codecorpus.cluster import run_job

if __name__ == "__main__":
    sys.exit(run_job("annotate"))
