#!/usr/bin/env bash
# tests/layout.sh — the tree's shape is checked, not only described (issue 19).
# Every `#include "…"` of the product's sources is resolved the way the
# compiler does (the including file's folder, then the Makefile's -I list) to
# the folder that holds it. The folder graph must have no cycle (tsort), and
# each folder may include only the folders its row below allows: modules see
# the module SDK, the protocol, policy and common, never the processes that
# run them; common knows nothing of mamori.
set -euo pipefail
cd "$(dirname "$0")/.."
inc_dirs=(common protocol policy agent/sdk agent/gate agent/worker agent/ctl agent/journal agent/net modules)
declare -A allow=(
	[common]=""
	[protocol]="common"
	[policy]="common protocol"
	[agent/sdk]="common protocol policy"
	[modules]="common protocol policy agent/sdk modules"
	[agent/journal]="common protocol"
	[agent/net]="common protocol policy agent/journal"
	[agent/gate]="common protocol policy agent/sdk modules"
	[agent/worker]="common protocol policy agent/sdk agent/journal agent/net modules"
	[agent/ctl]="common protocol policy agent/sdk agent/journal agent/net agent/worker modules"
	[server-api]="common protocol policy"
)
node() { # folder of a file → node name (every modules/X is "modules" for the rules)
	local d=$1
	case $d in modules/*) echo "$d" ;; *) echo "$d" ;; esac
}
rule_of() { case $1 in modules/*) echo modules ;; *) echo "$1" ;; esac; }
bad=0 edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
while IFS= read -r f; do
	from=$(dirname "$f")
	while IFS= read -r h; do
		to=""
		if [[ -e $from/$h ]]; then to=$(dirname "$(realpath --relative-to=. "$from/$h")")
		else
			for d in "${inc_dirs[@]}" server-api; do
				[[ -e $d/$h ]] && { to=$(dirname "$(realpath --relative-to=. "$d/$h")"); break; }
			done
		fi
		if [[ -z $to ]]; then echo "layout: $f includes \"$h\", which is no file of the tree" >&2; bad=1; continue; fi
		[[ $to == "$from" ]] && continue
		echo "$(node "$from") $(node "$to")" >> "$edges"
		r=$(rule_of "$from"); t=$(rule_of "$to")
		[[ -v allow[$r] ]] || { echo "layout: $f: folder $from has no row in tests/layout.sh" >&2; bad=1; continue; }
		if [[ " ${allow[$r]} " != *" $t "* ]]; then
			echo "layout: $f includes $to/$(basename "$h") — $r may include only: ${allow[$r]:-nothing of mamori}" >&2
			bad=1
		fi
	done < <(grep -oE '^#include "[^"]+"' "$f" | sed -E 's/^#include "(.*)"/\1/')
done < <(git ls-files 'common/*.[ch]' 'protocol/*.[ch]' 'policy/*.[ch]' 'agent/*.[ch]' 'modules/*.[ch]' 'server-api/*.[ch]')
sort -u "$edges" -o "$edges"
if ! tsort "$edges" >/dev/null 2>"$edges.err"; then
	echo "layout: include cycle between folders:" >&2; cat "$edges.err" >&2; bad=1
fi
rm -f "$edges.err"
((bad == 0)) && echo "layout: $(wc -l < "$edges") folder dependencies, no cycle, every one allowed"
exit $bad
