"""The application's resources, one router each: add a new one here."""

from __future__ import annotations

from fastapi import APIRouter

from . import users

ROUTERS: list[APIRouter] = [users.router]
