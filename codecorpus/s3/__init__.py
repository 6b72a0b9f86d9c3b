"""S3 access with boto3: clients from config, a robust blob fetcher, and tables on S3 without hadoop-aws."""
