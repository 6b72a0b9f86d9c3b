"""spark-submit entry: the ingest stage of --config alone (as `codecorpus stage ingest CONFIG`)."""
import sys

from codecorpus.cluster import run_job

if __name__ == "__main__":
    sys.exit(run_job("ingest"))
