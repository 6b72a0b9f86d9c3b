"""spark-submit entry: the kaggle stage of --config alone (as `codecorpus stage kaggle CONFIG`)."""
import sys

from codecorpus.cluster import run_job

if __name__ == "__main__":
    sys.exit(run_job("kaggle"))
