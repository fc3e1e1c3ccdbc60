#!/usr/bin/env bash
# Debian packages the reports need: fonts-noto-cjk (Chinese labels in the matplotlib charts
# of the HTML/XLSX/PDF reports) and poppler-utils (pdftoppm / pdftotext, used by the tests
# to render the monthly bulletin's PDF to PNG and read its text back). The PDF's own text
# needs no font file: reportlab's built-in CID font STSong-Light.
# Idempotent: does nothing when both are there. Non-interactive; run as root or with sudo -n.
set -euo pipefail

have_all() {
    command -v pdftoppm >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1 \
        && compgen -G '/usr/share/fonts/opentype/noto/NotoSansCJK*' >/dev/null
}

if have_all; then
    echo "poppler-utils and fonts-noto-cjk already installed"
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo -n)
fi

"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    poppler-utils fonts-noto-cjk </dev/null

have_all || { echo "error: poppler-utils or fonts-noto-cjk missing after install" >&2; exit 1; }
echo "installed: $(pdftoppm -v 2>&1 | head -1)"
