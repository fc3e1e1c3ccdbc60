#!/usr/bin/env bash
# Install headless Chromium (Debian package "chromium") and CJK fonts (fonts-noto-cjk)
# for the browser tests of the web console. Idempotent: does nothing when both are there.
# Non-interactive; needs no stdin. Run as root (or with passwordless sudo).
set -euo pipefail

have_all() {
    command -v chromium >/dev/null 2>&1 && compgen -G '/usr/share/fonts/opentype/noto/NotoSansCJK*' >/dev/null
}

if have_all; then
    echo "chromium and fonts-noto-cjk already installed: $(chromium --version 2>/dev/null || echo chromium)"
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo -n)
fi

"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    chromium fonts-noto-cjk </dev/null

if ! command -v chromium >/dev/null 2>&1; then
    echo "error: chromium installed but not on PATH" >&2
    exit 1
fi
echo "chromium installed: $(chromium --version 2>/dev/null || echo chromium)"
