#!/usr/bin/env bash
# Entrypoint of the hot standby: on first start (an empty data directory) it clones
# the primary with pg_basebackup, whose --write-recovery-conf leaves standby.signal
# and primary_conninfo / primary_slot_name in the clone, then it runs the command
# ("postgres …"). Later starts find the clone and go straight to the command, and
# the standby resumes streaming from its slot.
#
# Runs as the postgres user (compose sets `user: postgres`). Environment: PGDATA,
# PRIMARY_HOST, PRIMARY_PORT (5432), REPLICATION_USER (replicator),
# REPLICATION_PASSWORD, REPLICATION_SLOT (vigor_replica).
set -euo pipefail

: "${PGDATA:?set PGDATA}" "${PRIMARY_HOST:?set PRIMARY_HOST}"
: "${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD}"
port=${PRIMARY_PORT:-5432}
user=${REPLICATION_USER:-replicator}
slot=${REPLICATION_SLOT:-vigor_replica}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "replica: waiting for the primary at $PRIMARY_HOST:$port"
    until pg_isready --quiet --host "$PRIMARY_HOST" --port "$port" --username "$user"; do
        sleep 1
    done
    mkdir -p "$PGDATA"
    # Leftovers of a clone that was interrupted would make pg_basebackup refuse.
    find "$PGDATA" -mindepth 1 -delete
    echo "replica: cloning the primary"
    PGPASSWORD=$REPLICATION_PASSWORD pg_basebackup --no-password \
        --host "$PRIMARY_HOST" --port "$port" --username "$user" \
        --pgdata "$PGDATA" --slot "$slot" --write-recovery-conf \
        --wal-method=stream --checkpoint=fast
    # PostgreSQL refuses a data directory that others can read.
    chmod 0700 "$PGDATA"
fi

exec "$@"
