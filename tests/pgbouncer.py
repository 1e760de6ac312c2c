"""A real PgBouncer in transaction pooling mode in front of the test server (127.0.0.1 only).

``running_pgbouncer(server_url)`` installs Debian's ``pgbouncer`` package when it is
missing (apt, as root), writes a config of its own in a temporary folder, starts it on a free
127.0.0.1 port as an unprivileged user (``postgres``, or the current user when not root) and
yields the URL of the server's database through the pooler. When PgBouncer cannot be had
(no apt, not root, no such package) it raises :class:`UnavailableError` with the reason, which
the tests turn into a skip (``pytest.skip``) -- never a pass.

The server must accept the pooler's connections without a password (the local test server:
trust authentication on 127.0.0.1); PgBouncer itself uses ``auth_type = trust``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

PGBOUNCER = "/usr/sbin/pgbouncer"


class UnavailableError(RuntimeError):
    """PgBouncer cannot be installed or started here; the message says why."""


def ensure_installed() -> str:
    """The pgbouncer executable, installed from Debian if missing.

    Raises :class:`UnavailableError` when it is missing and cannot be installed."""
    found = shutil.which("pgbouncer") or (PGBOUNCER if Path(PGBOUNCER).exists() else None)
    if found:
        return found
    if os.geteuid() != 0:
        raise UnavailableError("pgbouncer is not installed and installing it needs root (apt-get)")
    if shutil.which("apt-get") is None:
        raise UnavailableError("pgbouncer is not installed and there is no apt-get to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "pgbouncer"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:]
        raise UnavailableError(f"apt-get install pgbouncer failed: {' '.join(last)}")
    if not Path(PGBOUNCER).exists():
        raise UnavailableError("apt-get installed pgbouncer but there is no /usr/sbin/pgbouncer")
    return PGBOUNCER


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_as(socket_dir: str | None = None) -> pwd.struct_passwd | None:
    """The unprivileged user to run PgBouncer as (it refuses to run as root): the owner of the
    server's socket folder when it has one (the embedded server's is private to its user)."""
    if os.geteuid() != 0:
        return None
    if socket_dir:
        owner = pwd.getpwuid(os.stat(socket_dir).st_uid)
        if owner.pw_uid != 0:
            return owner
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        try:
            return pwd.getpwnam("nobody")
        except KeyError as exc:
            raise UnavailableError(
                "running as root and there is no postgres or nobody user"
            ) from exc


@contextmanager
def running_pgbouncer(
    server_url: str, *, pool_mode: str = "transaction", pool_size: int = 4
) -> Iterator[str]:
    """Yield ``server_url`` re-pointed at a PgBouncer started for the block, then stop it.

    Its files live in a folder of its own under the temporary directory (pytest's are private
    to root, and PgBouncer runs as another user), removed afterwards.
    """
    executable = ensure_installed()
    server = make_url(server_url.replace("postgresql+psycopg://", "postgresql://"))
    socket_dir = server.query.get("host")  # the embedded server: a Unix socket
    target = str(socket_dir) if socket_dir else server.host or "127.0.0.1"
    if not socket_dir and target not in ("127.0.0.1", "localhost"):
        raise UnavailableError(f"the test server {target} is not on 127.0.0.1")
    folder = Path(tempfile.mkdtemp(prefix="gw-pgbouncer-"))
    port = free_port()
    config = folder / "pgbouncer.ini"
    users = folder / "userlist.txt"
    users.write_text(f'"{server.username or "postgres"}" ""\n')
    config.write_text(
        "[databases]\n"
        f"* = host={target} port={server.port or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\n"
        f"unix_socket_dir =\nauth_type = trust\nauth_file = {users}\n"
        f"pool_mode = {pool_mode}\ndefault_pool_size = {pool_size}\n"
        "max_client_conn = 200\nserver_reset_query =\nignore_startup_parameters = options\n"
        f"logfile = {folder / 'pgbouncer.log'}\npidfile = {folder / 'pgbouncer.pid'}\n"
    )
    user = _run_as(str(socket_dir) if socket_dir else None)
    if user is not None:
        os.chown(folder, user.pw_uid, user.pw_gid)  # mkdtemp: mode 0700
        for path in (config, users):
            os.chown(path, user.pw_uid, user.pw_gid)

    def demote() -> None:  # pragma: no cover - runs in the child
        if user is not None:
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)

    process = subprocess.Popen(
        [executable, str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        preexec_fn=demote,  # not thread-safe in general; no threads are started here
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                error = process.stderr.read().decode() if process.stderr else ""
                raise UnavailableError(f"pgbouncer exited {process.returncode}: {error.strip()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise UnavailableError("pgbouncer did not listen within 10 s") from None
                time.sleep(0.05)
        through = server.set(host="127.0.0.1", port=port)
        yield through.difference_update_query(["host"]).render_as_string(hide_password=False)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # immediate shutdown
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr:
            process.stderr.close()
        shutil.rmtree(folder, ignore_errors=True)
