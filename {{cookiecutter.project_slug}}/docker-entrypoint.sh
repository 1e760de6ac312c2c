#!/bin/sh
# Bring the database to head (create it if missing, migrate, seed), then become the command.
# Safe when several replicas start at once: the migration lock lets one migrate while the
# others wait. DATABASE_WAIT: seconds to wait for a database server that is still starting.
set -eu
invoke db.init --wait "${DATABASE_WAIT:-60}"
exec "$@"
