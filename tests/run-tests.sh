#!/usr/bin/env bash
# tests/run-tests.sh — run unit tests (cmocka), integration tests (shell or
# C programs under tests/integration/) and the fuzz seed corpora
# (tests/fuzz/seeds/, replayed) against the build in $MAMORI_BUILD.
#   tests/run-tests.sh [unit|integration|fuzz] [NAME-FILTER]
# A sanitizer report aborts the test (halt_on_error) and fails the run.
# Prints "N passed, N failed" at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
export MAMORI_BUILD=${MAMORI_BUILD:-build-san}
export MAMORI_SRC=$PWD
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
what=${1:-all}
filter=${2:-}
pass=0 fail=0 failed=()
logdir=$(mktemp -d /tmp/mamori-tests.XXXXXX)
export MAMORI_TEST_LOGDIR=$logdir # a failed e2e test keeps its files there (e2e_lib.bash)

run() { # name cmd...
	local name=$1; shift
	[[ -n $filter && $name != *"$filter"* ]] && return
	local t0=$SECONDS
	local log="$logdir/${name//\//_}.log"
	if "$@" >"$log" 2>&1; then
		pass=$((pass + 1)); printf 'PASS  %-40s %3ss\n' "$name" $((SECONDS - t0))
		grep -E "^\[  (PASSED|FAILED|SKIPPED) \]" "$log" | sed 's/^/      /'
	else
		fail=$((fail + 1)); failed+=("$name")
		printf 'FAIL  %-40s %3ss\n' "$name" $((SECONDS - t0))
		tail -n 60 "$log" | sed 's/^/    | /'
	fi
}

if [[ $what == all || $what == unit ]]; then
	for t in "$MAMORI_BUILD"/tests/test_*; do
		[[ -x $t ]] || continue
		run "unit/$(basename "$t")" "$t"
	done
fi
if [[ $what == all || $what == integration ]]; then
	# the server tests record every response they get (e2e_lib.bash) ...
	export MAMORI_API_RECORD_DIR=$logdir/api-records
	mkdir -p "$MAMORI_API_RECORD_DIR"
	for t in tests/integration/*.sh; do
		[[ -f $t ]] || continue
		run "integration/$(basename "$t" .sh)" bash "$t"
	done
	# ... and each must be what server-api/openapi.yaml declares (issue 17.12)
	if [[ -z $filter ]] || compgen -G "$MAMORI_API_RECORD_DIR/*.jsonl" >/dev/null; then
		filter='' run "contract/openapi-responses" node tests/contract/validate-responses.js "$MAMORI_API_RECORD_DIR"
	fi
	unset MAMORI_API_RECORD_DIR
fi
# Every libFuzzer harness's seed corpus, replayed under ASan+UBSan
# (tests/fuzz/replay.c): a harness without seeds fails.
if [[ $what == all || $what == fuzz ]]; then
	for f in tests/fuzz/fuzz_*.c; do
		[[ -f $f ]] || continue
		n=$(basename "$f" .c)
		run "fuzz-replay/$n" "$MAMORI_BUILD/fuzz-replay/$n" "tests/fuzz/seeds/$n"
	done
fi
echo
echo "logs: $logdir"
# a CI log keeps only its end: say again there what failed and where
for name in "${failed[@]}"; do
	echo "---- $name: the failing lines (whole log: $logdir/${name//\//_}.log)"
	grep -n -E '^      (got|want|kept): |\[  FAILED  \]|\[  ERROR   \]|[Ff]ailure|FAIL|ERROR: |error: |Sanitizer|runtime error|Assert|timed out' \
		"$logdir/${name//\//_}.log" | tail -n 25 | sed 's/^/    | /' | grep . ||
		tail -n 10 "$logdir/${name//\//_}.log" | sed 's/^/    | /'
done
((fail)) && printf 'failed: %s\n' "${failed[*]}"
echo "$pass passed, $fail failed"
((fail == 0))
