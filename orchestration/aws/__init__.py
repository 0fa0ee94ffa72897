"""The AWS side of the pipeline: the Step Functions definition and the dbt container."""
