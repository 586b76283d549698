#!/usr/bin/env bash
# --help, docs/usage.md and the man page (docs/loopbreaker.1) agree: every
# long option `loopbreaker CMD --help` lists (usage lines and option lines)
# is in both documents; every --option the two documents name exists in some
# command's --help (--fault-inject: in loopbreaker-test only); and every
# "loopbreaker CMD ... --opt" in a fenced block of README.md or docs/*.md
# (scripts/doc-blocks.py cmdopts) is an option of that CMD; an option a
# command's --help names but does not take is named with the command that
# does (keys --help and --keys-passphrase-file).
. "$(dirname "$0")/lib.bash"

USAGE=$LB_SOURCE/docs/usage.md
MAN=$LB_SOURCE/docs/loopbreaker.1
CMDS="scan fix undo ls keys fleet upload playbooks"
[ -x "$LB" ] || { fail "$LB not built"; done_tests; exit 1; }

# listed CMD: the long options of CMD's --help, one a line
listed() {
	"$LB" "$1" --help 2>&1 | awk '
		/^usage:/ { u = 1 } /^$/ { u = 0 }
		u || /^[ \t]+(-[A-Za-z], )?--[a-z]/ { print }' |
		grep -o -- '--[a-z][a-z0-9-]*' | grep -vx -- '--help' | sort -u || true
}
# mentioned CMD: every --word anywhere in CMD's --help (prose too)
mentioned() { "$LB" "$1" --help 2>&1 | grep -o -- '--[a-z][a-z0-9-]*' | sort -u || true; }
# the man page with roff's \- unescaped
sed 's/\\-/-/g' "$MAN" > man.txt

: > all-listed
for c in $CMDS; do
	listed "$c" > "listed-$c"
	mentioned "$c" > "mentioned-$c"
	cat "listed-$c" >> all-listed
	T_CHECKS=$((T_CHECKS + 1))
	# a command without options must still answer --help (exit 0)
	"$LB" "$c" --help > /dev/null 2>&1 || fail "loopbreaker $c --help exits non-zero"
	while read -r o; do
		T_CHECKS=$((T_CHECKS + 1))
		grep -q -- "$o\b" "$USAGE" || fail "loopbreaker $c $o: not in docs/usage.md"
		T_CHECKS=$((T_CHECKS + 1))
		grep -q -- "$o\b" man.txt || fail "loopbreaker $c $o: not in docs/loopbreaker.1"
	done < "listed-$c"
done
eq "options found in --help" "$(sort -u all-listed | wc -l | awk '{print ($1 > 40) ? "many" : $1}')" many
"$LBT" fix --help 2>&1 | grep -o -- '--[a-z][a-z0-9-]*' > test-only || true
# known: any --word of any command's --help; plus other programs' options
# the docs show in their commands (tar --zstd)
{ cat mentioned-* test-only; printf -- '--help\n--version\n--zstd\n'; } | sort -u > known
for doc in usage.md loopbreaker.1; do
	if [ $doc = loopbreaker.1 ]; then cat man.txt; else cat "$USAGE"; fi |
		grep -o -- '\(^\|[^a-z0-9-]\)--[a-z][a-z0-9-]*' | grep -o -- '--.*' | sort -u > "named-$doc"
	while read -r o; do
		T_CHECKS=$((T_CHECKS + 1))
		grep -qx -- "$o" known || fail "docs/$doc names $o, which no command's --help lists"
	done < "named-$doc"
done
check "--fault-inject is in loopbreaker-test only" grep -qx -- --fault-inject test-only
check "--fault-inject is not in loopbreaker" bash -c "! cat mentioned-* | grep -qx -- --fault-inject"

# options next to "loopbreaker CMD" in the docs' code blocks
python3 "$LB_SOURCE/scripts/doc-blocks.py" --root "$LB_SOURCE" cmdopts > cmdopts
eq "cmdopts found" "$(awk 'END {print (NR > 30) ? "many" : NR}' cmdopts)" many
while read -r where c o; do
	T_CHECKS=$((T_CHECKS + 1))
	grep -qx -- "$o" "mentioned-$c" || grep -qx -- "$o" test-only ||
		fail "$where: loopbreaker $c $o: not an option of '$c' (loopbreaker $c --help)"
done < cmdopts

# An option a command's --help names but does not take is named on the same
# line as a command that does take it (keys --help once said "given with
# --keys-passphrase-file", an option of scan/fix/undo, as if it were its own).
for c in $CMDS; do
	for o in $(comm -23 "mentioned-$c" "listed-$c" | grep -vx -- --help); do
		T_CHECKS=$((T_CHECKS + 1))
		ok=0
		while IFS= read -r line; do
			for w in $CMDS; do
				if [ "$w" != "$c" ] && grep -qx -- "$o" "listed-$w" &&
					printf '%s\n' "$line" | grep -qw -- "$w"; then ok=1; fi
			done
		done < <("$LB" "$c" --help 2>&1 | grep -- "$o\b")
		[ "$ok" = 1 ] || fail "loopbreaker $c --help names $o, which '$c' does not take, without the command that takes it"
	done
done
# keys takes what its --help lists, and not the scan/fix name of the option
for o in $(cat listed-keys); do
	rc=0; "$LB" keys list "$o" nonexistent.txt nonexistent.csv > keys-opt.out 2>&1 || rc=$?
	check "keys list $o: accepted" bash -c "! grep -q 'unrecognized option' keys-opt.out"
done
rc=0; "$LB" keys list --keys-passphrase-file p nonexistent.csv > keys-opt.out 2>&1 || rc=$?
eq "keys list --keys-passphrase-file: a usage error" "$rc" 2
check "keys list --keys-passphrase-file: unrecognized" grep -q 'unrecognized option' keys-opt.out
done_tests
