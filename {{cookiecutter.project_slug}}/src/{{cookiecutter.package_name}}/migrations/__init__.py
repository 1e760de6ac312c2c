"""Alembic's script directory, inside the package so that an installed wheel can migrate."""
