"""Ad-hoc SQL with Athena (infra/modules/analytics), as the deploy rehearsal applied it.

The lake reader may query in the lake workgroup and read every lake table, and nothing it runs can write
the lake: Athena runs a query with the caller's permissions, and its Iceberg DML writes position delete files
("DELETE", https://docs.aws.amazon.com/athena/latest/ug/querying-iceberg-delete.html) and commits with
glue:UpdateTable. infra/permissions.json has the reader's rows (allowed and refused); this file checks every
table of the lake contract, that the refusals are explicit Denies (they hold whatever else is attached to the
role), who may assume the role, and the workgroup's enforced settings as moto received them.
"""

from __future__ import annotations

import json
from typing import Any

from tests.infra.iam_policy import decide
from tests.infra.rehearsal import ACCOUNT_ID, REGION, Rehearsal
from tests.infra.test_deploy_rehearsal import _client
from tests.infra.test_permissions_matrix import MATRIX, role_policies
from tests.orchestration.tools import REPO_ROOT

ANALYTICS = "module.platform.module.analytics"
LAKE_TABLES = json.loads((REPO_ROOT / "infra" / "lake_contract.json").read_text())["lake_tables"]
# What a policy attached to the role some day might allow: the reader's Denies must still win.
ALLOW_EVERYTHING_ON_S3_AND_GLUE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:*", "glue:*"], "Resource": "*"}],
}


def _bucket_arn(rehearsal: Rehearsal, role: str) -> str:
    return rehearsal.resource(MATRIX["refs"][role])["arn"]


def _reader(rehearsal: Rehearsal) -> list[str]:
    return role_policies(rehearsal, "lake_reader_role")[1]


def test_the_reader_reads_every_lake_table_and_can_write_none(rehearsal: Rehearsal) -> None:
    documents = _reader(rehearsal)
    database = rehearsal.resource(MATRIX["refs"]["glue_db"])["name"]
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT_ID}"
    assert {t["name"] for t in LAKE_TABLES} >= {"yellow_trips", "quarantined_trips", "partition_loads"}
    for table in LAKE_TABLES:
        folder = f"{_bucket_arn(rehearsal, table['bucket'])}/{table['name']}"
        objects = [f"{folder}/metadata/00003-0123abcd.metadata.json", f"{folder}/data/0123abcd-00000.parquet"]
        table_arn = f"{glue}:table/{database}/{table['name']}"
        for resource in objects:
            assert decide(documents, "s3:GetObject", resource) == "allow", resource
            for write in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"):
                assert decide(documents, write, resource) == "deny", f"{write} on {resource}"
                assert decide([*documents, ALLOW_EVERYTHING_ON_S3_AND_GLUE], write, resource) == "deny"
        for resource in (f"{glue}:catalog", f"{glue}:database/{database}", table_arn):
            assert decide(documents, "glue:GetTable", resource) == "allow", resource
            for change in ("glue:UpdateTable", "glue:CreateTable", "glue:DeleteTable", "glue:BatchCreatePartition"):
                assert decide(documents, change, resource) == "deny", f"{change} on {resource}"
                assert decide([*documents, ALLOW_EVERYTHING_ON_S3_AND_GLUE], change, resource) == "deny"


def test_the_reader_writes_query_results_only_under_the_workgroups_prefix(rehearsal: Rehearsal) -> None:
    documents = _reader(rehearsal)
    artifacts = _bucket_arn(rehearsal, "artifacts")
    workgroup = rehearsal.resource(MATRIX["refs"]["athena_wg"])["name"]
    assert decide(documents, "s3:PutObject", f"{artifacts}/athena-results/{workgroup}/q-1.csv") == "allow"
    for elsewhere in (f"{artifacts}/athena-results/another-workgroup/q-1.csv", f"{artifacts}/dbt/latest/index.html"):
        assert decide(documents, "s3:PutObject", elsewhere) != "allow", elsewhere


def test_only_this_accounts_identities_with_mfa_may_assume_the_reader_by_default(rehearsal: Rehearsal) -> None:
    """No lake_reader_principals in dev: the trust is the account (its identities still need sts:AssumeRole on
    the role in their own policies), and only with MFA."""
    role = rehearsal.resource(MATRIX["refs"]["lake_reader_role"])
    trust = role["assume_role_policy"]
    account = {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
    mfa = {"aws:MultiFactorAuthPresent": "true"}
    assert decide([trust], "sts:AssumeRole", role["arn"], mfa, account) == "allow"
    for context in ({}, {"aws:MultiFactorAuthPresent": "false"}):
        assert decide([trust], "sts:AssumeRole", role["arn"], context, account) != "allow", context
    other = {"AWS": "arn:aws:iam::210987654321:root"}
    assert decide([trust], "sts:AssumeRole", role["arn"], mfa, other) != "allow"


def _configuration(values: dict[str, Any]) -> dict[str, Any]:
    (configuration,) = values["configuration"]
    return configuration


def test_the_workgroup_enforces_encrypted_results_and_a_scan_cutoff(rehearsal: Rehearsal) -> None:
    values = rehearsal.resource(MATRIX["refs"]["athena_wg"])
    key = rehearsal.resource(MATRIX["refs"]["key"])["arn"]
    artifacts = rehearsal.resource(MATRIX["refs"]["artifacts"])["bucket"]
    location = f"s3://{artifacts}/athena-results/{values['name']}/"
    configuration = _configuration(values)
    assert configuration["enforce_workgroup_configuration"] is True
    assert configuration["publish_cloudwatch_metrics_enabled"] is True
    assert configuration["bytes_scanned_cutoff_per_query"] == 10 * 1024**3
    assert configuration["engine_version"][0]["selected_engine_version"] == "Athena engine version 3"
    (results,) = configuration["result_configuration"]
    assert results["output_location"] == location
    assert results["encryption_configuration"] == [{"encryption_option": "SSE_KMS", "kms_key_arn": key}]

    # What the Athena API (moto's) received and returns.
    received = _client(rehearsal, "athena").get_work_group(WorkGroup=values["name"])["WorkGroup"]["Configuration"]
    assert received["EnforceWorkGroupConfiguration"] is True
    assert received["BytesScannedCutoffPerQuery"] == 10 * 1024**3
    assert received["ResultConfiguration"]["OutputLocation"] == location
    assert received["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_KMS", "KmsKey": key}
    assert received["EngineVersion"]["SelectedEngineVersion"] == "Athena engine version 3"


def test_query_results_expire(rehearsal: Rehearsal) -> None:
    lifecycle = rehearsal.resource(
        "module.platform.module.storage.module.artifacts.aws_s3_bucket_lifecycle_configuration.this"
    )
    expiring = [
        rule
        for rule in lifecycle["rule"]
        if rule["status"] == "Enabled"
        and rule["expiration"]
        and any(f["prefix"] == "athena-results/" for f in rule["filter"])
    ]
    assert expiring and expiring[0]["expiration"][0]["days"] == 30
