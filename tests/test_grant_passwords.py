"""Passwords with every special character: db.grant sets them, logins use them, nobody sees them.

The test servers trust every login, so a login that works proves little: the stored SCRAM
verifier is checked against the exact password instead (RFC 5802, computed here). Every
password is made of random tokens joined by special characters; no output may hold a token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.grants_support import Fresh, fresh_database
from tests.support import Project

# Every printable ASCII character that is not a letter or a digit.
SPECIAL = " @:/?#%'\"\\&=+;$[]{}!*^~`<>|,()-._"


def secret() -> tuple[str, list[str]]:
    """A password holding every special character, and its random tokens (never to be shown)."""
    tokens = [uuid.uuid4().hex[:12] for _ in range(4)]
    third = len(SPECIAL) // 3
    chunks = [SPECIAL[:third], SPECIAL[third : 2 * third], SPECIAL[2 * third :]]
    password = tokens[0] + "".join(c + t for c, t in zip(chunks, tokens[1:], strict=True))
    return password, tokens


def url_with(url: str, user: str, password: str) -> str:
    """``url`` for ``user`` with ``password`` percent-encoded, as a user must write it."""
    parsed = make_url(url)
    query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in parsed.query.items())
    server = f"{parsed.host or ''}{f':{parsed.port}' if parsed.port else ''}"
    return (
        f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{server}"
        f"/{parsed.database}" + (f"?{query}" if query else "")
    )


def scram_matches(verifier: str, password: str) -> bool:
    """Whether a ``SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey`` verifier is ``password``'s.

    SASLprep leaves printable ASCII as it is, so the password's UTF-8 bytes are hashed as given.
    """
    method, salting, keys = verifier.split("$")
    assert method == "SCRAM-SHA-256", verifier[:20]
    iterations, salt = salting.split(":")
    stored_key, server_key = (base64.b64decode(key) for key in keys.split(":"))
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    return (
        hashlib.sha256(client_key).digest() == stored_key
        and hmac.new(salted, b"Server Key", "sha256").digest() == server_key
    )


@pytest.fixture
def project(baked: dict[str, Path], tmp_path: Path) -> Project:
    return Project.copy_of(baked["postgresql"], tmp_path / "p", in_process=True)


@pytest.fixture
def fresh(admin_url: str) -> Iterator[Fresh]:
    # The cloud admin: a login with a password of its own, special characters included.
    with fresh_database(admin_url, "cloud-admin") as database:
        yield database


@pytest.mark.postgresql
def test_special_passwords_are_set_used_and_never_shown(project: Project, fresh: Fresh) -> None:
    r = fresh.roles
    passwords = {key: secret() for key in ("admin", "migrator", "app", "reader")}
    tokens = [token for _, words in passwords.values() for token in words]
    admin_user = make_url(fresh.grant_admin).username or ""
    admin = url_with(fresh.grant_admin, admin_user, passwords["admin"][0])
    env = {
        **fresh.env,
        "DB_MIGRATOR_PASSWORD": passwords["migrator"][0],
        "DB_APP_PASSWORD": passwords["app"][0],
        "DB_READER_PASSWORD": passwords["reader"][0],
        "DATABASE_URL": url_with(fresh.super_db, r.app, passwords["app"][0]),
        "MIGRATOR_DATABASE_URL": url_with(fresh.super_db, r.migrator, passwords["migrator"][0]),
    }
    outputs = []
    for args in (
        ("db.grant", "--admin-url", admin),
        ("db.grant", "--admin-url", admin, "--check"),
        ("db.migrate",),  # the migrator's login
        ("db.status",),  # the app's
    ):
        result = project.invoke(*args, env=env, check=False)
        outputs.append(f"{' '.join(args[:2])}: exit {result.returncode}\n{result.stdout}")
        outputs.append(result.stderr)
        assert result.returncode == 0, outputs[-2] + outputs[-1]
    text = "\n".join(outputs)
    assert "set the password of " + r.app in text
    assert "OK: roles, ownership and privileges match the model" in text
    assert not [token for token in tokens if token in text], text
    # The reader logs in with its password as a keyword parameter (what the libpq URI can't).
    server = make_url(fresh.super_db)
    with psycopg.connect(
        host=server.host or str(server.query.get("host", "")),
        port=server.port,
        dbname=fresh.database,
        user=r.reader,
        password=passwords["reader"][0],
    ) as connection:
        assert connection.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    stored = {
        str(role): str(verifier)
        for role, verifier in fresh.query(
            "SELECT rolname, rolpassword FROM pg_authid WHERE rolname = ANY(%s)",
            [r.migrator, r.app, r.reader],
        )
    }
    for key, role in (("migrator", r.migrator), ("app", r.app), ("reader", r.reader)):
        verifier = stored[role]
        assert scram_matches(verifier, passwords[key][0]), role
        assert not scram_matches(verifier, passwords[key][0] + " "), role  # the check can fail


UNREACHABLE = "127.0.0.1:1/x"


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        # Percent-encoded, every character: accepted, then the server is not there.
        ("encoded", "cannot reach the database"),
        # Raw spaces are fine in a URL we parse (never handed to libpq as a URI).
        ("{0} {1} {2}", "cannot reach the database"),
        # A raw '@' (with a space: the case that was half masked).
        ("{0} {1}@{2}", "holds '@': percent-encode it as %40"),
        ("{0}/{1}@{2}", "percent-encode the password (@ %40, : %3A, / %2F, ? %3F, # %23"),
        ("{0}:{1}#{2}", "holds '/', '?' or '#', which end the host part"),
        ("{0}?{1} {2}", "holds '/', '?' or '#', which end the host part"),
    ],
    ids=["encoded", "space", "space-and-at", "slash", "colon-hash", "question"],
)
@pytest.mark.parametrize("task", ["db.grant --check", "db.status"])
def test_a_bad_or_special_password_gives_one_line_without_it(
    project: Project, task: str, shape: str, expected: str
) -> None:
    password, tokens = secret()
    if shape != "encoded":
        password = shape.format(*tokens)
        tokens = tokens[:3]
    written = quote(password, safe="") if shape == "encoded" else password
    url = f"postgresql://someone:{written}@{UNREACHABLE}"
    if task == "db.status":
        result = project.invoke("db.status", env={"DATABASE_URL": url}, check=False)
    else:
        result = project.invoke("db.grant", "--admin-url", url, "--check", check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert len(result.stderr.strip().splitlines()) == 1, output
    assert expected in result.stderr, output
    assert "port that is not a number" not in output
    assert not [token for token in tokens if token in output], output
