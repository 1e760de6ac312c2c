"""The readiness check a web service's /ready asks (groundwork/readiness.py), and the effective
settings of `invoke db.settings` (groundwork/settings_report.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from groundwork.readiness import ReadinessCheck  # the template's kit (tests/kit/harness.py)

from tests.kit.harness import KitProject
from tests.lifecycle_support import query


def test_ready_at_head_and_not_before_with_db_status_reason(kit: KitProject) -> None:
    settings = kit.settings()
    check = ReadinessCheck(settings, max_age=0)
    try:
        before = check()
        assert not before.ready
        # db.status's reason: the project-local tables are not there yet, or it is behind.
        assert before.reason is not None
        kit.invoke("init")
        after = check()
        assert after.ready, after.reason
        assert after.reason is None
        kit.invoke("downgrade", "base", force=True, yes=True)
        behind = check()
        assert not behind.ready
        assert behind.reason == "1 of 1 revisions pending: run `invoke db.migrate`"
    finally:
        check.close()


def test_an_answer_is_kept_for_max_age_then_asked_again(kit: KitProject) -> None:
    kit.invoke("init")
    settings = kit.settings()
    check = ReadinessCheck(settings, max_age=0.5)
    try:
        assert check().ready
        kit.invoke("downgrade", "base", force=True, yes=True)
        assert check().ready  # the kept answer: one query per max_age, whatever the probes
        time.sleep(0.6)
        assert not check().ready
    finally:
        check.close()


def test_an_unreachable_database_is_one_line_without_the_password(
    kit_project: Callable[[str, str], KitProject],
) -> None:
    # A port nothing listens on (the discard port), a password that must never show.
    project = kit_project("postgresql", "postgresql://gw:pw_S3CRET_x@127.0.0.1:9/gw_nowhere")
    check = ReadinessCheck(project.settings(), max_age=0)
    try:
        answer = check()
    finally:
        check.close()
    assert not answer.ready
    assert answer.reason is not None
    assert "pw_S3CRET_x" not in answer.reason
    assert "\n" not in answer.reason
    assert "127.0.0.1" in answer.reason


def test_settings_report_names_the_origin_of_each_and_masks_secrets(
    kit: KitProject, database: str
) -> None:
    (kit.path / ".env.local").write_text("API_TOKEN=tok_S3CRET\nFEATURE_X=on\n")
    env = {"MIGRATOR_DATABASE_URL": "postgresql://mig:pw_S3CRET_x@db.example:5432/app"}
    result = kit.invoke("settings_report", environ=env)
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "S3CRET" not in result.stdout
    assert lines["API_TOKEN"].endswith("= ***  (.env.local line 1)")
    assert lines["FEATURE_X"].endswith("= on  (.env.local line 2)")
    assert lines["MIGRATOR_DATABASE_URL"].endswith(
        "= postgresql://***@db.example:5432/app  (the environment)"
    )
    assert "unset  (default: 5s)" in lines["MIGRATION_LOCK_TIMEOUT"]
    assert "unset  (default: 5 (times a run that hit" in lines["MIGRATION_LOCK_RETRIES"]
    assert "unset  (default: 300 (seconds" in lines["MIGRATION_RETRY_TIME"]
    assert "unset  (default: 1 (seconds before the first retry" in lines["MIGRATION_RETRY_BACKOFF"]
    assert "(default: my_service, the project's)" in lines["DB_ROLE_PREFIX"]
    assert lines["APP_ENV"].endswith("= development  (APP_ENV unset: the default)")
    assert lines["DATABASE_URL"].split("= ", 1)[1].startswith(database.split(":", 1)[0])


def test_the_version_table_is_read_by_the_readiness_check_only(kit: KitProject) -> None:
    """No write, no lock: a probe must never block a migration (one SELECT of the version)."""
    kit.invoke("init")
    url = kit.settings().get("DATABASE_URL")
    assert url is not None
    check = ReadinessCheck(kit.settings(), max_age=0)
    try:
        for _ in range(3):
            assert check().ready
        if url.startswith("postgresql"):
            held = query(
                url,
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                " WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()"
                " AND l.locktype = 'relation'",
            )
            assert held == [(0,)]  # the probe's idle pooled connection holds nothing
        else:
            assert Path(url.removeprefix("sqlite:///")).is_file()
    finally:
        check.close()
