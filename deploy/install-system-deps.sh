#!/usr/bin/env bash
# The Debian packages casegrid's tests need, installed in one apt run if any is missing:
#   postgresql      the throwaway PostgreSQL servers of the integration tests
#   chromium        the headless browser of the console's end-to-end tests
#   fonts-noto-cjk  Chinese glyphs in the browser and in the reports' charts
#   fonts-wqy-microhei  the font embedded in the monthly bulletin's PDF (TrueType outlines,
#                   which reportlab can embed; Noto CJK is CFF, which it cannot)
#   poppler-utils   pdftoppm / pdftotext, to render and read the monthly bulletin's PDF
#   nginx           `nginx -t` and a run of deploy/proxy/nginx.conf (tests/integration/
#                   test_proxy_config.py; ~1.5 MB, no recommends; the service is not started)
# Idempotent and non-interactive (no stdin); run as root or with passwordless sudo.
set -euo pipefail

missing=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
compgen -G '/usr/share/fonts/opentype/noto/NotoSansCJK*' >/dev/null || missing+=(fonts-noto-cjk)
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx)

if [ ${#missing[@]} -eq 0 ]; then
    echo "system packages present: postgresql chromium fonts-noto-cjk fonts-wqy-microhei poppler-utils nginx"
    exit 0
fi

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo -n)
echo "installing: ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" </dev/null

compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || { echo "error: no initdb after install" >&2; exit 1; }
command -v chromium >/dev/null 2>&1 || { echo "error: no chromium after install" >&2; exit 1; }
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || { echo "error: no wqy-microhei.ttc after install" >&2; exit 1; }
command -v pdftoppm >/dev/null 2>&1 || { echo "error: no pdftoppm after install" >&2; exit 1; }
[ -x /usr/sbin/nginx ] || { echo "error: no nginx after install" >&2; exit 1; }
echo "installed: ${missing[*]}"
