"""The dbt container run by the state machine's Transform state (ECS Fargate)."""
