"""Roles and grants: the least-privilege model, as SQL to review, apply and verify.

One module, one job:

- prefix.py: the rule for the role prefix and the schema (the bake's pre-generation hook too);
- names.py: the roles' names, and the ``SET ROLE`` of a migration run by the migrator;
- model.py: who gets which privilege (the script and the check both read it);
- tables.py: the lifecycle's tables the script creates;
- exceptions.py: the project's grant_exceptions.py, read and validated;
- render.py: the script (``db.grant --print``, ``sql/roles.sql``), with adoption.py's step;
- connection.py: the admin's URL and connection;
- apply.py and passwords.py: ``db.grant`` and ``db.grant --rotate``;
- check.py and blind_spots.py: ``db.grant --check``.

render.py and what it imports use the standard library alone: the bake renders
``sql/roles.sql`` with them. See docs/database.md, "For DBAs".
"""
