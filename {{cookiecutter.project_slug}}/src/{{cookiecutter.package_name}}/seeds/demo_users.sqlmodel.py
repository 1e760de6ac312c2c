"""Development data: accounts to log in with on a laptop or in tests, never in production.

``country`` names a country by its natural key; the seed stores its id in ``country_id``.
``col(Country.code)`` is the model's attribute, typed as one (``Country.code`` type-checks as
a ``str``, the value of a row).
"""

from __future__ import annotations

from groundwork.seeding import Ref, Seed
from sqlmodel import col

from ..models import Country, User

demo_users = Seed(
    model=User,
    key="email",
    depends_on=("countries",),
    environments=("development", "test"),
    references={"country": Ref("country_id", col(Country.code))},
    rows=[
        {
            "email": "admin@example.com",
            "display_name": "Ada Admin",
            "is_admin": True,
            "country": "FR",
        },
        {
            "email": "demo@example.com",
            "display_name": "Demo User",
            "is_admin": False,
            "country": "DE",
        },
    ],
)
