"""Reference data: every ISO 3166-1 country, in every environment (production included)."""

from __future__ import annotations

from groundwork.seeding import EVERY_ENVIRONMENT, Seed

from ..models import Country

countries = Seed(
    model=Country,
    key="code",
    data="countries.csv",
    environments=EVERY_ENVIRONMENT,
)
