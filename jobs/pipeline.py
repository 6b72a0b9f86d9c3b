"""spark-submit entry: every enabled stage of --config, then the run summary (as `codecorpus run`).

    spark-submit --py-files codecorpus-*.whl --archives env.tar.gz#environment \
        jobs/pipeline.py --config CONFIG          (see docs/cluster.md)
"""
import sys

from codecorpus.cluster import run_job

if __name__ == "__main__":
    sys.exit(run_job(None))
