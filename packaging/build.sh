#!/usr/bin/env bash
# Build the one-folder bundle dist/llad/ the same way every time; `make package` runs this script.
#   bash packaging/build.sh              build dist/llad (work files in build/), report time, size, biggest parts
#   bash packaging/build.sh --selftest   then run the bundle's headless self-test
# LLAD_DIST, LLAD_WORK: other output and work folders (the packaging test builds into a temporary folder).
# LLAD_PYTHON: the Python whose packages are bundled (default .venv/bin/python).
# LLAD_BUNDLE_CUDA=1: keep every CUDA library (see packaging/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${LLAD_PYTHON:-.venv/bin/python}
DIST=${LLAD_DIST:-dist}
WORK=${LLAD_WORK:-build}

if [[ -z "${LLAD_PYTHON:-}" ]]; then
    make --no-print-directory install
fi

# Qt's xcb platform plugin links X11 helper libraries that minimal systems lack. PyInstaller bundles the ones it
# finds on the build machine, so have them here (Debian/Ubuntu package names).
if [[ "$(uname -s)" == Linux ]]; then
    # Read the cache once: `ldconfig -p | grep -q` fails under pipefail when grep stops reading early.
    cache=$("$(command -v ldconfig || echo /sbin/ldconfig)" -p)
    missing=()
    for pair in libxcb-icccm.so.4:libxcb-icccm4 libxcb-keysyms.so.1:libxcb-keysyms1 libxcb-cursor.so.0:libxcb-cursor0; do
        grep -qF "${pair%%:*}" <<<"$cache" || missing+=("${pair##*:}")
    done
    if ((${#missing[@]})); then
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            echo "build.sh: installing ${missing[*]} for Qt's xcb platform"
            apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        else
            echo "build.sh: install ${missing[*]} first (apt-get install ${missing[*]}): Qt's xcb platform needs them" >&2
            exit 1
        fi
    fi
fi

start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --distpath "$DIST" --workpath "$WORK" packaging/llad.spec
end=$(date +%s)

echo "build: $((end - start)) s"
echo "bundle: $(du -sh "$DIST/llad" | cut -f1) in $(find "$DIST/llad" -type f | wc -l) files"
echo "largest parts of $DIST/llad/_internal (MB):"
du -s --block-size=1M "$DIST"/llad/_internal/* "$DIST/llad/llad" | sort -rn | sed -n 1,15p

if [[ "${1:-}" == "--selftest" ]]; then
    home=$(mktemp -d)
    trap 'rm -rf "$home"' EXIT
    LLAD_HOME="$home" QT_QPA_PLATFORM=offscreen "$DIST/llad/llad" --selftest
fi
