"""Ingestion stage: raw TLC trip files -> validated, partitioned lake + quarantine + manifests.

See docs/data_contracts.md for what this stage promises and ingestion/RULES.md for the row rules.
"""
