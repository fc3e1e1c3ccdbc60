#!/usr/bin/env bash
# Install the PostgreSQL server (Debian package "postgresql") if it is missing.
# Idempotent: exits 0 at once when /usr/lib/postgresql/*/bin/initdb exists.
# Non-interactive; needs no stdin. Run as root (or with passwordless sudo).
set -euo pipefail

has_initdb() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

if has_initdb; then
    echo "PostgreSQL server already installed: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo -n)
fi

"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql </dev/null

if ! has_initdb; then
    echo "error: postgresql installed but no /usr/lib/postgresql/*/bin/initdb found" >&2
    exit 1
fi
echo "PostgreSQL server installed: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
