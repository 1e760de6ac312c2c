"""The application's resources, one router each: add a new one here."""

from __future__ import annotations

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []
