# shellcheck shell=bash
# Helpers for running PostgreSQL, Redis and vigor natively on loopback ports, shared by
# compose/local-cluster and compose/tests/*. Sourced, not executed.

# Prints the directory holding initdb, pg_ctl and postgres: $PG_BINDIR when set, else
# `pg_config --bindir`, else the newest /usr/lib/postgresql/*/bin. Fails when none has
# them.
find_pg_bindir() {
    local candidates=() dir
    if [ -n "${PG_BINDIR:-}" ]; then
        candidates=("$PG_BINDIR")
    else
        if command -v pg_config >/dev/null 2>&1; then
            candidates+=("$(pg_config --bindir 2>/dev/null || true)")
        fi
        # Newest major version first.
        while IFS= read -r dir; do
            candidates+=("$dir")
        done < <(printf '%s\n' /usr/lib/postgresql/*/bin | grep -v '\*' | sort -t/ -k5,5nr)
    fi
    for dir in "${candidates[@]}"; do
        if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done
    return 1
}

# Prints the path of redis-server: $REDIS_SERVER when set, else the one on PATH.
find_redis_server() {
    local bin=${REDIS_SERVER:-redis-server}
    if [ -x "$bin" ]; then
        printf '%s\n' "$bin"
    elif [[ $bin != */* ]] && command -v "$bin" >/dev/null 2>&1; then
        command -v "$bin"
    else
        return 1
    fi
}

# Prints the path of haproxy: $HAPROXY when set, else the one on PATH (Debian puts it
# in /usr/sbin, which a user's PATH may lack).
find_haproxy() {
    local bin=${HAPROXY:-haproxy}
    if [ -x "$bin" ]; then
        printf '%s\n' "$bin"
    elif [[ $bin != */* ]] && command -v "$bin" >/dev/null 2>&1; then
        command -v "$bin"
    elif [[ $bin != */* ]] && [ -x "/usr/sbin/$bin" ]; then
        printf '%s\n' "/usr/sbin/$bin"
    else
        return 1
    fi
}

# Checks that PostgreSQL, Redis and HAProxy are installed; sets PG_BIN, REDIS_BIN and
# HAPROXY_BIN, or says exactly what to install and returns 1.
# shellcheck disable=SC2034 # PG_BIN, REDIS_BIN and HAPROXY_BIN are for the caller
require_servers() {
    local missing=()
    PG_BIN=$(find_pg_bindir) || missing+=(postgresql)
    REDIS_BIN=$(find_redis_server) || missing+=(redis-server)
    HAPROXY_BIN=$(find_haproxy) || missing+=(haproxy)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "error: ${missing[*]} not found (PostgreSQL's initdb/pg_ctl/postgres, redis-server, haproxy)." >&2
        echo "Install the Debian packages: apt-get install -y ${missing[*]}" >&2
        echo "(or point PG_BINDIR / REDIS_SERVER / HAPROXY at existing binaries)" >&2
        return 1
    fi
}

# The user the PostgreSQL server runs as: postgres refuses to run as root, so as root
# it is `postgres` (created by Debian's postgresql package) or else `nobody`.
pg_os_user() {
    if [ "$(id -u)" != 0 ]; then
        id -un
    elif id postgres >/dev/null 2>&1; then
        echo postgres
    else
        echo nobody
    fi
}

# Runs a command as pg_os_user (directly when not root).
as_pg_user() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$(pg_os_user)" -- "$@"
    else
        "$@"
    fi
}

# Ports already handed out by pick_port in this shell.
PICKED_PORTS=()

# Whether something listens on 127.0.0.1:$1.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pick_port VAR: sets VAR to a loopback port nobody listens on and that this shell has
# not handed out yet (not printed: a $(…) subshell would forget what was handed out).
# With BASE_PORT set, ports are BASE_PORT, BASE_PORT+1, … in order instead of random.
pick_port() {
    # Locals are prefixed: the caller's variable may be called port or tries.
    local _pick_candidate _pick_tries=0
    if [ -n "${BASE_PORT:-}" ]; then
        _pick_candidate=$((BASE_PORT + ${#PICKED_PORTS[@]}))
        if port_in_use "$_pick_candidate"; then
            echo "error: port $_pick_candidate (from the base port $BASE_PORT) is in use" >&2
            return 1
        fi
    else
        while :; do
            _pick_tries=$((_pick_tries + 1))
            if [ $_pick_tries -gt 500 ]; then
                echo "error: found no free port" >&2
                return 1
            fi
            # Below the kernel's ephemeral range (32768+), where outgoing
            # connections would take ports picked as free.
            _pick_candidate=$((10000 + RANDOM % 22000))
            [[ " ${PICKED_PORTS[*]} " == *" $_pick_candidate "* ]] \
                || port_in_use "$_pick_candidate" || break
        done
    fi
    PICKED_PORTS+=("$_pick_candidate")
    printf -v "$1" '%s' "$_pick_candidate"
}

# Whether a Redis server answers PING on 127.0.0.1:$1.
redis_ping() {
    local reply
    reply=$(
        exec 2>/dev/null
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 0
        printf 'PING\r\n' >&3
        IFS= read -r -t 2 line <&3 && printf '%s' "$line"
    ) || true
    [[ $reply == +PONG* ]]
}

# Prints the HTTP status code of a GET of $1 (000 when there is no answer).
http_status() {
    local url=$1
    if command -v curl >/dev/null 2>&1; then
        curl -s -o /dev/null -m 5 -w '%{http_code}' "$url" 2>/dev/null || true
        return 0
    fi
    # Without curl: a plain HTTP/1.1 request through bash's /dev/tcp, in a subshell
    # so that a refused connection cannot end the caller.
    local rest=${url#http://} hostport path line
    hostport=${rest%%/*}
    path=/${rest#*/}
    [ "$rest" = "$hostport" ] && path=/
    line=$(
        exec 2>/dev/null
        exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || exit 0
        printf 'GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$hostport" >&3
        IFS= read -r -t 5 reply <&3 && printf '%s' "$reply"
    ) || true
    if [[ $line =~ ^HTTP/[0-9.]+\ ([0-9]{3}) ]]; then
        printf '%s' "${BASH_REMATCH[1]}"
    else
        printf '000'
    fi
}

# Whether process $1 runs (a zombie, dead but not yet reaped, does not count).
process_alive() {
    local stat
    kill -0 "$1" 2>/dev/null || return 1
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    [ "${stat:0:1}" != Z ]
}

# python_tools_venv NAME REQUIREMENTS: prints the path of a venv under the tools
# cache (${VIGOR_TOOLS_DIR:-~/.cache/vigor-tools}) holding the pinned REQUIREMENTS,
# made once per Python version and requirements file (a change to the file makes a
# fresh one). It is made aside and moved into place, so an interrupted or concurrent
# run never leaves half a venv behind. Says what it does and what fails on stderr;
# returns 1 when it cannot make the venv. $PYTHON picks the interpreter.
python_tools_venv() {
    local name=$1 requirements=$2 python=${PYTHON:-python3} pyver tools_dir venv staging
    pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || {
        echo "error: $python not found; on Debian: apt-get install -y python3 python3-venv" >&2
        return 1
    }
    tools_dir=${VIGOR_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vigor-tools}
    venv=$tools_dir/$name-py$pyver-$(sha256sum "$requirements" | cut -c1-16)
    if [ ! -f "$venv/.complete" ]; then
        echo "installing the tools of $requirements into $venv (once)" >&2
        mkdir -p "$tools_dir"
        rm -rf "$venv"
        staging=$(mktemp -d "$tools_dir/.staging.XXXXXX")
        if ! "$python" -m venv "$staging" >&2; then
            rm -rf "$staging"
            echo "error: cannot make a venv with $python; on Debian: apt-get install -y python3-venv" >&2
            return 1
        fi
        if ! "$staging/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
            --require-virtualenv -r "$requirements" >&2; then
            rm -rf "$staging"
            echo "error: cannot install the tools of $requirements from PyPI" >&2
            return 1
        fi
        touch "$staging/.complete"
        mv -T "$staging" "$venv" 2>/dev/null || rm -rf "$staging" # another run was first
    fi
    printf '%s\n' "$venv"
}
