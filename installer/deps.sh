#!/usr/bin/env bash
# installer/deps.sh — install mamori's build, test and benchmark dependencies
# from Debian 12 packages. Idempotent: when every package is present it only
# runs dpkg-query and returns (well under a second).
#
#   installer/deps.sh            what `make` and `make demo` need
#   installer/deps.sh --check    also the test peers of `make check` (clamd,
#                                PostgreSQL, USBGuard, Node.js + npm for the OpenAPI validator)
#   installer/deps.sh --bench    also what `make bench` compares against
#   installer/deps.sh --runtime  only what a terminal needs to run mamorid
#   installer/deps.sh --package  also what `make deb` needs (debhelper, lintian, Node.js for the dashboard)
#   installer/deps.sh --www      Node.js + npm and the npm packages the dashboard is built from
#   installer/deps.sh --fresh    also what `make fresh` needs (debootstrap)
set -euo pipefail

runtime=(libudev1 libusb-1.0-0 libblkid1 libssl3 libcurl4 libcjson1
         libsqlite3-0 libpq5 libevent-2.1-7 libevent-openssl-2.1-7
         zlib1g liblz4-1 liblzma5 libicu72 libcryptsetup12 nftables libxlsxwriter4 libsystemd0)
build=(gcc make pkg-config
       libudev-dev libusb-1.0-0-dev libblkid-dev libssl-dev
       libcurl4-openssl-dev libcjson-dev libsqlite3-dev libpq-dev
       libevent-dev libicu-dev libcmocka-dev libumockdev-dev umockdev
       zlib1g-dev liblz4-dev liblzma-dev libcryptsetup-dev libxlsxwriter-dev libsystemd-dev
       openssl curl ca-certificates jq)
# usbguard: the oracle of tests/integration/usbguard_diff.sh (issue 12); its
# packaged service is kept from starting (policy-rc.d below). wpasupplicant
# and netplan.io: the Wi-Fi oracles of groundtruth_wifi.sh (issue 21, NET-2)
check=(clang clang-format libclang-rt-14-dev sqlite3
       cryptsetup-bin e2fsprogs util-linux fdisk dconf-cli libglib2.0-bin
       clamav-daemon clamav postgresql nodejs usbguard faketime liburing-dev
       debootstrap iproute2 lz4 xz-utils patch nftables
       wpasupplicant netplan.io
       chromium fonts-noto-cjk python3-openpyxl python3-prometheus-client
       libseccomp-dev udev dbus-daemon strace)
# strace: the judge of tests/integration/gate_spool_sync.sh (which thread of
# mamorid calls fdatasync, issue 23.4).
# chromium: Debian's browser that tests/integration/dashboard.sh drives with
# playwright-core (npm), never a downloaded one; fonts-noto-cjk for its
# Japanese screenshots. libseccomp-dev: tests/integration/unitexec.c applies
# the unit's SystemCallFilter= (issue 11.2). udev: udevadm test judges the
# shipped rules file (installer/99-mamori-media.rules) on a umockdev testbed's
# sysfs in a private mount namespace (tests/integration/media_hidden.sh); its
# daemon is kept from starting like the services above.
# python3-prometheus-client: its parser reads dashboard.sh's /metrics (issue 15.5)
# haproxy: the TCP load balancer in front of several mamori-server instances
# (make bench-scale, issue 18; mutual TLS still ends at mamori-server)
bench=(nginx wrk haproxy)
package=(build-essential debhelper dpkg-dev fakeroot lintian man-db groff-base nodejs)
web=(nodejs)
fresh=(debootstrap debian-archive-keyring)

want=("${build[@]}")
case "${1:-}" in
  --runtime) want=("${runtime[@]}") ;;
  --check)   want+=("${check[@]}") ;;
  --bench)   want+=("${check[@]}" "${bench[@]}") ;;
  --package) want+=("${package[@]}") ;;
  --www)     want+=("${web[@]}") ;;
  --fresh)   want+=("${package[@]}" "${fresh[@]}") ;;
  "") ;;
  *) echo "usage: $0 [--check|--bench|--runtime|--package|--fresh|--www]" >&2; exit 2 ;;
esac
# Debian 12's nodejs has no npm (a separate package); a Node.js that bundles
# npm (NodeSource's) must not get Debian's npm on top of it.
npm_modes=" --check --bench --package --www "
if [[ $npm_modes == *" ${1:-none} "* ]] && ! command -v npm >/dev/null; then
  want+=(npm)
fi

missing=()
for p in "${want[@]}"; do
  s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $s == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps.sh: missing packages: ${missing[*]} (run as root to install)" >&2
    exit 1
  fi
  echo "deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # several builds at once (worktrees, CI) wait for each other, not fail
  exec 9>/var/lock/mamori-deps.lock && flock 9
  apt-get update -qq
  # clamav-daemon/freshclam, postgresql and usbguard would start their
  # packaged services (usbguard would decide this machine's real USB
  # devices); the tests start their own instances, so keep those from starting.
  rcd=/usr/sbin/policy-rc.d
  if [[ ! -e $rcd ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$rcd"; chmod +x "$rcd"
    trap 'rm -f "$rcd"' EXIT
  fi
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
fi

# Build tools from npm (not shipped): the OpenAPI validator of `make check`,
# the response validator (tests/contract: ajv, ajv-formats, js-yaml), the
# dashboard's bundler and libraries (esbuild, Preact, Chart.js), and
# playwright-core + axe-core for its browser test, pinned by package-lock.json,
# into ./node_modules (gitignored).
if [[ $npm_modes == *" ${1:-none} "* ]]; then
  root=$(cd "$(dirname "$0")/.." && pwd)
  if [[ ! -f $root/node_modules/@apidevtools/swagger-cli/bin/swagger-cli.js ||
        ! -f $root/node_modules/ajv-formats/package.json || ! -f $root/node_modules/js-yaml/package.json ||
        ! -x $root/node_modules/.bin/esbuild ||
        $root/package-lock.json -nt $root/node_modules/.package-lock.json ]]; then
    command -v npm >/dev/null || { echo "deps.sh: npm is missing (nodejs)" >&2; exit 1; }
    echo "deps.sh: npm ci (OpenAPI validator, dashboard build and browser test)"
    (cd "$root" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
  fi
fi
