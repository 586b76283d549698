#!/usr/bin/env bash
# Builds the loopbreaker boot media from Debian 12 packages and build/loopbreaker:
#
#   bootmedia/build.sh [OUTDIR]        (default build/bootmedia)
#
# OUTDIR/
#   vmlinuz, initrd.img        signed Debian kernel + zstd cpio initramfs
#   usb/                       folder to copy onto any FAT32 stick (UEFI + Secure Boot)
#   loopbreaker-usb.img        raw image for dd: MBR, one FAT32 partition, UEFI + BIOS
#   loopbreaker.iso            hybrid ISO (CD, virtual media, or dd), UEFI + BIOS
#   pxe/                       TFTP root: shim, grubnetx64, grub/grub.cfg (UEFI),
#                              pxelinux.0 + pxelinux.cfg/default (BIOS), boot.ipxe
#   SOURCES.txt, SHA256SUMS, sizes.txt
#
# Environment:
#   LB_BUILD           build dir holding loopbreaker (default <repo>/build)
#   LB_DEB_CACHE       where .debs are downloaded (default <repo>/build/bootmedia-debs)
#   LB_KERNEL_PKG      kernel package (default: what linux-image-amd64 depends on)
#   SOURCE_DATE_EPOCH  timestamp of every file (default: HEAD's commit time)
#   LB_FAT_SERIAL      FAT volume serial (8 hex digits) of the stick and of the ISO's
#                      EFI image, also the MBR disk ID; default: derived from the
#                      stick's content (reproducible); "random": a fresh one
#   LB_OFFLINE=1       use only the .debs already in LB_DEB_CACHE
#   LB_DLOPEN_SUGGESTED=1  also the libraries of "suggested" .note.dlopen
#                      features (libvirt for --domain; left out by default)
#   LB_BOOT_SKIP       .note.dlopen features left out of the image (default
#                      "vm-images": libnbd; empty keeps them)
#   LB_KEEP_WORK=1     keep OUTDIR/.work (the initramfs tree, generated stubs)
# Needs (host): apt, dpkg-deb, cpio, zstd, kmod (depmod), mtools, dosfstools,
# fdisk (sfdisk), xorriso.  No root needed except for apt-get update; no loop
# devices, no mounts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
out=$(realpath -m "${1:-$src/build/bootmedia}")
LB_BUILD=$(realpath -m "${LB_BUILD:-$src/build}")
cache=$(realpath -m "${LB_DEB_CACHE:-$src/build/bootmedia-debs}")
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$src" log -1 --format=%ct 2>/dev/null || echo 1721363340)
fi
export SOURCE_DATE_EPOCH
export LC_ALL=C TZ=UTC
umask 022
stamp="@$SOURCE_DATE_EPOCH"
work=$out/.work
log() { echo "bootmedia: $*" >&2; }
die() { echo "bootmedia: error: $*" >&2; exit 1; }

lb=$LB_BUILD/loopbreaker
[ -x "$lb" ] || die "$lb not found: build loopbreaker first (scripts/build.sh)"
for t in dpkg-deb cpio zstd depmod mcopy mkfs.fat sfdisk xorriso; do
	command -v "$t" >/dev/null || die "$t missing (scripts/install-deps.sh installs scripts/packages/bootmedia.txt)"
done

rm -rf "$work" && mkdir -p "$work" "$cache" "$out"

# ---------------------------------------------------------------- packages
pkgs=$(sed 's/#.*//' "$here/debs.txt" | tr -s ' \t' '\n' | grep -v '^$')
apt_ready() { apt-cache show --no-all-versions "$1" >/dev/null 2>&1; }
cached_deb() { # newest cached .deb of package $1 (offline mode)
	ls "$cache/$1"_*.deb 2>/dev/null | sort -V | tail -1
}
# unpack_kernel DEB DIR: everything but the modules, then the modules of
# modules.txt and, round by round, what they depend on (modinfo), then
# depmod over that subset.  Same modules.dep closure as a full unpack.
unpack_kernel() {
	local deb=$1 dir=$2 names todo paths kv m dep p
	rm -rf "$dir" && mkdir -p "$dir"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" --exclude='./lib/modules/*/kernel/*'
	kv=$(ls "$dir/lib/modules")
	dpkg-deb --fsys-tarfile "$deb" | tar -t | grep '/kernel/.*\.ko' > "$work/kernel.list"
	names=" "
	todo=$(sed 's/#.*//' "$here/modules.txt" | tr -s ' \t' '\n' | grep -v '^$' | tr - _)
	while [ -n "$todo" ]; do
		paths=()
		for m in $todo; do
			names="$names$m "
			# the file whose name, with '-' as '_', is m.ko[.xz|.zst]
			p=$(awk -v m="$m" '{ n = $0; sub(/.*\//, "", n); sub(/\.ko.*$/, "", n); gsub(/-/, "_", n)
			    if (n == m) { print; exit } }' "$work/kernel.list")
			[ -n "$p" ] && paths+=("$p")   # unknown names: the closure check below says so
		done
		[ ${#paths[@]} -gt 0 ] && dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir" "${paths[@]}"
		todo=
		for p in "${paths[@]}"; do
			for dep in $(modinfo -F depends "$dir/$p" | tr ',' ' ' | tr - _); do
				case "$names$todo " in *" $dep "*) ;; *) todo="$todo $dep" ;; esac
			done
		done
		todo=$(echo $todo)
	done
	depmod -b "$dir" "$kv"
}
if [ "${LB_OFFLINE:-0}" != 1 ] && ! apt_ready busybox-static; then
	log "apt lists are empty: apt-get update"
	apt-get update -qq || log "apt-get update failed; trying the cache"
fi
kernel_pkg=${LB_KERNEL_PKG:-}
if [ -z "$kernel_pkg" ]; then
	if [ "${LB_OFFLINE:-0}" != 1 ] && apt_ready linux-image-amd64; then
		kernel_pkg=$(apt-cache show --no-all-versions linux-image-amd64 | sed -n 's/^Depends: //p' |
			grep -o 'linux-image-[0-9][^ ,]*-amd64' | head -1)
	else
		kernel_pkg=$(basename "$(ls "$cache"/linux-image-*-amd64_*.deb 2>/dev/null | sort -V | tail -1)" | cut -d_ -f1)
	fi
fi
[ -n "$kernel_pkg" ] || die "cannot tell which kernel package to use"
: > "$work/sources"
for p in $pkgs; do
	[ "$p" = KERNEL ] && p=$kernel_pkg
	deb=
	if [ "${LB_OFFLINE:-0}" != 1 ] && apt_ready "$p"; then
		ver=$(apt-cache show --no-all-versions "$p" | sed -n 's/^Version: //p' | head -1)
		arch=$(apt-cache show --no-all-versions "$p" | sed -n 's/^Architecture: //p' | head -1)
		deb=$cache/${p}_${ver//:/%3a}_${arch}.deb
		if [ ! -s "$deb" ]; then
			log "download $p $ver"
			(cd "$cache" && apt-get download -qq -o APT::Sandbox::User=root "$p=$ver") ||
				die "apt-get download $p failed"
		fi
	else
		deb=$(cached_deb "$p")
	fi
	[ -n "$deb" ] && [ -s "$deb" ] || die "no .deb for $p (no apt lists and nothing in $cache)"
	# unpacked once per .deb, next to it; the kernel package only in part,
	# into the work dir: its image and the modules the initramfs needs
	# (unpacked whole it is ≈430 MB, mostly modules no boot here loads)
	x=$cache/x/$(basename "$deb" .deb)
	if [ "$p" = "$kernel_pkg" ]; then
		x=$work/kernel
		unpack_kernel "$deb" "$x"
	elif [ ! -e "$x/.unpacked" ]; then
		rm -rf "$x" && mkdir -p "$x"
		dpkg-deb -x "$deb" "$x"
		[ -d "$x/lib/modules" ] && depmod -b "$x" "$(ls "$x/lib/modules")"
		touch "$x/.unpacked"
	fi
	mkdir -p "$work/deb"
	ln -s "$x" "$work/deb/$p"
	printf '%s %s %s\n' "$p" "$(dpkg-deb -f "$deb" Version)" "$(sha256sum < "$deb" | cut -d' ' -f1)" >> "$work/sources"
	eval "deb_$(echo "$p" | tr -c 'a-zA-Z0-9\n' _)=\$work/deb/\$p"
done
kroot=$work/deb/$kernel_pkg
kver=$(ls "$kroot/lib/modules")
log "kernel $kernel_pkg ($kver)"

# ---------------------------------------------------------------- initramfs
ir=$work/initramfs
mkdir -p "$ir"/{bin,dev,proc,sys,run,tmp,mnt,stick,root,etc,usr/bin,lib/modules}
# busybox-static: /init and the commands it runs.  Debian's dynamic busybox
# would be 0.5 MB smaller (it runs on the glibc the image carries anyway),
# but every command /init runs then goes through the dynamic loader, and
# under emulation (QEMU TCG) that made power-on to report 3 s slower (19.0
# against 15.8 s, bench/boot.sh side by side; docs/performance.md).
bb=$deb_busybox_static/bin/busybox
install -m 755 "$bb" "$ir/bin/busybox"
for a in $("$bb" --list); do
	[ "$a" = busybox ] || ln -s busybox "$ir/bin/$a"
done
install -m 755 "$here/init" "$ir/init"
install -m 755 "$here/udhcpc.script" "$ir/etc/udhcpc.script"
printf '127.0.0.1 localhost\n' > "$ir/etc/hosts"
# public CAs for "loopbreaker upload" over https (libcurl's default bundle path)
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
	mkdir -p "$ir/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$ir/etc/ssl/certs/"
fi

# loopbreaker and the helpers it runs (mtools for the ESP, ntfsrecover for
# --replay-journal), with their shared libraries as resolved by ldd here:
# the exact files the binary was linked and tested against.
install -m 755 "$lb" "$ir/usr/bin/loopbreaker"
bins="$lb"
for h in mtools ntfsrecover ntfsfix ntfsinfo; do
	hp=$(command -v "$h" 2>/dev/null || true)
	if [ -n "$hp" ]; then install -m 755 "$hp" "$ir/usr/bin/$h"; bins="$bins $hp"
	else log "warning: $h not on the build host; not in the image"; fi
done
for m in mcopy mdir mdel mren mmd mtype minfo; do ln -s mtools "$ir/usr/bin/$m"; done
: > "$work/libs"
for b in $bins; do
	ldd "$b" | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}' >> "$work/libs"
done
# Libraries dlopen()ed only when a run needs them (libdislocker to unlock
# BitLocker, libarchive for evidence bundles, libcurl to upload, libnbd for
# VM images) are not in ldd's output: the binary names them in its ELF
# .note.dlopen (https://systemd.io/ELF_DLOPEN_METADATA/).  Each soname is
# resolved as the loader would (ld.so.cache) and copied with its own deps.
# Features of priority "suggested" are left out (libvirt for --domain: a
# boot from the stick runs on the broken machine, not on a libvirt host;
# docs/design.md): the binary says so when asked for one.
# LB_DLOPEN_SUGGESTED=1 takes them too.  So are the features named in
# LB_BOOT_SKIP (default vm-images: VM disk images need qemu-nbd, which the
# image does not carry, and nbd:// exports are served to hypervisor hosts,
# not to a machine booted from a stick; without libnbd, libxml2 is linked
# only by libarchive, for XAR, and becomes a stub).  LB_BOOT_SKIP= keeps
# them.
: > "$work/dlopen-libs"
# (the loader's cache in a file: awk's early exit must not cut a pipe, which
# pipefail would take for a failure)
ldconfig -p > "$work/ldconfig"
for b in $bins; do
	{ readelf -p .note.dlopen "$b" 2>/dev/null | grep -o '{"feature".*' || true; } | while read -r note; do
		feature=$(echo "$note" | sed -n 's/.*"feature":"\([^"]*\)".*/\1/p')
		sonames=$(echo "$note" | grep -o '"soname":\[[^]]*\]' | grep -o '"[^"]*\.so[^"]*"' | tr -d '"')
		why=
		case " ${LB_BOOT_SKIP-vm-images} " in *" $feature "*) why="the feature $feature, LB_BOOT_SKIP" ;; esac
		if [ -z "$why" ] && grep -q '"priority":"suggested"' <<< "$note" &&
			[ "${LB_DLOPEN_SUGGESTED:-0}" != 1 ]; then why="the suggested feature $feature"; fi
		if [ -n "$why" ]; then
			echo "skipped $(echo $sonames) (dlopen()ed for $why)" >> "$work/sources.libs"
			log "left out: $(echo $sonames) ($why)"
			continue
		fi
		for so in $sonames; do
			dl=$(awk -v s="$so" '$1 == s && /x86-64/ { print $NF; exit }' "$work/ldconfig")
			[ -n "$dl" ] || die "$b dlopen()s $so (its .note.dlopen), which the build host lacks"
			echo "$dl" >> "$work/libs"; echo "$dl" >> "$work/dlopen-libs"
			ldd "$dl" | awk '/=> \//{print $3} /^\t\/[^ ]+ \(/{print $1}' >> "$work/libs"
		done
	done
done
sort -u "$work/libs" -o "$work/libs"

# Stub libraries (bootmedia/stubs/README.md, docs/bootmedia.md "Stub
# libraries"): a library that kept libraries link but, for what loopbreaker
# does with them, never call (librtmp, libldap, Kerberos… behind libcurl,
# which uploads over http(s) only; libruby behind libdislocker's Ruby
# binding; ICU behind libxml2) is replaced by a generated library of the same
# soname defining exactly what the kept libraries import from it, so what
# only the real one needed drops out.  LB_REAL_LIBS="NAME…" keeps the
# named ones real, LB_NO_STUBS=1 all of them (LB_FULL_ICU=1: libicuuc).
needed_of() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
# spec_of LIB: its rules, bootmedia/stubs/NAME.c (libruby-3.1.so.3.1: libruby)
spec_of() { echo "$here/stubs/$(basename "$1" | sed 's/\.so.*//; s/-[0-9.]*$//').c"; }
lib_path() { awk -v s="/$1" 'substr($0, length($0) - length(s) + 1) == s { print; exit }' "$work/libs"; }
# kept_libs STUBS: the libraries of $work/libs that the binaries and their
# dlopen()ed libraries reach through DT_NEEDED, the STUBS (paths) needing
# nothing
kept_libs() {
	local stubs=" $1 " seen=" " l n p
	local -a queue
	# shellcheck disable=SC2207
	queue=($bins $(cat "$work/dlopen-libs"))
	while [ ${#queue[@]} -gt 0 ]; do
		l=${queue[0]}; queue=("${queue[@]:1}")
		case "$seen" in *" $l "*) continue ;; esac
		seen="$seen$l "
		case "$stubs" in *" $l "*) continue ;; esac
		for n in $(needed_of "$l"); do
			p=$(lib_path "$n")
			[ -n "$p" ] && queue+=("$p")
		done
	done
	printf '%s\n' $seen | grep -xF -f "$work/libs" || true
}
# stub_lib LIB SPEC IMPORTERS...: $ir$LIB becomes a stub (rules in SPEC) of
# the functions and data the IMPORTERS import from LIB
stub_lib() {
	local lib=$1 spec=$2 t size sym ver glob body rule n=0 d=0
	shift 2
	local c=$work/stub-$(basename "$lib").c vs=$work/stub-$(basename "$lib").ver
	local -a verflag=()
	for o in "$@"; do nm -D --undefined-only "$o" 2>/dev/null | awk '{print $NF}'; done |
		sed 's/@.*//' | sort -u > "$work/stub-wanted"
	cc -c -fPIC -o "$work/stub-hand.o" "$spec" || die "stub $spec does not compile"
	nm --defined-only "$work/stub-hand.o" | awk '$2 ~ /^[TDBR]$/ { print $3 }' > "$work/stub-hand"
	# real library's exports: type size name version ("-" without one)
	nm -D -S --defined-only "$lib" | awk 'NF == 4 && $3 != "A" { v = "-"; n = $4
		if (split(n, p, "@@") == 2) { n = p[1]; v = p[2] } else if (split(n, p, "@") == 2) { n = p[1]; v = p[2] }
		print $3, $2, n, v }' | sort -k3,3 -k4,4r | sort -k3,3 -u |
		awk 'NR == FNR { want[$1] = 1; next } ($3 in want)' "$work/stub-wanted" - > "$work/stub-exports"
	{
		echo "/* generated by bootmedia/build.sh from $(basename "$spec") for $(basename "$lib") */"
		while read -r t size sym ver; do
			grep -qxF "$sym" "$work/stub-hand" && continue
			case "$t" in
			T|t|W|i)
				body=
				while read -r glob rule; do
					# shellcheck disable=SC2254
					case "$sym" in $glob) body=$rule; break ;; esac
				done < <(sed -n 's|^//@ fn  *||p' "$spec")
				[ -n "$body" ] || die "stub $(basename "$spec"): no //@ fn rule for $sym, which $(basename "$lib") exports and a kept library imports"
				echo "long $sym(long a0, long a1, long a2, long a3, long a4, long a5) { (void)a0; (void)a1; (void)a2; (void)a3; (void)a4; (void)a5; $body }"
				n=$((n + 1)) ;;
			*)	echo "char ${sym}[$((16#$size))] __attribute__((aligned(16)));"
				d=$((d + 1)) ;;
			esac
		done < "$work/stub-exports"
	} > "$c"
	: > "$vs"
	for ver in $(awk '$4 != "-" { print $4 }' "$work/stub-exports" | sort -u); do
		printf '%s { global: %s };\n' "$ver" \
			"$(awk -v v="$ver" '$4 == v { printf "%s; ", $3 }' "$work/stub-exports")" >> "$vs"
	done
	[ -s "$vs" ] && verflag=(-Wl,--version-script="$vs")
	cc -shared -fPIC -O2 -fno-builtin -Wl,-soname,"$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" \
		-Wl,--build-id=none "${verflag[@]}" \
		-o "$ir$lib" "$spec" "$c" || die "stub for $lib does not build: $(cat "$c")"
	chmod 644 "$ir$lib"
	echo "stub $lib ($n functions by rule, $(grep -c . "$work/stub-hand") written out, $d data; bootmedia/stubs/$(basename "$spec"))" >> "$work/sources.libs"
}
stubs=
if [ "${LB_NO_STUBS:-0}" != 1 ]; then
	for spec in "$here"/stubs/*.c; do
		name=$(basename "$spec" .c)
		case " ${LB_REAL_LIBS:-} " in *" $name "*) continue ;; esac
		[ "$name" = libicuuc ] && [ "${LB_FULL_ICU:-0}" = 1 ] && continue
		p=$(awk -v n="$name" '{ b = $0; sub(/.*\//, "", b) } index(b, n ".so") == 1 || index(b, n "-") == 1 { print; exit }' "$work/libs")
		[ -n "$p" ] && stubs="$stubs $p"
	done
fi
# a stub serves only the libraries its //@ for names: if another kept
# library links LIB, the real one stays
changed=1
while [ $changed = 1 ]; do
	changed=0
	kept=$(kept_libs "$stubs")
	for s in $stubs; do
		spec=$(spec_of "$s")
		if grep -qxF "$s" "$work/dlopen-libs"; then
			log "keeping the real $s: loopbreaker dlopen()s it"
			echo "real $s (dlopen()ed by loopbreaker)" >> "$work/sources.libs"
			stubs=$(echo " $stubs " | sed "s| $s | |"); changed=1; continue
		fi
		for o in $kept $bins; do
			case " $stubs " in *" $o "*) continue ;; esac
			if grep -qxF "$(basename "$s")" <<< "$(needed_of "$o")" &&
				! grep -qxF "$(basename "$o")" <<< "$(sed -n 's|^//@ for ||p' "$spec" | tr ' ' '\n')"; then
				log "keeping the real $s: $o links it too"
				echo "real $s (also linked by $o)" >> "$work/sources.libs"
				stubs=$(echo " $stubs " | sed "s| $s | |"); changed=1; break
			fi
		done
	done
done
while read -r l; do
	if ! grep -qxF "$l" <<< "$kept"; then
		echo "dropped $l (needed only by stub libraries' real versions)" >> "$work/sources.libs"
		continue
	fi
	mkdir -p "$ir$(dirname "$l")"
	case " $stubs " in *" $l "*)
		stub_lib "$l" "$(spec_of "$l")" $bins \
			$(grep -vxF -f <(printf '%s\n' $stubs) <<< "$kept")
		continue ;;
	esac
	cp -L "$l" "$ir$l"
	case "$l" in */ld-linux*) chmod 755 "$ir$l" ;; *) chmod 644 "$ir$l" ;; esac
	pkg=$( { dpkg -S "$l" || dpkg -S "$(realpath "$l")" || dpkg -S "/usr$l"; } 2>/dev/null | head -1 | cut -d: -f1 || true)
	[ -n "$pkg" ] && printf 'host-lib %s %s %s\n' "$l" "$pkg" \
		"$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null)" >> "$work/sources.libs"
done < "$work/libs"
# iconv modules: hivex converts registry strings (UTF-16LE) with iconv, and
# glibc has no built-in UTF-16; without them every hostname is null
gconv=/usr/lib/x86_64-linux-gnu/gconv
mkdir -p "$ir$gconv"
cp -a "$gconv/gconv-modules" "$ir$gconv/"
[ -d "$gconv/gconv-modules.d" ] && cp -a "$gconv/gconv-modules.d" "$ir$gconv/"
for g in UTF-16 UTF-32 UTF-7 UNICODE CP1252 ISO8859-1 IBM437 IBM850; do
	cp "$gconv/$g.so" "$ir$gconv/"
done
/usr/sbin/iconvconfig --nostdlib --prefix="$ir" -o "$ir$gconv/gconv-modules.cache" "$gconv" 2>/dev/null ||
	cp "$gconv/gconv-modules.cache" "$ir$gconv/"
# the dynamic loader at the path the ELF interpreter names
interp=$(readelf -l "$lb" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
[ -e "$ir$interp" ] || { mkdir -p "$ir$(dirname "$interp")"; cp -L "$interp" "$ir$interp"; }
/usr/sbin/chroot "$ir" /usr/bin/loopbreaker version > "$work/lbversion" 2>&1 ||
	die "loopbreaker does not run inside the initramfs: $(cat "$work/lbversion")"
[ "$(/usr/sbin/chroot "$ir" /bin/sh -c 'echo ok' 2>&1)" = ok ] ||
	die "busybox (/init's shell) does not run inside the initramfs: $(/usr/sbin/chroot "$ir" /bin/sh -c 'echo ok' 2>&1)"
# and what it dlopen()s (.note.dlopen, above) loads there with all its deps
# and every symbol bound (as ldd -r: a stub that lacks one would show here)
for l in $(cat "$work/dlopen-libs" 2>/dev/null); do
	LD_WARN=yes LD_BIND_NOW=yes /usr/sbin/chroot "$ir" "$interp" --list "$l" > "$work/dlopen-list" 2>&1 &&
		! grep -q 'not found\|undefined symbol' "$work/dlopen-list" ||
		die "$l (dlopen()ed by loopbreaker) does not load in the initramfs: $(cat "$work/dlopen-list")"
done

# kernel modules: the listed ones and their dependencies, as Debian ships them
km=$kroot/lib/modules/$kver
wanted=$(sed 's/#.*//' "$here/modules.txt" | tr -s ' \t' '\n' | grep -v '^$' | tr - _)
awk -v want="$wanted" '
	BEGIN { n = split(want, w, "\n"); for (i = 1; i <= n; i++) if (w[i] != "") need[w[i]] = 1 }
	{ sub(/:$/, "", $1); path = $1; name = path; sub(/.*\//, "", name); sub(/\.ko.*$/, "", name)
	  gsub(/-/, "_", name); deps[name] = ""; file[name] = path
	  for (i = 2; i <= NF; i++) { d = $i; sub(/.*\//, "", d); sub(/\.ko.*$/, "", d); gsub(/-/, "_", d); deps[name] = deps[name] " " d } }
	END {
		for (m in need) if (!(m in file)) { print "MISSING " m; bad = 1 }
		changed = 1
		while (changed) { changed = 0
			for (m in need) { k = split(deps[m], dd, " "); for (i = 1; i <= k; i++) if (!(dd[i] in need)) { need[dd[i]] = 1; changed = 1 } } }
		for (m in need) if (m in file) print file[m]
		exit bad }' "$km/modules.dep" > "$work/modlist" || die "unknown modules: $(grep MISSING "$work/modlist" | tr '\n' ' ')"
mkdir -p "$ir/lib/modules/$kver"
while read -r f; do
	mkdir -p "$ir/lib/modules/$kver/$(dirname "$f")"
	cp "$km/$f" "$ir/lib/modules/$kver/$f"
done < "$work/modlist"
# modules.order: only the modules the image has (Debian's lists all 4000+)
grep -xF -f "$work/modlist" "$km/modules.order" > "$ir/lib/modules/$kver/modules.order" || true
cp "$km/modules.builtin" "$km/modules.builtin.modinfo" "$ir/lib/modules/$kver/"
depmod -b "$ir" "$kver"
# busybox's modprobe reads only the text indexes (modules.dep, .alias,
# .symbols, .builtin): kmod's binary ones and depmod's input
# modules.builtin.modinfo are left out (52 KB compressed)
rm -f "$ir/lib/modules/$kver/"*.bin "$ir/lib/modules/$kver/modules.builtin.modinfo"
nmods=$(wc -l < "$work/modlist")
log "$nmods modules"

{
	echo "loopbreaker boot image"
	echo "loopbreaker: $(head -1 "$work/lbversion")"
	echo "kernel: $kernel_pkg $kver"
	echo "built: $(date -u -d "$stamp" +%Y-%m-%dT%H:%M:%SZ) (SOURCE_DATE_EPOCH)"
} > "$ir/etc/loopbreaker-release"

# reproducible cpio: fixed mtimes, root owner, sorted names
find "$ir" -exec touch -h -d "$stamp" {} +
(cd "$ir" && find . -mindepth 1 | sort | cpio --quiet -o -H newc -R 0:0 --reproducible) > "$work/initrd.cpio"
zstd -q -19 -T0 -f "$work/initrd.cpio" -o "$out/initrd.img"
# EFI stubs that load several initrd= files (iPXE on UEFI: initrd.img then
# site.cpio) join them unpadded, and the kernel looks for the next archive
# only at a 4-byte boundary (zero bytes between archives are skipped): pad
pad=$(( (4 - $(stat -c %s "$out/initrd.img") % 4) % 4 ))
[ "$pad" = 0 ] || head -c "$pad" /dev/zero >> "$out/initrd.img"
cp "$kroot/boot/vmlinuz-$kver" "$out/vmlinuz"
touch -d "$stamp" "$out/vmlinuz" "$out/initrd.img"

# ---------------------------------------------------------------- boot files
shim=$deb_shim_signed/usr/lib/shim/shimx64.efi.signed
grubefi=$deb_grub_efi_amd64_signed/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed
grubnet=$deb_grub_efi_amd64_signed/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed
sysl=$deb_syslinux_common/usr/lib/syslinux
isol=$deb_isolinux/usr/lib/ISOLINUX

# the folder for a stick (also the content of the .img and the ISO)
usb=$out/usb
rm -rf "$usb" && mkdir -p "$usb/EFI/BOOT" "$usb/boot" "$usb/loopbreaker"/{keys,playbooks,reports}
cp "$shim" "$usb/EFI/BOOT/BOOTX64.EFI"       # shim: signed by Microsoft
cp "$grubefi" "$usb/EFI/BOOT/grubx64.efi"    # shim loads grubx64.efi next to itself
cp "$here/grub.cfg" "$usb/EFI/BOOT/grub.cfg" # signed GRUB reads $cmdpath/grub.cfg
# Debian's signed GRUB has a built-in config that, when its prefix
# /EFI/debian does not exist, runs `search --file /.disk/info` first (and
# prints "error: no such device: /.disk/info." on every boot; a /.disk/info
# on some other disk would even be taken as root).  With the folder there it
# searches nothing and sources $cmdpath/grub.cfg (EFI/BOOT/grub.cfg).
mkdir -p "$usb/EFI/debian"
cp "$here/stick/efi-debian.txt" "$usb/EFI/debian/README.txt"
cp "$out/vmlinuz" "$out/initrd.img" "$usb/boot/"
mkdir -p "$usb/syslinux" && cp "$here/syslinux.cfg" "$usb/syslinux/syslinux.cfg"
cp "$here/stick/loopbreaker.stick" "$here/stick/config" "$usb/loopbreaker/"
cp "$here/stick/README.txt" "$usb/README.txt"
cp "$here/stick/keys.txt" "$usb/loopbreaker/keys/README.txt"
cp "$here/stick/playbooks.txt" "$usb/loopbreaker/playbooks/README.txt"
cp "$here/stick/reports.txt" "$usb/loopbreaker/reports/README.txt"
cp "$ir/etc/loopbreaker-release" "$usb/loopbreaker/VERSION.txt"
find "$usb" -exec touch -h -d "$stamp" {} +

# FAT serial (and MBR disk ID): one per stick content, so sticks of different
# builds are told apart (mkfs.fat --invariant alone gives every one
# 1234-ABCD), yet the same inputs still give the same image
case "${LB_FAT_SERIAL:-}" in
"") serial=$( (cd "$usb" && find . -type f | sort | xargs -d '\n' sha256sum; echo "$SOURCE_DATE_EPOCH") |
	sha256sum | cut -c1-8) ;;
random) serial=$(od -An -tx4 -N4 /dev/urandom | tr -d ' \n') ;;
*) serial=$LB_FAT_SERIAL ;;
esac
serial=$(echo "$serial" | tr A-F a-f)
[[ "$serial" =~ ^[0-9a-f]{8}$ ]] || die "LB_FAT_SERIAL: 8 hex digits or random, not '$serial'"
[ "$serial" != 1234abcd ] && [ "$serial" != 00000000 ] || serial=4c420001
efi_serial=$(printf '%08x' $(( (0x$serial + 1) & 0xffffffff )))
log "FAT serial ${serial:0:4}-${serial:4:4}"

# ---------------------------------------------------------------- USB image
# MBR, one FAT32 (LBA, 0x0c) partition from 1 MiB, active, SYSLINUX MBR code.
img=$out/loopbreaker-usb.img
part=$work/part.img
img_mib=${LB_IMG_MIB:-160}
part_sectors=$(( (img_mib - 1) * 2048 ))
rm -f "$part" "$img"
# --invariant first: it resets the serial to 1234ABCD, so -i must follow it
mkfs.fat -F 32 -n LOOPBREAKER --invariant -i "$serial" -C "$part" $((part_sectors / 2)) >/dev/null
export MTOOLS_SKIP_CHECK=1
(cd "$usb" && find . -mindepth 1 -type d | sort | sed 's|^\./||' | while read -r d; do mmd -i "$part" "::$d"; done)
(cd "$usb" && find . -type f | sort | sed 's|^\./||' | while read -r f; do mcopy -m -i "$part" "$f" "::$f"; done)
# BIOS: SYSLINUX boot sector + ldlinux.sys/ldlinux.c32 in /syslinux (mtools installer: no root)
"$deb_syslinux/usr/bin/syslinux" --install --directory /syslinux "$part"
# syslinux writes its code into the boot sector only, not into the FAT32
# backup boot sector (BPB_BkBootSec, offset 0x32): copy it there too, so the
# two agree (fsck.fat -n: "differences between boot sector and its backup")
bk=$(od -An -tu2 -j50 -N2 "$part" | tr -d ' ')
[ "$bk" -gt 0 ] && [ "$bk" -lt 32 ] || die "FAT32 backup boot sector at '$bk'?"
dd if="$part" of="$part" bs=512 count=1 seek="$bk" conv=notrunc status=none
if fsck.fat -n "$part" 2>&1 | grep -qi 'differ'; then
	die "the stick's FAT is not clean: $(fsck.fat -n "$part" 2>&1 | head -3)"
fi
truncate -s "${img_mib}M" "$img"
printf 'label: dos\nlabel-id: 0x%s\nunit: sectors\n\n2048,%s,c,*\n' "$serial" "$part_sectors" | sfdisk -q "$img"
dd if="$sysl/mbr/mbr.bin" of="$img" conv=notrunc bs=440 count=1 status=none
dd if="$part" of="$img" conv=notrunc,sparse bs=1M seek=1 status=none
rm -f "$part"
touch -d "$stamp" "$img"

# ---------------------------------------------------------------- hybrid ISO
# UEFI: El Torito EFI image (FAT, shim+grub+grub.cfg), GRUB then finds the
# ISO 9660 tree by its marker file.  BIOS: ISOLINUX (+ isohybrid MBR for dd).
iso=$out/loopbreaker.iso
isotree=$work/iso
mkdir -p "$isotree"
cp -a "$usb/." "$isotree/"
rm -rf "$isotree/syslinux"
mkdir -p "$isotree/isolinux"
cp "$isol/isolinux.bin" "$sysl/modules/bios/ldlinux.c32" "$isotree/isolinux/"
cp "$here/syslinux.cfg" "$isotree/isolinux/isolinux.cfg"
efi=$work/efiboot.img
mkfs.fat -n LB-EFI --invariant -i "$efi_serial" -C "$efi" 8192 >/dev/null
mmd -i "$efi" ::EFI ::EFI/BOOT ::EFI/debian
mcopy -m -i "$efi" "$usb/EFI/BOOT/BOOTX64.EFI" "$usb/EFI/BOOT/grubx64.efi" "$usb/EFI/BOOT/grub.cfg" ::EFI/BOOT/
mcopy -m -i "$efi" "$usb/EFI/debian/README.txt" ::EFI/debian/
cp "$efi" "$isotree/efiboot.img"
find "$isotree" -exec touch -h -d "$stamp" {} +
rm -f "$iso"
xorriso -as mkisofs -quiet -o "$iso" -V LOOPBREAKER -J -joliet-long -r \
	--modification-date="$(date -u -d "$stamp" +%Y%m%d%H%M%S00)" \
	-isohybrid-mbr "$isol/isohdpfx.bin" \
	-b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
	-eltorito-alt-boot -e efiboot.img -no-emul-boot -isohybrid-gpt-basdat \
	"$isotree" 2>&1 | grep -v '^$' >&2 || true
[ -s "$iso" ] || die "xorriso failed"
touch -d "$stamp" "$iso"

# ---------------------------------------------------------------- PXE
# TFTP root for UEFI (Secure Boot) clients: firmware loads bootx64.efi (shim),
# shim loads grubx64.efi from the same directory (here Debian's signed
# grubnetx64), which reads grub/grub.cfg from the TFTP server (its prefix is
# /grub).  boot.ipxe is for iPXE clients (HTTP/TFTP, no Secure Boot).
pxe=$out/pxe
rm -rf "$pxe" && mkdir -p "$pxe/grub" "$pxe/loopbreaker"
cp "$shim" "$pxe/bootx64.efi"
cp "$grubnet" "$pxe/grubx64.efi"
cp "$here/pxe/grub.cfg" "$pxe/grub/grub.cfg"
cp "$here/pxe/boot.ipxe" "$pxe/boot.ipxe"
# BIOS PXE clients: PXELINUX (+ its ldlinux.c32) and pxelinux.cfg/default
mkdir -p "$pxe/pxelinux.cfg"
cp "$deb_pxelinux/usr/lib/PXELINUX/pxelinux.0" "$sysl/modules/bios/ldlinux.c32" "$pxe/"
cp "$here/pxe/pxelinux.cfg" "$pxe/pxelinux.cfg/default"
cp "$out/vmlinuz" "$out/initrd.img" "$pxe/loopbreaker/"
find "$pxe" -exec touch -h -d "$stamp" {} +

# ---------------------------------------------------------------- manifest
{
	echo "# Debian packages (name version sha256-of-.deb)"
	cat "$work/sources"
	echo "# shared libraries copied from the build host (path package version)"
	cat "$work/sources.libs"
	echo "# $(head -1 "$work/lbversion")"
	echo "# SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
} > "$out/SOURCES.txt"
{
	printf 'vmlinuz %s\n' "$(stat -c %s "$out/vmlinuz")"
	printf 'initrd.img %s\n' "$(stat -c %s "$out/initrd.img")"
	printf 'initramfs-uncompressed %s\n' "$(stat -c %s "$work/initrd.cpio")"
	printf 'kernel+initrd %s\n' "$(( $(stat -c %s "$out/vmlinuz") + $(stat -c %s "$out/initrd.img") ))"
	printf 'modules %s\n' "$nmods"
	printf 'loopbreaker-usb.img %s\n' "$(stat -c %s "$img")"
	printf 'loopbreaker.iso %s\n' "$(stat -c %s "$iso")"
} > "$out/sizes.txt"
(cd "$out" && sha256sum vmlinuz initrd.img loopbreaker-usb.img loopbreaker.iso > SHA256SUMS)
[ "${LB_KEEP_WORK:-0}" = 1 ] || rm -rf "$work"
# the unpacked .debs (a few MB: the kernel's are in the work dir) speed up a
# rebuild; LB_KEEP_UNPACKED=0 drops them (the .debs themselves stay cached)
[ "${LB_KEEP_UNPACKED:-1}" = 1 ] || rm -rf "$cache/x"
log "done: $out"
sed 's/^/bootmedia:   /' "$out/sizes.txt" >&2
