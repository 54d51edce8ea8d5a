#!/usr/bin/env bash
# Install the PostgreSQL server binaries used by shared/local_postgres.py.
#
# Idempotent: exits at once when initdb is already available, looked up in the
# same places as shared/local_postgres.py ($OMNI_PG_BIN, then
# /usr/lib/postgresql/*/bin, then PATH). Otherwise installs Debian's
# "postgresql" package.
#
# Tests start their own throwaway cluster, so the distro's default cluster is
# neither created nor started: it would only occupy port 5432 and memory.
set -euo pipefail

find_initdb() {
    if [[ -n "${OMNI_PG_BIN:-}" && -x "${OMNI_PG_BIN}/initdb" ]]; then
        echo "${OMNI_PG_BIN}/initdb"
        return 0
    fi
    local candidate
    # Newest version first, as the Python lookup prefers it.
    for candidate in $(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -rV); do
        if [[ -x "$candidate" ]]; then
            echo "$candidate"
            return 0
        fi
    done
    command -v initdb
}

if initdb_path="$(find_initdb)"; then
    echo "PostgreSQL server binaries already present: ${initdb_path}"
    exit 0
fi

if ! command -v apt-get >/dev/null; then
    echo "initdb not found and apt-get unavailable; install PostgreSQL manually" \
        "or point OMNI_PG_BIN at its bin directory" >&2
    exit 1
fi

sudo=()
if [[ "$(id -u)" -ne 0 ]]; then
    if ! command -v sudo >/dev/null; then
        echo "installing postgresql needs root or sudo" >&2
        exit 1
    fi
    sudo=(sudo)
fi

apt_get() {
    # Through env because sudo resets the environment; noninteractive so
    # debconf never waits for an answer on CI.
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@"
}

# invoke-rc.d and deb-systemd-invoke consult policy-rc.d; exit status 101
# means "not allowed", so package scripts install services without starting
# them. Only add one if the image has none, and remove it again afterwards.
policy=/usr/sbin/policy-rc.d
if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 0755 "$policy"
    trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi

apt_get update

# postgresql-common first: its createcluster.conf decides whether the server
# package's postinst creates the default "main" cluster, and it must say no
# before that postinst runs. --no-upgrade: only needed if it is missing.
apt_get install -y --no-install-recommends --no-upgrade postgresql-common
conf=/etc/postgresql-common/createcluster.conf
if [[ -f "$conf" ]]; then
    if grep -Eq '^[#[:space:]]*create_main_cluster[[:space:]]*=' "$conf"; then
        "${sudo[@]}" sed -i -E \
            's/^[#[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' "$conf"
    else
        echo 'create_main_cluster = false' | "${sudo[@]}" tee -a "$conf" >/dev/null
    fi
fi

apt_get install -y postgresql

if ! initdb_path="$(find_initdb)"; then
    echo "postgresql installed, but initdb is still not found" >&2
    exit 1
fi
echo "PostgreSQL server binaries installed: ${initdb_path}"
