#!/usr/bin/env bash
# Seconds from starting the bundle to its main window being mapped on an X server (Xvfb, Qt's xcb platform): the
# cold start a user sees, measured without any help from the application. Needs Xvfb and xwininfo
# (apt-get install xvfb x11-utils). Uses a throw-away HOME and LLAD_HOME, so it measures a first start.
#   bash packaging/measure_start.sh [dist/llad] [runs]
set -euo pipefail
bundle=$(realpath "${1:-dist/llad}")
runs=${2:-3}
display=:$((90 + RANDOM % 9))
work=$(mktemp -d)
Xvfb "$display" -screen 0 1440x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill "$xvfb" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do xwininfo -display "$display" -root >/dev/null 2>&1 && break; sleep 0.1; done

# True once a window titled "LLAD Inspector..." is mapped (created but unmapped windows do not count).
viewable() {
    local id
    for id in $(xwininfo -display "$1" -root -tree 2>/dev/null | awk '/"LLAD Inspector/ {print $1}'); do
        xwininfo -display "$1" -id "$id" 2>/dev/null | grep -q IsViewable && return 0
    done
    return 1
}

for run in $(seq "$runs"); do
    home="$work/run$run" && mkdir -p "$home/tmp"
    start=$(date +%s.%N)
    env -i PATH=/usr/bin:/bin HOME="$home" TMPDIR="$home/tmp" LLAD_HOME="$home" DISPLAY="$display" \
        QT_QPA_PLATFORM=xcb "$bundle/llad" >"$home/out.log" 2>&1 &
    app=$!
    until viewable "$display"; do
        kill -0 "$app" 2>/dev/null || { echo "llad exited before showing a window:"; cat "$home/out.log"; exit 1; }
        sleep 0.05
    done
    end=$(date +%s.%N)
    kill "$app"
    wait "$app" 2>/dev/null || true
    echo "run $run: first window after $(echo "$end - $start" | bc) s"
done
