#!/usr/bin/env bash
# Builds loopbreaker into build/ (or $1).  Pass -DLB_SANITIZE=ON,
# -DLB_WERROR=ON, -DCMAKE_BUILD_TYPE=Release etc. after (they override the
# RelWithDebInfo default).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
