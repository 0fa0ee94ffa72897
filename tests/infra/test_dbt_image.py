"""The production dbt image, built from orchestration/container/Dockerfile and run as Fargate runs it.

The build is the documented one (`docker build` in the READMEs, same Dockerfile, context and platform) done
by podman; the run takes the container definition and task volumes of the task definition as the deploy
rehearsal's `terraform apply` rendered them (tests/infra/fargate.py says how each setting is reproduced).
Inside, `build` runs on target dev against the embedded PostgreSQL and uploads its artifacts to moto's S3.
Where podman cannot run, the tests skip with the reason, except under CI, where they fail.
"""

from __future__ import annotations

import http.server
import json
import os
import platform
import re
import shlex
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from tests.dbt.fixtures.raw_fixture import database_with_raw_fixture
from tests.infra import fargate
from tests.infra.podman import ARCHITECTURES, Podman, PodmanUnavailable, pip_build_mounts
from tests.infra.rehearsal import Rehearsal, free_port
from tests.orchestration.tools import REPO_ROOT, missing

TASK_DEFINITION = "module.platform.module.dbt_runner.aws_ecs_task_definition.dbt"
ARTIFACTS_BUCKET = "module.platform.module.storage.module.artifacts.aws_s3_bucket.this"
DOCUMENTED_BUILDS = (REPO_ROOT / "README.md", REPO_ROOT / "infra" / "README.md")
IMAGE = "localhost/tlc-dbt:test"
DATABASE = "tlc_image_test"
HOST_ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def documented_builds() -> list[list[str]]:
    """Every `docker build` command the READMEs tell a user to run."""
    commands = []
    for path in DOCUMENTED_BUILDS:
        for line in re.findall(r"^docker build .*$", path.read_text(), flags=re.MULTILINE):
            commands.append(shlex.split(line.split("&&")[0]))
    return commands


def option(command: list[str], *names: str) -> str | None:
    for index, word in enumerate(command):
        for name in names:
            if word == name:
                return command[index + 1]
            if word.startswith(f"{name}="):
                return word.split("=", 1)[1]
    return None


def task_platform(task_definition: dict) -> str:
    runtime = task_definition["runtime_platform"][0]
    assert runtime["operating_system_family"] == "LINUX"
    return f"linux/{ARCHITECTURES[runtime['cpu_architecture']]}"


@pytest.fixture(scope="module")
def task_definition(rehearsal: Rehearsal) -> dict:
    return rehearsal.resource(TASK_DEFINITION)


def test_the_documented_build_targets_the_task_definitions_architecture(task_definition) -> None:
    """Built on Apple silicon or Graviton without a platform, the image is arm64 and the X86_64 task fails
    to start ("exec format error")."""
    builds = documented_builds()
    assert len(builds) == len(DOCUMENTED_BUILDS), builds
    for command in builds:
        assert option(command, "--platform") == task_platform(task_definition), shlex.join(command)
        assert option(command, "-f", "--file") == "orchestration/container/Dockerfile"
        assert command[-1] == "."


def test_dbt_stops_itself_before_the_transform_state_times_out(task_definition, rehearsal: Rehearsal) -> None:
    """Step Functions does not stop a task whose state timed out, and then releases the transform lock: the
    container's own limit (DBT_TIMEOUT_SECONDS) must end dbt first, leaving time to start and upload."""
    machine = rehearsal.resource("module.platform.module.pipeline.aws_sfn_state_machine.pipeline")
    state_timeout = json.loads(machine["definition"])["States"]["Transform"]["TimeoutSeconds"]
    environment = {e["name"]: e["value"] for e in fargate.container_definition(task_definition)["environment"]}
    dbt_timeout = int(environment["DBT_TIMEOUT_SECONDS"])
    assert dbt_timeout + 5 * 60 <= state_timeout, (dbt_timeout, state_timeout)


# ---------- the image


@dataclass
class BuiltImage:
    podman: Podman
    tag: str
    base_images: set[str]  # the Dockerfile's FROM images
    base: str  # pulled, cached or stand-in
    config: dict  # podman image inspect
    build_mounts: list[str]


@pytest.fixture(scope="module")
def image(task_definition, tmp_path_factory) -> BuiltImage:
    podman = Podman()
    try:
        podman.check_available()
    except PodmanUnavailable as exc:
        missing(str(exc))
    target = task_platform(task_definition)
    if HOST_ARCHITECTURES.get(platform.machine()) != target.split("/")[1]:
        missing(f"the task runs on {target}; this machine is {platform.machine()} (no emulation here)")
    command = documented_builds()[0]
    dockerfile = REPO_ROOT / option(command, "-f", "--file")
    base_images = re.findall(r"^FROM\s+(\S+)", dockerfile.read_text(), flags=re.MULTILINE)
    try:
        base = {podman.ensure_base(name, target) for name in set(base_images)}
    except PodmanUnavailable as exc:
        missing(str(exc))
    conf_text, mounts = pip_build_mounts(str(REPO_ROOT / ".venv" / "bin" / "python"))
    conf = tmp_path_factory.mktemp("build") / "pip.conf"
    conf.write_text(conf_text)
    build_mounts = [f"{conf}:/etc/pip.conf:ro", *mounts]
    podman.build(dockerfile, REPO_ROOT / command[-1], IMAGE, target, build_mounts)
    return BuiltImage(podman, IMAGE, set(base_images), ",".join(sorted(base)), podman.inspect(IMAGE), build_mounts)


def test_the_build_time_pip_configuration_is_not_in_the_image(image: BuiltImage) -> None:
    """The CA bundle, pip.conf and package folders were mounted for the RUN steps only: at most their empty
    mount points remain. A file of the image may be the base image's own (the base ships ca-certificates), but
    none is the mounted file unless the base already held that same file."""
    (base,) = image.base_images
    root, base_root = image.podman.mounted(image.tag), image.podman.mounted(base)
    try:
        for mount in image.build_mounts:
            source, target = (Path(part) for part in mount.split(":")[:2])
            inside, in_base = root / target.relative_to("/"), base_root / target.relative_to("/")
            if source.is_dir():
                baked = {p.name for p in inside.iterdir()} if inside.is_dir() else set()
                assert not baked & {p.name for p in source.iterdir()}, f"{target}: {sorted(baked)[:5]} in the image"
            elif inside.is_file() and inside.stat().st_size:
                same_in_base = in_base.is_file() and in_base.read_bytes() == source.read_bytes()
                assert same_in_base or inside.read_bytes() != source.read_bytes(), f"{target} was baked in"
    finally:
        image.podman.unmount(image.tag)
        image.podman.unmount(base)


def test_every_task_volume_is_declared_by_the_image(image: BuiltImage, task_definition) -> None:
    """ECS fills a task volume from the image only where the image declares that VOLUME; anywhere else the
    container user 10001 gets an empty folder owned by root, mode 0755, and cannot write to it."""
    container = fargate.container_definition(task_definition)
    declared = fargate.declared_volumes(image.config)
    for mount in container["mountPoints"]:
        if not mount.get("readOnly"):
            assert mount["containerPath"] in declared, f"{mount['containerPath']} is not a VOLUME of the image"


def test_a_task_volume_is_filled_from_the_image_only_where_it_declares_a_volume(tmp_path) -> None:
    """tests/infra/fargate.py's reading of "Use bind mounts with Amazon ECS", on a folder standing for an image."""
    image_root = tmp_path / "image"
    (image_root / "scratch" / "sub").mkdir(parents=True)
    (image_root / "scratch" / "sub" / "kept.txt").write_text("from the image")
    os.chown(image_root / "scratch", 10001, 10001)
    os.chmod(image_root / "scratch", 0o750)
    declared = tmp_path / "declared"
    fargate.prepare_volume(image_root, "/scratch", {"/scratch"}, declared)
    assert (declared / "sub" / "kept.txt").read_text() == "from the image"
    assert (declared.stat().st_uid, declared.stat().st_gid, declared.stat().st_mode & 0o777) == (10001, 10001, 0o750)
    undeclared = tmp_path / "undeclared"
    fargate.prepare_volume(image_root, "/scratch", set(), undeclared)
    assert list(undeclared.iterdir()) == []
    assert (undeclared.stat().st_uid, undeclared.stat().st_gid, undeclared.stat().st_mode & 0o777) == (0, 0, 0o755)


# ---------- the run


class _Credentials(http.server.BaseHTTPRequestHandler):
    """The task role's credentials in the container-credentials format Fargate serves at 169.254.170.2."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = json.dumps(
            {
                "AccessKeyId": "testing",
                "SecretAccessKey": "testing",
                "Token": "testing",
                "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600)),
                "RoleArn": "arn:aws:iam::123456789012:role/tlc-dev-dbt-task",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def task_role_credentials() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Credentials)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v2/credentials/dbt-task"
    server.shutdown()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port())
    server.start()
    yield f"http://127.0.0.1:{server._server.server_port}"
    server.stop()


@pytest.fixture(scope="module")
def warehouse() -> dict[str, str]:
    return database_with_raw_fixture(DATABASE)


def database_access(env: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The warehouse as the container reaches it: a Unix socket mounted in, or TCP on the host's network."""
    host = env.get("PGHOST", "")
    if host.startswith("/"):
        socket = Path(host) / f".s.PGSQL.{env.get('PGPORT', '5432')}"
        return {**env, "PGHOST": "/pgsocket"}, ["-v", f"{socket}:/pgsocket/{socket.name}"]
    return env, []


@pytest.mark.integration
def test_the_image_builds_the_project_as_the_fargate_task_runs_it(
    image: BuiltImage, task_definition, rehearsal: Rehearsal, warehouse, s3_endpoint, task_role_credentials, tmp_path
) -> None:
    container = fargate.container_definition(task_definition)
    volumes = fargate.task_volumes(task_definition)
    root = image.podman.mounted(image.tag)
    try:
        volume_dirs = {}
        for mount in container["mountPoints"]:
            volume_dirs[mount["sourceVolume"]] = tmp_path / "volumes" / mount["sourceVolume"]
            fargate.prepare_volume(
                root, mount["containerPath"], fargate.declared_volumes(image.config), volume_dirs[mount["sourceVolume"]]
            )
    finally:
        image.podman.unmount(image.tag)

    bucket = rehearsal.resource(ARTIFACTS_BUCKET)["bucket"]
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")  # fmt: skip
    s3.create_bucket(Bucket=bucket)
    run_id = "image-test"
    database, database_mount = database_access(warehouse)
    # What differs from production, each for a stated reason: the target (dev, PostgreSQL: no Redshift here)
    # and its connection; RunTask's per-execution overrides as the state machine sends them (vars, run id,
    # artifacts); where S3 and the task role's credentials are served.
    overrides = {
        "command": ["build"],
        "environment": [
            {"name": "DBT_TARGET", "value": "dev"},
            *({"name": name, "value": database[name]} for name in sorted(database) if name.startswith("PG")),
            {"name": "DBT_VARS", "value": json.dumps({"lookback_months": 1})},
            {"name": "RUN_ID", "value": run_id},
            {"name": "ARTIFACTS_URI", "value": f"s3://{bucket}/dbt/runs/{run_id}/"},
            {"name": "AWS_ENDPOINT_URL_S3", "value": s3_endpoint},
            {"name": "AWS_CONTAINER_CREDENTIALS_FULL_URI", "value": task_role_credentials},
        ],
    }
    arguments = fargate.run_arguments(
        container, volumes, image.tag, volume_dirs, overrides, extra=["--network", "host", *database_mount]
    )
    name = arguments[arguments.index("--name") + 1]
    image.podman.run("rm", "-f", name, check=False)
    result = image.podman.run("run", *arguments, check=False, timeout=1200)
    try:
        inspected = json.loads(image.podman.run("container", "inspect", name).stdout)[0]
    finally:
        image.podman.run("rm", "-f", name, check=False)
    output = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, f"the container (base image: {image.base}) exited {result.returncode}:\n{output}"

    # It ran as the task definition says: its user, a read-only root and no tmpfs Fargate would not give.
    host_config = inspected["HostConfig"]
    assert host_config["ReadonlyRootfs"] is True
    assert not host_config.get("Tmpfs"), host_config.get("Tmpfs")
    assert inspected["Config"]["User"] == container["user"]

    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"dbt/runs/{run_id}/")
    uploaded = sorted(item["Key"].rsplit("/", 1)[1] for item in listing.get("Contents", []))
    assert uploaded == ["catalog.json", "index.html", "manifest.json", "run_results.json"], output
    results = json.loads(s3.get_object(Bucket=bucket, Key=f"dbt/runs/{run_id}/run_results.json")["Body"].read())
    statuses = {r["status"] for r in results["results"]}
    assert results["results"] and statuses <= {"success", "pass"}, statuses
    assert results["args"]["vars"] == {"lookback_months": 1}
    built = {r["unique_id"] for r in results["results"]}
    assert "model.tlc_warehouse.fact_trips" in built and "model.tlc_warehouse.fact_fhv_trips" in built
