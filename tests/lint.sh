#!/usr/bin/env bash
# tests/lint.sh — house-style checks that CI enforces (STYLE.md):
#  - none of the unsafe C functions (strcpy, strcat, sprintf, vsprintf, strtok, atoi, atol, gets)
#  - no test names real sysfs paths (tests go through a testbed or the root prefix)
#  - the tree is clang-formatted
#  - the folders include each other only as tests/layout.sh allows, no cycle
set -uo pipefail
cd "$(dirname "$0")/.."
rc=0
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	files=$(git ls-files '*.c' '*.h'; git ls-files --others --exclude-standard '*.c' '*.h')
else # a tree without git metadata (git archive: make fresh, a release tarball)
	files=$(find . \( -path ./node_modules -o -path './build*' -o -path ./.git \) -prune -o \
		-type f \( -name '*.c' -o -name '*.h' \) -print | sed 's|^\./||')
fi
files=$(echo "$files" | sort -u | grep -v '^$')
bad=$(echo "$files" | xargs -r grep -HnE '\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gets)[[:space:]]*\(' | grep -vE '^\S+:[0-9]+:\s*(//|/?\*)')
if [[ -n $bad ]]; then echo "lint: unsafe functions (STYLE.md):"; echo "$bad"; rc=1; fi
sys=$(echo "$files" | grep '^tests/' | xargs -r grep -HnE '"/sys/bus/usb|"/sys/devices')
if [[ -n $sys ]]; then echo "lint: tests naming real sysfs paths:"; echo "$sys"; rc=1; fi
if command -v clang-format >/dev/null; then
	if ! echo "$files" | xargs -r clang-format --dry-run --Werror >/dev/null 2>&1; then
		echo "lint: not clang-formatted (run 'make format'):"
		echo "$files" | xargs -r clang-format --dry-run 2>&1 | grep -E '^[^ ]+:[0-9]+:[0-9]+: (error|warning)' | cut -d: -f1 | sort -u | head -20
		rc=1
	fi
fi
bash tests/layout.sh >/dev/null || rc=1
# the systemd units stay hardened (STYLE.md: scored with systemd-analyze security;
# README lists the figures): the agent at most 4.0, the server at most 2.5
if command -v systemd-analyze >/dev/null; then
	for u in installer/mamorid.service:40 installer/mamori-server.service:25; do
		if ! systemd-analyze security --offline=true --threshold="${u#*:}" --no-pager "${u%:*}" >/dev/null 2>&1; then
			echo "lint: ${u%:*} exposure above ${u#*:} (tenths):"
			systemd-analyze security --offline=true --no-pager "${u%:*}" 2>&1 | tail -1
			rc=1
		fi
	done
fi
((rc == 0)) && echo "lint: ok ($(echo "$files" | wc -l) files)"
exit $rc
