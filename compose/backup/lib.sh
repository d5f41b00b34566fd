# Shared by the backup scripts of the compose stack (sourced, not run): how they
# reach the stack's containers, and how they say what they do.
#
# Every command runs inside the container of its store through `docker compose
# exec -T`, so the scripts need nothing on the host but Docker, and the stores'
# own tools (pg_basebackup, redis-cli, nodetool) are the versions that wrote the
# data. $COMPOSE_FILE (default: compose/compose.yaml) picks the stack, and
# $COMPOSE (default: "docker compose") the command, e.g. "podman compose".

# shellcheck shell=bash
backup_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COMPOSE_FILE=${COMPOSE_FILE:-$(dirname "$backup_dir")/compose.yaml}
read -r -a compose_cmd <<<"${COMPOSE:-docker compose}"

say() { printf 'backup: %s\n' "$*" >&2; }
die() {
    printf 'backup: error: %s\n' "$*" >&2
    exit 1
}

# in_service SERVICE COMMAND...: runs COMMAND in SERVICE's running container.
in_service() {
    local service=$1
    shift
    "${compose_cmd[@]}" -f "$COMPOSE_FILE" exec -T "$service" "$@"
}

# copy_out SERVICE PATH DEST: copies PATH out of SERVICE's container to DEST.
copy_out() {
    "${compose_cmd[@]}" -f "$COMPOSE_FILE" cp "$1:$2" "$3"
}

# target_dir DIR: makes DIR, which must not exist yet or be empty (a backup never
# mixes with an older one), and prints its absolute path.
target_dir() {
    local dir=$1
    if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
        die "$dir is not empty: back up into a new directory"
    fi
    mkdir -p "$dir"
    (cd "$dir" && pwd)
}

# checksums DIR: writes DIR/SHA256SUMS of every file under DIR, last, so a backup
# without it did not finish (check with: cd DIR && sha256sum -c SHA256SUMS).
checksums() {
    local sums
    sums=$(cd "$1" && find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 -r sha256sum)
    printf '%s\n' "$sums" >"$1/SHA256SUMS"
}
