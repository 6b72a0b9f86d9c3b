"""spark-submit entry: the text stage of --config alone (as `codecorpus stage text CONFIG`)."""
import sys

from codecorpus.cluster import run_job

if __name__ == "__main__":
    sys.exit(run_job("text"))
