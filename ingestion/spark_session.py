"""The Spark session: a fast, quiet local[*] one on a laptop/CI, the existing one on Glue."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pyspark.sql import SparkSession

LOG4J2 = Path(__file__).with_name("log4j2.properties")

# Settings the ingestion logic relies on; applied to whichever session runs it (Glue's too).
RUNTIME_CONF: dict[str, str] = {
    # Timestamps are NYC wall-clock stored naive: never shift them.
    "spark.sql.session.timeZone": "UTC",
    # Failed casts become null (-> `unparseable` rows) instead of failing the job.
    "spark.sql.ansi.enabled": "false",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    # Some TLC Parquet files carry TIMESTAMP(NANOS); read them as long and convert.
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    # Standard Parquet timestamps for every downstream reader (not legacy INT96).
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.sources.partitionOverwriteMode": "static",
}


def configure_session(spark: SparkSession) -> SparkSession:
    """Apply RUNTIME_CONF to an existing session (idempotent) and return it."""
    for key, value in RUNTIME_CONF.items():
        spark.conf.set(key, value)
    return spark


def get_spark(app_name: str = "tlc-ingestion", driver_memory: str = "4g") -> SparkSession:
    """The active session if there is one (Glue, tests), else a new local[*] session.

    Local settings suit 2 cores / 24 GiB: few shuffle partitions (the job never shuffles trip
    rows), no UI, errors-only logging, parallel GC, local scratch under the system temp dir. None
    of them reach Glue, whose session is the active one.
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        return configure_session(active)
    # Parallel GC: the throughput collector; G1's concurrent threads compete with the two task
    # threads on a 2-core machine (measured: 8-21% less JVM CPU per 3M-row file, BENCHMARKS.md).
    java_options = f"-Dlog4j2.configurationFile={LOG4J2.as_uri()} -XX:+UseParallelGC"
    scratch = os.path.join(tempfile.gettempdir(), "tlc-ingestion-spark")
    builder = (
        SparkSession.builder.master(os.environ.get("SPARK_MASTER", "local[*]"))
        .appName(app_name)
        .config("spark.driver.memory", driver_memory)
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.local.dir", scratch)
        .config("spark.sql.warehouse.dir", os.path.join(scratch, "warehouse"))
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .config("spark.sql.adaptive.enabled", "true")
    )
    for key, value in RUNTIME_CONF.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return configure_session(spark)
