#!/usr/bin/env bash
# tests/fresh/enter.sh — run one command in the `make fresh` root (run by
# tests/fresh/run.sh as root, always inside `unshare --mount
# --propagation private`, so every mount made here or by the tests inside
# ends with the namespace and none reaches the machine).
#   unshare --mount --propagation private bash tests/fresh/enter.sh ROOT CMD...
# The root gets its own /proc, a read-only /sys (nothing inside may change the
# machine's USB authorization or other sysfs state), and a minimal /dev on a
# tmpfs made with mknod — never the machine's /dev bound in, so nothing that
# deletes inside the root can reach the machine's device nodes (TESTING.md,
# chroot hygiene). The loop nodes let the tests attach loop devices
# (losetup -f) as on a real machine; devpts and /dev/shm as on a real machine.
set -euo pipefail
root=$1
shift
[[ -d $root/etc && -x $root/bin/sh && $root != / ]] || { echo "enter.sh: $root is not a root" >&2; exit 2; }
# refuse to run outside a private mount namespace: the mounts below must die with it
if [[ $(readlink /proc/self/ns/mnt) == "$(readlink /proc/1/ns/mnt)" ]]; then
	echo "enter.sh: run me under unshare --mount --propagation private" >&2
	exit 2
fi
mount --make-rprivate /
# the root a mount point of its own, as / is on a real machine: tests that
# make their own mount namespace (unshare --mount, which makes / private)
# fail with EINVAL on a chroot directory that is not one
mount --bind "$root" "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t tmpfs -o mode=0755,nosuid,size=16m mamori-fresh-dev "$root/dev"
d=$root/dev
mknod -m 0666 "$d/null" c 1 3
mknod -m 0666 "$d/zero" c 1 5
mknod -m 0666 "$d/full" c 1 7
mknod -m 0666 "$d/random" c 1 8
mknod -m 0666 "$d/urandom" c 1 9
mknod -m 0666 "$d/tty" c 5 0
mknod -m 0660 "$d/loop-control" c 10 237
for i in $(seq 0 255); do mknod -m 0660 "$d/loop$i" b 7 "$i"; done
mkdir -m 0755 "$d/pts"
mkdir -m 1777 "$d/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$d/pts"
ln -s pts/ptmx "$d/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev shm "$d/shm"
ln -s /proc/self/fd "$d/fd"
ln -s /proc/self/fd/0 "$d/stdin"
ln -s /proc/self/fd/1 "$d/stdout"
ln -s /proc/self/fd/2 "$d/stderr"
mount -t tmpfs -o mode=0755,nosuid,nodev run "$root/run"
mkdir -p "$root/run/lock"
chmod 1777 "$root/run/lock"
# the machine's network settings (proxy, a CA for TLS interception), when
# it has them, so that apt and npm reach their registries as they do here
pass=()
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
	[[ -n ${!v:-} ]] && pass+=("$v=${!v}")
done
[[ -n ${NODE_EXTRA_CA_CERTS:-} ]] && pass+=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
exec chroot "$root" /usr/bin/env -i \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive "${pass[@]}" "$@"
