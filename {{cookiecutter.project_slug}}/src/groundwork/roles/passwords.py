"""The logins' passwords: set from DB_*_PASSWORD as SCRAM verifiers made here, or rotated."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import TaskError
from .connection import connect
from .names import RoleNames, role_names

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from ..settings import Settings

PASSWORD_SETTINGS = {
    "migrator": "DB_MIGRATOR_PASSWORD",
    "app": "DB_APP_PASSWORD",
    "reader": "DB_READER_PASSWORD",
}


def set_passwords(connection: Any, settings: Settings, names: RoleNames) -> list[str]:
    """ALTER ROLE ... PASSWORD with a SCRAM verifier made here: the password never travels."""
    done = []
    for key, setting in PASSWORD_SETTINGS.items():
        password = settings.get(setting)
        if not password:
            continue
        role = getattr(names, key)
        set_password(connection, role, password)
        done.append(f"set the password of {role} (from {setting})")
    return done


def set_password(connection: Any, role: str, password: str) -> None:
    from ..driver import psycopg

    sql = psycopg().sql
    verifier = connection.pgconn.encrypt_password(
        password.encode(), role.encode(), b"scram-sha-256"
    ).decode()
    connection.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier))
    )


def rotate(settings: Settings, url: URL, which: str) -> list[str]:
    """Only ``ALTER ROLE ... PASSWORD`` for the logins named in ``which`` ("app,reader").

    The passwords come from the environment (DB_*_PASSWORD), never from the command line; no
    privilege is granted or revoked, so nothing a migration narrowed is widened again.
    """
    keys = [key.strip() for key in which.split(",") if key.strip()]
    unknown = [key for key in keys if key not in PASSWORD_SETTINGS]
    if not keys or unknown:
        raise TaskError(
            f"--rotate {which!r}: name the logins whose password changes, comma-separated, "
            f"among {', '.join(PASSWORD_SETTINGS)} (the passwords come from DB_*_PASSWORD)"
        )
    missing = [PASSWORD_SETTINGS[key] for key in keys if not settings.get(PASSWORD_SETTINGS[key])]
    if missing:
        raise TaskError(
            f"--rotate {which}: set {', '.join(missing)} in the environment to the new password "
            "(never on the command line)"
        )
    names = role_names(settings)
    done = []
    with connect(url) as connection, connection.transaction():
        for key in keys:
            role = getattr(names, key)
            exists = connection.execute(
                "SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (role,)
            ).fetchall()
            if exists != [(True,)]:
                raise TaskError(
                    f"--rotate {key}: {role} is not a login of this cluster: run `invoke db.grant` "
                    "first (it creates the roles); nothing was changed"
                )
            set_password(connection, role, settings.get(PASSWORD_SETTINGS[key]) or "")
            done.append(f"set the password of {role} (from {PASSWORD_SETTINGS[key]})")
    return done
