"""podman, as this project's tests use it to build and run the production dbt image.

- Storage and configuration of their own, under ~/.cache/tlc-warehouse/podman (XDG_CACHE_HOME): layers stay
  cached between runs and clones, and nothing here touches the machine's own image store.
- The runtime flags this kind of machine needs (`--runtime runc --cgroup-manager=cgroupfs`, a containers.conf
  with `default_ulimits = []`): harmless where podman's defaults work.
- The Dockerfile's base image is pulled; where no registry is reachable, a stand-in is built once from Debian
  packages (`stand_in_base`), so the Dockerfile itself stays exactly what production builds.
- pip inside the build reaches the package index with this machine's configuration and CA bundle, passed as
  build-time mounts (`pip_build_mounts`): visible to the RUN steps, never written into a layer.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tlc-warehouse" / "podman"
STAND_IN_LABEL = "org.tlc-warehouse.stand-in"
# Where a bind-mounted file or folder goes in a build's RUN steps: the same path as on this machine, so the
# pip configuration's own paths (cert, constraint, find-links, file:// indexes) hold inside.
PIP_PATH_KEYS = ("cert", "client-cert", "constraint", "find-links", "extra-index-url", "index-url")
ARCHITECTURES = {"X86_64": "amd64", "ARM64": "arm64"}  # ECS runtimePlatform.cpuArchitecture -> OCI


class PodmanUnavailable(RuntimeError):
    """podman cannot build or run here; the message says why and how to get it."""


@dataclass
class Podman:
    root: Path = CACHE

    def __post_init__(self) -> None:
        self.conf = self.root / "containers.conf"

    def command(self, *args: str) -> list[str]:
        return [
            "podman",
            "--root",
            str(self.root / "storage"),
            "--runroot",
            str(self.root / "run"),
            "--runtime",
            "runc",
            "--cgroup-manager=cgroupfs",
            *args,
        ]

    def run(self, *args: str, timeout: float = 600, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        result = subprocess.run(
            self.command(*args),
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "CONTAINERS_CONF": str(self.conf)},
            **kwargs,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args[:2])} failed ({result.returncode}):\n{result.stderr[-4000:]}")
        return result

    def check_available(self) -> None:
        """Raise PodmanUnavailable naming what is missing (podman, runc, root for image mounts)."""
        missing = [tool for tool in ("podman", "runc") if shutil.which(tool) is None]
        if missing:
            raise PodmanUnavailable(
                f"{' and '.join(missing)} not found: `bash tools/setup_podman.sh` installs Debian's podman, runc "
                "and mmdebstrap (as root)"
            )
        if os.geteuid() != 0:
            raise PodmanUnavailable("the image tests run podman as root (they mount image layers to read volumes)")
        self.root.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            "[containers]\n# this machine's runc rejects podman's default ulimits\ndefault_ulimits = []\n"
        )
        info = self.run("info", "--format", "json", check=False, timeout=120)
        if info.returncode != 0:
            raise PodmanUnavailable(f"podman cannot run here: {info.stderr.strip()[-500:]}")

    def exists(self, image: str) -> bool:
        return self.run("image", "exists", image, check=False).returncode == 0

    def inspect(self, image: str) -> dict:
        return json.loads(self.run("image", "inspect", image).stdout)[0]

    def ensure_base(self, image: str, platform: str) -> str:
        """The base image, pulled or already here: 'pulled', 'cached' or 'stand-in' (built by stand_in_base)."""
        if self.exists(image):
            labels = self.inspect(image).get("Config", {}).get("Labels") or {}
            return "stand-in" if STAND_IN_LABEL in labels else "cached"
        pull = self.run("pull", "--platform", platform, image, check=False, timeout=900)
        if pull.returncode == 0:
            return "pulled"
        stand_in_base(self, image, platform)
        return "stand-in"

    def build(self, dockerfile: Path, context: Path, tag: str, platform: str, mounts: list[str]) -> None:
        args = ["build", "--platform", platform, "--network", "host", "-f", str(dockerfile), "-t", tag]
        for mount in mounts:
            args += ["-v", mount]
        self.run(*args, str(context), timeout=1800)

    def mounted(self, image: str) -> Path:
        """The image's root filesystem, read-only from here (unmount with `unmount`)."""
        return Path(self.run("image", "mount", image).stdout.strip())

    def unmount(self, image: str) -> None:
        self.run("image", "unmount", image, check=False)


def _debian_suite(image: str) -> str:
    match = re.fullmatch(r"(?:docker\.io/library/)?python:(\d+\.\d+)\.\d+-slim-(\w+)", image)
    if not match:
        raise PodmanUnavailable(f"no stand-in recipe for base image {image} (only python:X.Y.Z-slim-<debian suite>)")
    if f"{sys.version_info.major}.{sys.version_info.minor}" != match.group(1):
        raise PodmanUnavailable(
            f"{image} is Python {match.group(1)}; the stand-in copies this interpreter, {sys.version}"
        )
    return match.group(2)


def _interpreter_files() -> tuple[Path, list[str]]:
    """This interpreter's installation prefix and what of it the official image has in /usr/local: the binary,
    libpython and the standard library, without site-packages, tests or tkinter (as the official image drops)."""
    prefix = Path(sys.base_prefix)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if prefix == Path("/usr"):
        raise PodmanUnavailable("this Python is the distribution's own (/usr): the stand-in needs a self-contained one")
    library = sysconfig.get_config_var("LDLIBRARY") or ""
    members = [f"bin/{version}", f"lib/{version}"]
    if library.endswith(".so") or ".so." in library:
        members += [str(path.relative_to(prefix)) for path in (prefix / "lib").glob(f"lib{version}*.so*")]
    return prefix, members


def _runtime_packages(prefix: Path, members: list[str]) -> list[str]:
    """The Debian packages whose libraries the interpreter links (the official image's ldd | dpkg-query step)."""
    libraries: set[str] = set()
    for member in members:
        for path in [prefix / member] if (prefix / member).is_file() else (prefix / member).rglob("*.so"):
            if "tkinter" in path.name:
                continue
            out = subprocess.run(["ldd", str(path)], capture_output=True, text=True).stdout
            libraries.update(re.findall(r"=> (/\S+)", out))
    libraries = {lib for lib in libraries if not lib.startswith(str(prefix))}
    packages: set[str] = set()
    for library in sorted(libraries):
        found = subprocess.run(["dpkg-query", "--search", library], capture_output=True, text=True)
        if found.returncode != 0:  # /lib is a symlink to /usr/lib on current Debian: ask for the other spelling
            other = library.removeprefix("/usr") if library.startswith("/usr/") else "/usr" + library
            found = subprocess.run(["dpkg-query", "--search", other], capture_output=True, text=True)
        packages.update(line.split(":")[0] for line in found.stdout.splitlines() if ":" in line)
    return sorted(packages)


def stand_in_base(podman: Podman, image: str, platform: str) -> None:
    """Build a stand-in for python:X.Y.Z-slim-<suite> where the registry cannot be reached.

    What the official image is: Debian <suite> slim, CPython built into /usr/local, its runtime libraries,
    ca-certificates, netbase, tzdata. Here: the same Debian suite by mmdebstrap, and this machine's own
    Python X.Y (same minor version; the patch release may differ, and the tag says so in a label) copied into
    /usr/local. Only the Dockerfile's RUN steps see it; what the image under test adds on top is built by
    the unchanged Dockerfile.
    """
    suite = _debian_suite(image)
    if shutil.which("mmdebstrap") is None or shutil.which("dpkg-query") is None:
        raise PodmanUnavailable("the registry is out of reach and mmdebstrap is missing: `bash tools/setup_podman.sh`")
    prefix, members = _interpreter_files()
    packages = ["ca-certificates", "netbase", "tzdata", *_runtime_packages(prefix, members)]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    excluded = " ".join(
        f"--exclude={shlex.quote(pattern)}"
        for pattern in (
            f"lib/{version}/site-packages/*",
            "test",
            "tests",
            "idle_test",
            "*tkinter*",
            "idlelib",
            "turtledemo",
            "*.pyc",
            "*.a",
        )
    )
    copy_python = (
        f"tar -C {shlex.quote(str(prefix))} {excluded} -cf - {' '.join(map(shlex.quote, members))}"
        ' | tar -C "$1/usr/local" -xf -'
    )
    links = f'ln -s {version} "$1/usr/local/bin/python3" && ln -s {version} "$1/usr/local/bin/python"'
    with tempfile.TemporaryDirectory(prefix="stand-in-") as work:
        tarball = Path(work) / "rootfs.tar"
        result = subprocess.run(
            [
                "mmdebstrap",
                "--variant=minbase",
                "--mode=root",
                f"--architectures={platform.split('/')[1]}",
                f"--include={','.join(packages)}",
                f"--customize-hook={copy_python}",
                f"--customize-hook={links}",
                '--customize-hook=chroot "$1" ldconfig',
                suite,
                str(tarball),
            ],
            capture_output=True,
            text=True,
            timeout=1200,
        )
        if result.returncode != 0:
            raise PodmanUnavailable(f"mmdebstrap could not build the stand-in base: {result.stderr.strip()[-1500:]}")
        podman.run(
            "import",
            "--change",
            'CMD ["python3"]',
            "--change",
            "ENV LANG=C.UTF-8 PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--change",
            f"LABEL {STAND_IN_LABEL}=debian-{suite}+python-{sys.version.split()[0]}",
            str(tarball),
            image,
            timeout=600,
        )


def pip_build_mounts(python: str) -> tuple[str, list[str]]:
    """(pip.conf text, podman -v mounts) giving a build's pip this machine's effective pip configuration.

    `pip config list` as `python` sees it (files and PIP_* variables) becomes one [global] section, mounted
    at /etc/pip.conf; every existing file or folder it names (CA bundle, constraints, find-links, file://
    indexes) is mounted read-only at its own path.
    """
    listed = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True)
    settings: dict[str, str] = {}
    for line in listed.stdout.splitlines():
        key, _, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        value = value.strip().strip("'\"")
        if key.startswith(":env:") or name not in settings:  # the environment overrides the files
            settings[name] = value
    mounts: list[str] = []
    for name in PIP_PATH_KEYS:
        for word in settings.get(name, "").split():
            path = Path(word.removeprefix("file://"))
            if not (path.is_absolute() and path.exists()):
                continue
            if path.resolve() != path:
                settings[name] = settings[name].replace(str(path), str(path.resolve()))
            # a file:// index's pages link to files beside it (../files/...): its parent goes in whole
            shared = path.resolve().parent if word.startswith("file://") else path.resolve()
            mounts.append(f"{shared}:{shared}:ro")
    text = "[global]\n" + "".join(f"{name} = {value}\n" for name, value in sorted(settings.items()))
    return text, sorted(set(mounts))
