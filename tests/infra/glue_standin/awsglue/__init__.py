"""A stand-in for AWS Glue's `awsglue` package (not on PyPI), at the boundary the job uses and no further.

Only what ingestion/glue_entry.py calls: `awsglue.utils.getResolvedOptions` and `awsglue.context.GlueContext`
(its `spark_session`). Written from the documented behaviour ("Accessing parameters using
getResolvedOptions", https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-crawler-pyspark-extensions-get-resolved-options.html),
not copied from Glue. tests/infra/test_glue_runtime.py puts it on the driver's path, as Glue 5.0 provides
`awsglue` to the job's script.
"""
