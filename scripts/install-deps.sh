#!/usr/bin/env bash
# Installs every Debian package the project needs: the union of
# scripts/packages/*.txt (one package per line, '#' comments).
#   scripts/install-deps.sh [OPTIONAL...]   also scripts/packages/optional/OPTIONAL.txt
#                                           (e.g. guestfs: libguestfs for a benchmark)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lists=("$here"/packages/*.txt)
for o in "$@"; do
	[ -f "$here/packages/optional/$o.txt" ] || { echo "install-deps: no optional list '$o'" >&2; exit 2; }
	lists+=("$here/packages/optional/$o.txt")
done
pkgs=$(cat "${lists[@]}" | sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u)
missing=()
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${pkgs//$'\n'/ } present" | cut -c1-120
	exit 0
fi
echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
