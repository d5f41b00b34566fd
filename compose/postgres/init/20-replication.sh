#!/usr/bin/env bash
# Lets the streaming replica (postgres-replica in compose.yaml) clone and follow this
# primary: a replication role, a physical replication slot (so the primary keeps the
# WAL the replica has not received yet) and a pg_hba.conf line for replication
# connections, which `host all all all` does not cover.
#
# Run by the postgres image on first start; the server it starts afterwards reads the
# new pg_hba.conf line.
set -euo pipefail

user=${REPLICATION_USER:-replicator}
slot=${REPLICATION_SLOT:-vigor_replica}
password=${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD for the replication role}

psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 \
    --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    --set=user="$user" --set=password="$password" --set=slot="$slot" <<'SQL'
CREATE ROLE :"user" WITH REPLICATION LOGIN PASSWORD :'password';
SELECT pg_create_physical_replication_slot(:'slot');
SQL
echo "host replication \"$user\" all scram-sha-256" >> "${PGDATA:?}/pg_hba.conf"
echo "vigor: created replication role $user and slot $slot"
