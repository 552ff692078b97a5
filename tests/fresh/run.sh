#!/usr/bin/env bash
# tests/fresh/run.sh — `make fresh`: mamori on a machine that has nothing yet.
# A minimal Debian 12 root (debootstrap --variant=minbase, the mirror of this
# machine's apt sources, the tarball cached in /var/cache/mamori-fresh/ —
# never in the repository) gets gcc, make and git only; the tree of the
# commit HEAD (git archive: uncommitted changes are NOT tested) is copied in;
# then, inside, at the first attempt: `make demo`, `make check`, `make deb`
# twice (the second with a higher version), and tests/fresh/packages.sh
# (install, README's agent deployment steps, mamorictl check, mamori-server
# once, upgrade, remove, purge). Prints a summary with the time of each step.
#
# Runs as root. Every step inside the root runs in a private mount namespace
# (tests/fresh/enter.sh: own /proc, read-only /sys, a mknod-made /dev on a
# tmpfs); before the root is removed, no mount may remain under it (findmnt),
# no process may run in it, no loop device may be backed by a file in it; it
# is removed with rm -rf --one-file-system. Kept on failure for inspection
# (MAMORI_FRESH_KEEP=1 keeps it always).
#   tests/fresh/run.sh            (make fresh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
cache=/var/cache/mamori-fresh
suite=bookworm
tarball=$cache/$suite-minbase.tgz

[[ $(id -u) -eq 0 ]] || { echo "fresh: run as root (debootstrap, chroot, loop devices)" >&2; exit 1; }
for t in debootstrap unshare chroot findmnt losetup git; do
	command -v "$t" >/dev/null || { echo "fresh: $t is missing (installer/deps.sh --fresh)" >&2; exit 1; }
done

# The Debian mirror of this machine: the first URI serving suite $1 in
# /etc/apt/sources.list (one-line format) or sources.list.d/*.sources (deb822);
# comments are not sources.
mirror_of_this_machine() {
	local f suite=$1
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $f ]] || continue
		awk -v s="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
			if ($(i + 1) == s) { print $i; exit } }' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" }
			{ u = ""; ok = 0; for (i = 1; i <= NF; i++) {
				if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); split($i, a, /[ \t]+/); u = a[1] }
				if ($i ~ /^Suites:/) { n = split($i, b, /[ \t]+/); for (j = 2; j <= n; j++) if (b[j] == s) ok = 1 } }
			  if (ok && u != "") { print u; exit } }' "$f"
	done
}
mirror=$(mirror_of_this_machine "$suite" | head -n 1)
[[ -n $mirror ]] || { echo "fresh: no $suite mirror in /etc/apt/sources.list*" >&2; exit 1; }
security=$(mirror_of_this_machine "$suite-security" | head -n 1)

work=$(mktemp -d /var/tmp/mamori-fresh.XXXXXX)
root=$work/root
logs=$work/logs
mkdir -p "$root" "$logs"
declare -a summary=()
t_start=$SECONDS
ok=0

# ---- hygiene: nothing of the root may outlive this script -------------------
procs_in_root() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		[[ $r == "$root" || $r == "$root"/* ]] && echo "${p#/proc/}"
	done
	return 0
}
loops_in_root() {
	losetup -n -l -O NAME,BACK-FILE 2>/dev/null | awk -v r="$root/" 'index($2, r) == 1 { print $1 }'
}
tidy() { # after every step: stragglers and loop devices of the root
	local p l
	for p in $(procs_in_root); do kill -TERM "$p" 2>/dev/null || true; done
	sleep 0.5
	for p in $(procs_in_root); do kill -KILL "$p" 2>/dev/null || true; done
	for l in $(loops_in_root); do losetup -d "$l" || true; done
}
cleanup() {
	local rc=$?
	tidy
	# the mounts lived in private namespaces; check that none is visible here
	if [[ -n $(findmnt -R -n -o TARGET "$root" 2>/dev/null; awk -v r="$root/" 'index($5, r) == 1' /proc/self/mountinfo) ]]; then
		echo "fresh: mounts remain under $root — NOT removing it:" >&2
		awk -v r="$root/" 'index($5, r) == 1 { print "  " $5 }' /proc/self/mountinfo >&2
		return
	fi
	if [[ $rc -ne 0 || ${MAMORI_FRESH_KEEP:-0} == 1 ]]; then
		echo "fresh: root kept for inspection: $root (remove with: rm -rf --one-file-system $work)"
	else
		rm -rf --one-file-system "$root"
		echo "fresh: logs in $logs"
	fi
}
trap cleanup EXIT

logname() { printf '%s' "$1" | tr -c 'A-Za-z0-9' '_' | cut -c1-40; }
step() { # name cmd... — timed, logged, the tail shown on failure
	local name=$1 t0=$SECONDS rc=0 log
	shift
	log=$logs/$(logname "$name").log
	printf '%-58s' "fresh: $name"
	"$@" >"$log" 2>&1 || rc=$?
	tidy
	local dt=$((SECONDS - t0))
	if ((rc == 0)); then
		printf ' ok   %4ds\n' "$dt"
		summary+=("$(printf 'ok   %-52s %5ds' "$name" "$dt")")
		ok=$((ok + 1))
	else
		printf ' FAIL %4ds (exit %d)\n' "$dt" "$rc"
		summary+=("$(printf 'FAIL %-52s %5ds' "$name" "$dt")")
		tail -n 80 "$log" | sed 's/^/    | /'
		print_summary
		exit 1
	fi
}
inroot() { unshare --mount --propagation private bash "$here/enter.sh" "$root" "$@"; }
print_summary() {
	echo
	echo "==== make fresh: summary ($(date -u +%FT%TZ), $(nproc) cores) ===="
	printf '%s\n' "${summary[@]}"
	echo "tested: commit ${commit:0:12} (git archive of HEAD at the start; uncommitted changes are not tested)"
	echo "total: $((SECONDS - t_start)) s; demo+check+packages: $((t_inside)) s (budget 1800 s)"
}
t_inside=0

echo "fresh: Debian $suite from $mirror; work directory $work"
# the commit archived, resolved once: HEAD may move while this runs (a commit
# in the checkout), and the summary names what was tested
commit=$(git -C "$src" rev-parse --verify HEAD^{commit})
echo "fresh: testing commit ${commit:0:12} — git archive HEAD: uncommitted changes are NOT tested"
if [[ -n $(git -C "$src" status --porcelain --untracked-files=no) ]]; then
	echo "fresh: note: the working tree has uncommitted changes; they are not part of this run"
fi

# ---- the root ------------------------------------------------------------------
make_tarball() {
	mkdir -p "$cache"
	local tmp
	tmp=$(mktemp -d "$cache/mk.XXXXXX")
	debootstrap --variant=minbase --make-tarball="$tarball.tmp" "$suite" "$tmp" "$mirror"
	rm -rf --one-file-system "$tmp"
	mv "$tarball.tmp" "$tarball"
}
unpack_root() {
	debootstrap --variant=minbase --unpack-tarball="$tarball" "$suite" "$root" "$mirror"
	# apt sources as on this machine (main, updates, security), DNS as here
	{
		echo "deb $mirror $suite main"
		echo "deb $mirror $suite-updates main"
		[[ -n $security ]] && echo "deb $security $suite-security main"
	} > "$root/etc/apt/sources.list"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	# CAs this machine added locally (e.g. of a TLS-intercepting egress proxy):
	# without them nothing in the root reaches https (npm). The ca-certificates
	# package, when make installs it, adds them to the root's store.
	if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
		mkdir -p "$root/usr/local/share/ca-certificates"
		cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
	fi
	# the operator's "Y" to apt's question when README's `apt install` pulls dependencies
	echo 'APT::Get::Assume-Yes "true";' > "$root/etc/apt/apt.conf.d/90mamori-fresh"
}
if [[ ! -s $tarball ]]; then
	step "debootstrap tarball (cached in $cache)" make_tarball
else
	summary+=("$(printf 'ok   %-52s %5s' "debootstrap tarball: cached $(basename "$tarball")" "-")")
fi
step "debootstrap --unpack-tarball (minbase)" unpack_root
step "apt-get install gcc make git (only these)" inroot sh -c \
	'apt-get update -q && apt-get install -y -q --no-install-recommends gcc make git'
copy_tree() {
	mkdir -p "$root/src"
	git -C "$src" archive --format=tar "$commit" | tar -C "$root/src" -xf -
}
step "git archive HEAD into /src" copy_tree

# ---- inside, at the first attempt ------------------------------------------------
t0=$SECONDS
step "make demo" inroot sh -c 'cd /src && make demo'
step "make check" inroot sh -c 'cd /src && make check'
step "make deb (version 1)" inroot sh -c 'cd /src && make deb'
step "make deb DEB_REVISION=2 (the upgrade)" inroot sh -c 'cd /src && make deb DEB_REVISION=2 DEB_OUT=build/deb2'
step "packages: install, README, check, server, upgrade, remove, purge" \
	inroot sh -c 'cd /src && bash tests/fresh/packages.sh build/deb build/deb2'
t_inside=$((SECONDS - t0))

print_summary
echo "make check: $(grep -hE '^[0-9]+ passed, [0-9]+ failed' "$logs"/make_check*.log | tail -n 1)"
grep -h '^deb.sh: lintian' "$logs"/make_deb*.log | sed 's/^deb.sh: /  /'
echo "packages: $(grep -h '^packages:' "$logs"/packages*.log)"
grep -h '^ok   ' "$logs"/packages*.log | sed 's/^/  /'
((t_inside <= 1800)) || echo "fresh: WARNING: demo+check+packages took $t_inside s, over the 30-minute budget"
