#!/usr/bin/env bash
# The layer rule of recover/ (docs/design.md), checked on the compiled
# objects.  Input: build/layers.txt, one line per layer:
#     NAME ARCHIVE-OR-OBJECTS... [DEPS...]
# written by recover/CMakeLists.txt (words ending in .a or .o are files,
# the rest are the layers NAME may use).  A symbol that an object of NAME
# references and another layer defines must belong to NAME itself or to a
# layer NAME names; anything else is a reach-past and fails.
set -euo pipefail
list=${1:-${LB_BUILD:-.}/layers.txt}
[ -f "$list" ] || { echo "layers.sh: no $list (build first)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

declare -A files deps
while read -r name rest; do
	[ -n "$name" ] || continue
	f=() d=()
	for w in $rest; do
		case $w in *.a|*.o) f+=("$w") ;; *) d+=("$w") ;; esac
	done
	files[$name]="${f[*]}"
	deps[$name]="${d[*]}"
done < "$list"

# Which layer defines each global symbol.
for name in "${!files[@]}"; do
	# shellcheck disable=SC2086
	nm -g --defined-only ${files[$name]} 2>/dev/null |
		awk -v L="$name" 'NF==3 && $2 ~ /[TDBRCVW]/ {print $3, L}'
done | sort -u > "$tmp/defs"

bad=0 checked=0
for name in "${!files[@]}"; do
	# shellcheck disable=SC2086
	nm -u ${files[$name]} 2>/dev/null | awk 'NF==2 {print $2}' | sort -u > "$tmp/undef"
	while read -r sym owner; do
		checked=$((checked + 1))
		[ "$owner" = "$name" ] && continue
		case " ${deps[$name]} " in *" $owner "*) continue ;; esac
		# Defined in the layer itself as well (e.g. weak)? then fine.
		if grep -q "^$sym $name\$" "$tmp/defs"; then continue; fi
		echo "layers.sh: layer '$name' uses $sym from layer '$owner', which it does not name (recover/CMakeLists.txt)" >&2
		bad=1
	done < <(join "$tmp/undef" "$tmp/defs")
done
if [ "$bad" != 0 ]; then
	echo "layers.sh: FAIL: a layer reaches past the layers it names" >&2
	exit 1
fi
echo "layers.sh: ${#files[@]} layers, $checked symbol references, all within the named layers"
