"""Everything that talks to the database: URLs, engines, migrations and the lifecycle commands."""
