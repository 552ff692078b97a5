# tests/integration/events_doc.bash — docs/EVENTS.md is what is written
# (issue 13, item 6): events_doc_check JSONL compares every recorded event
# (mamorictl journal export --format jsonl) with the row of its type in the
# "Types and payloads" table: the type must be documented, its severity must
# be one the row names, and every top-level payload key must be named in the
# row's payload cell; the keys of the usb module's `device` object (usb.*
# records) must be named in the paragraph "The usb module's `device` object"
# (issue 12.6). Sourced by tests (not a test itself: run-tests.sh runs
# *.sh only). Prints one line per mismatch; returns the number of them.
events_doc_check() {
	local jsonl=$1 doc=${MAMORI_SRC:?}/docs/EVENTS.md bad=0 type sev keys row cell k
	while IFS=$'\t' read -r type sev keys; do
		row=$(grep -F "| \`$type\` |" "$doc" | head -n1)
		if [[ -z $row ]]; then
			echo "events_doc: $type is not documented in docs/EVENTS.md"
			bad=$((bad + 1)); continue
		fi
		# | type | severity | reqs | payload |
		cell=$(awk -F'|' '{print $3}' <<<"$row")
		if ! grep -qw -- "$sev" <<<"$cell"; then
			echo "events_doc: $type recorded with severity $sev, documented as$cell"
			bad=$((bad + 1))
		fi
		cell=$(awk -F'|' '{for (i = 5; i < NF; i++) printf "%s|", $i}' <<<"$row")
		for k in $keys; do
			if ! grep -qF -- "\`$k\`" <<<"$cell"; then
				echo "events_doc: $type payload key '$k' is not documented"
				bad=$((bad + 1))
			fi
		done
	done < <(jq -r '[.type, .severity, (.payload | keys | join(" "))] | @tsv' "$jsonl" | sort -u)
	# the device object: one paragraph of the doc names every key
	cell=$(awk '/^The usb module.s `device` object/,/^$/' "$doc")
	if [[ -z $cell ]]; then
		echo "events_doc: the paragraph \"The usb module's \`device\` object\" is missing"
		return $((bad + 1))
	fi
	while read -r k; do
		[[ -n $k ]] || continue
		if ! grep -qF -- "\`$k\`" <<<"$cell"; then
			echo "events_doc: the usb module's device key '$k' is not documented"
			bad=$((bad + 1))
		fi
	done < <(jq -r 'select((.type | startswith("usb.")) and (.payload.device | type) == "object")
	                | .payload.device | keys[]' "$jsonl" | sort -u)
	return "$bad"
}
