#!/usr/bin/env bash
# Install the Debian/Ubuntu packages geosleuth's OCR and its rendered test scenes use.
#
#   tesseract-ocr (+ tesseract-ocr-eng, -osd)   the OCR engine for non-Latin scripts
#   tesseract-ocr-script-<script>               one trained model per writing system
#   fonts-noto-core                             Noto fonts for Latin, Cyrillic, Greek, Arabic, Hebrew,
#                                               Devanagari, Bengali, Tamil, Thai, Georgian, Armenian,
#                                               Ethiopic, ... (used by evals/scenes.py to draw signs)
#   fonts-wqy-microhei                          one small CJK font (Han, kana, Hangul): 1.6 MB instead
#                                               of fonts-noto-cjk's 57 MB
#
# Idempotent: installs only what is missing and runs `apt-get update` only when apt does not know a
# package. Without root or apt-get it prints what is missing and exits 0.
#
# Environment:
#   GEOSLEUTH_TESSERACT_SCRIPTS=core|all   core (default): the scripts geosleuth detects, 15 packs,
#                                          ~47 MB download; all: every tesseract-ocr-script-* pack
#                                          apt knows, ~129 MB (the Latin pack alone is 31 MB, and
#                                          easyocr already reads Latin).
#   GEOSLEUTH_CJK_FONT=wqy|noto            wqy (default): fonts-wqy-microhei; noto: fonts-noto-cjk.
set -euo pipefail

CORE_SCRIPTS=(arab armn beng cyrl deva ethi geor grek hang hans hant hebr jpan taml thai)

script_packages() {
    if [[ "${GEOSLEUTH_TESSERACT_SCRIPTS:-core}" == "all" ]] && command -v apt-cache >/dev/null; then
        apt-cache search --names-only '^tesseract-ocr-script-' | awk '{print $1}' | sort
    else
        printf 'tesseract-ocr-script-%s\n' "${CORE_SCRIPTS[@]}"
    fi
}

cjk_font="fonts-wqy-microhei"
[[ "${GEOSLEUTH_CJK_FONT:-wqy}" == "noto" ]] && cjk_font="fonts-noto-cjk"

wanted=(tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd fonts-noto-core "$cjk_font")
wanted+=(chromium)  # headless browser: the trace viewer's screenshot test (tests/integration/test_trace_view.py)
wanted+=(libimage-exiftool-perl)  # exiftool: reads back what `--write` wrote (tests/integration/test_writeback.py)
mapfile -t scripts < <(script_packages)
wanted+=("${scripts[@]}")

installed() {
    dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -qx installed
}

missing=()
if command -v dpkg-query >/dev/null; then
    for pkg in "${wanted[@]}"; do
        installed "$pkg" || missing+=("$pkg")
    done
else
    missing=("${wanted[@]}")
fi

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-system-deps: all ${#wanted[@]} packages already installed"
    exit 0
fi

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "install-system-deps: missing (not root or no apt-get, so not installing):"
    printf '  %s\n' "${missing[@]}"
    echo "  install them with your package manager; geosleuth runs without them, with less OCR."
    command -v tesseract >/dev/null || echo "  (no tesseract binary: OCR falls back to easyocr only)"
    exit 0
fi

known() {
    apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [^(]'
}

for pkg in "${missing[@]}"; do
    if ! known "$pkg"; then
        echo "install-system-deps: apt does not know $pkg; running apt-get update"
        apt-get update -qq
        break
    fi
done

echo "install-system-deps: installing ${missing[*]}"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-system-deps: done"
