"""A container definition run the way ECS on Fargate runs it, with podman.

The container definition and task volumes come from the rendered task definition (the deploy rehearsal's
state), never re-typed. What each setting becomes ("Amazon ECS task definition parameters for Fargate"):
- `user`, `command`, `environment`, `workingDirectory`: the same in `podman run`; the image's entrypoint.
- `readonlyRootFilesystem`: `--read-only --read-only-tmpfs=false`. podman's `--read-only` alone mounts
  writable tmpfs at /tmp, /var/tmp and /run, which Fargate does not: with them a test passes where Fargate fails.
- a task volume with no host (Fargate's bind mount), as "Use bind mounts with Amazon ECS" states: when the
  image declares a `VOLUME` at the mount point's containerPath, ECS copies the image's folder there (contents,
  owner and mode); otherwise the folder is empty, owned by root, mode 0755.
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/bind-mounts.html
- container overrides (RunTask's `overrides.containerOverrides`): command replaced, environment merged by name.
A setting this module does not translate fails the run (UntranslatedSetting) rather than being dropped.

Not Fargate: the network (the host's loopback here, awsvpc there) and the task role's credentials, served by
a loopback endpoint in the container-credentials format (AWS_CONTAINER_CREDENTIALS_FULL_URI) instead of
169.254.170.2.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Container-definition keys and what they do here; anything else in a rendered definition is untranslated.
TRANSLATED = {
    "name",
    "image",  # replaced by the image built from the Dockerfile
    "essential",
    "user",
    "command",
    "environment",
    "mountPoints",
    "readonlyRootFilesystem",
    "workingDirectory",
    "logConfiguration",  # awslogs: the container's output is captured here instead
}
# What the AWS provider fills in for keys the definition leaves out (empty lists, and volumesFrom).
EMPTY_DEFAULTS = {"portMappings": [], "volumesFrom": [], "systemControls": []}


class UntranslatedSetting(AssertionError):
    """The task definition uses a setting this runner does not reproduce: teach it, or the test proves less."""


@dataclass(frozen=True)
class TaskVolume:
    name: str
    host_path: str | None  # None: Fargate's task-scoped bind mount


def container_definition(task_definition: Mapping) -> dict:
    """The one container of a rendered `aws_ecs_task_definition` (its state values)."""
    containers = json.loads(task_definition["container_definitions"])
    assert len(containers) == 1, [c.get("name") for c in containers]
    container = containers[0]
    untranslated = {
        key: value
        for key, value in container.items()
        if key not in TRANSLATED and not (key in EMPTY_DEFAULTS and value == EMPTY_DEFAULTS[key])
    }
    if untranslated:
        raise UntranslatedSetting(
            f"container definition settings not reproduced by tests/infra/fargate.py: {untranslated}"
        )
    return container


def task_volumes(task_definition: Mapping) -> dict[str, TaskVolume]:
    volumes = {}
    for volume in task_definition.get("volume", []):
        for kind in (
            "efs_volume_configuration",
            "docker_volume_configuration",
            "fsx_windows_file_server_volume_configuration",
        ):
            if volume.get(kind):
                raise UntranslatedSetting(f"volume {volume['name']}: {kind} is not reproduced")
        volumes[volume["name"]] = TaskVolume(volume["name"], volume.get("host_path") or None)
    return volumes


def prepare_volume(image_root: Path, container_path: str, declared_volumes: set[str], host_dir: Path) -> None:
    """The folder ECS mounts for a task volume: the image's VOLUME contents, or empty, root, 0755."""
    if host_dir.exists():
        shutil.rmtree(host_dir)
    source = image_root / container_path.lstrip("/")
    if container_path.rstrip("/") in declared_volumes and source.is_dir():
        shutil.copytree(source, host_dir, symlinks=True)  # modes kept; owners next
        for path in [host_dir, *host_dir.rglob("*")]:
            original = (source / path.relative_to(host_dir)).lstat()
            os.lchown(path, original.st_uid, original.st_gid)
    else:
        host_dir.mkdir(parents=True)
        os.chown(host_dir, 0, 0)
        os.chmod(host_dir, 0o755)


def declared_volumes(image_config: Mapping) -> set[str]:
    """The VOLUME paths of an image (podman image inspect's Config.Volumes)."""
    return {path.rstrip("/") for path in (image_config.get("Config", {}).get("Volumes") or {})}


def run_arguments(
    container: Mapping,
    volumes: Mapping[str, TaskVolume],
    image: str,
    volume_dirs: Mapping[str, Path],
    overrides: Mapping | None = None,
    extra: list[str] | None = None,
) -> list[str]:
    """`podman run` arguments (after `run`) for the container definition with RunTask-style overrides.

    volume_dirs: the prepared host folder of each task volume (prepare_volume). extra: what is not Fargate's
    and says so at the call site (network, credentials endpoint, a database socket).
    """
    overrides = overrides or {}
    args = ["--name", f"tlc-{container['name']}-{os.getpid()}"]
    if container.get("user"):
        args += ["--user", container["user"]]
    if container.get("readonlyRootFilesystem"):
        args += ["--read-only", "--read-only-tmpfs=false"]
    if container.get("workingDirectory"):
        args += ["--workdir", container["workingDirectory"]]
    for mount in container.get("mountPoints", []):
        volume = volumes[mount["sourceVolume"]]
        if volume.host_path is not None:
            raise UntranslatedSetting(f"volume {volume.name} has a host path: not a Fargate task volume")
        mode = "ro" if mount.get("readOnly") else "rw"
        args += ["-v", f"{volume_dirs[volume.name]}:{mount['containerPath']}:{mode}"]
    environment = {item["name"]: item["value"] for item in container.get("environment", [])}
    environment.update({item["name"]: item["value"] for item in overrides.get("environment", [])})
    for name, value in environment.items():
        args += ["--env", f"{name}={value}"]
    args += list(extra or [])
    command = overrides.get("command") or container.get("command") or []
    return [*args, image, *command]
