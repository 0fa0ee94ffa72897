"""GlueContext as the job uses it: built on the SparkContext Glue started, it hands out a SparkSession."""

from __future__ import annotations


class GlueContext:
    def __init__(self, spark_context, **options) -> None:
        from pyspark.sql import SparkSession

        self.spark_session = SparkSession(spark_context)
