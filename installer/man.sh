#!/usr/bin/env bash
# installer/man.sh — render one bilingual man page source (docs/man/NAME.N)
# to one language. Lines after `.\"@en` are English, after `.\"@ja`
# Japanese, after `.\"@all` both; @VERSION@ becomes the version. The
# packages (installer/debian) and `make man` call it; no page is kept twice.
#   installer/man.sh SOURCE en|ja VERSION > OUT
set -euo pipefail
(($# == 3)) || { echo "usage: $0 SOURCE en|ja VERSION" >&2; exit 2; }
case $2 in en|ja) ;; *) echo "man.sh: language must be en or ja" >&2; exit 2 ;; esac
# an unknown marker is an error, never silently both languages
if bad=$(grep -n '^\.\\"@' "$1" | grep -Ev '^[0-9]+:\.\\"@(en|ja|all)$'); then
	echo "man.sh: $1: unknown marker: $bad" >&2
	exit 1
fi
awk -v want="$2" -v ver="$3" '
	/^\.\\"@(en|ja|all)$/ { mode = substr($0, 5); next }
	mode == "" || mode == "all" || mode == want { gsub(/@VERSION@/, ver); print }
' "$1"
