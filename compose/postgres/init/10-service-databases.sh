#!/usr/bin/env bash
# One role and one database per Vigor service, each database owned by its role and
# closed to every other role, so a service can only reach its own data.
#
# Run by the postgres image on first start (it executes /docker-entrypoint-initdb.d/*)
# and by compose/local-cluster against its throwaway server. psql connects with the
# usual PG* environment (PGHOST, PGPORT); the roles' password is $DB_PASSWORD.
set -euo pipefail

services=(auth users training social gamification)
password=${DB_PASSWORD:?set DB_PASSWORD to the password of the service roles}

for service in "${services[@]}"; do
    psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 \
        --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
        --set=role="$service" --set=password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
    echo "vigor: created role and database $service"
done
