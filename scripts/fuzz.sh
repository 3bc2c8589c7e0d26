#!/usr/bin/env bash
# A fuzzing campaign over every parser Skyrelay wrote: each Fuzz target of
# every package runs for FUZZTIME, one after the other, and a table of
# executions and findings closes the run.
#
#   scripts/fuzz.sh [FUZZTIME] [FILTER]
#
# FUZZTIME is go test's -fuzztime: a duration (30s, the default) or an
# execution count (10000000x, the campaign's goal per target). FILTER, a
# regexp, picks targets by package or name ("ps|FuzzParse"). FUZZPARALLEL
# sets the workers (default: GOMAXPROCS); FUZZMINIMIZETIME how long Go may
# shrink each new interesting input (default 5s: Go's own 60 s, spent on
# every one of the hundreds a target finds early, left the workers busy
# without a counted execution for minutes).
#
# The corpus a run grows is kept in the repository: new inputs are copied
# from Go's cache into the package's testdata/fuzz/<Target>/, where `go
# test` replays them on every run and the next campaign starts from them.
# A finding is written there too by Go (commit it: it becomes a regression
# test) and makes this script exit 1.
set -uo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-30s}"
filter="${2:-.}"
parallel="${FUZZPARALLEL:+-parallel $FUZZPARALLEL}"
minimize="${FUZZMINIMIZETIME:-5s}"
module="$(go list -m)"
cache="$(go env GOCACHE)/fuzz"
log="$(mktemp -d)"
trap 'rm -rf "$log"' EXIT

printf '%-28s %-24s %12s %8s %6s %s\n' package target execs seconds corpus result > "$log/table"
failed=0
for pkg in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
		echo "${pkg#./} $target" | grep -Eq -- "$filter" || continue
		out="$log/$(echo "$pkg.$target" | tr '/' '_').log"
		echo "fuzz: ${pkg#./} $target for $fuzztime"
		start=$(date +%s)
		# shellcheck disable=SC2086
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" $parallel "$pkg" >"$out" 2>&1
		rc=$?
		secs=$(($(date +%s) - start))
		execs=$(grep -o 'execs: [0-9]*' "$out" | tail -1 | grep -o '[0-9]*')
		grown="$cache/$module/${pkg#./}/$target"
		kept="$pkg/testdata/fuzz/$target"
		if [ -d "$grown" ]; then
			mkdir -p "$kept"
			cp -n "$grown"/* "$kept"/ 2>/dev/null
		fi
		corpus=$(ls "$kept" 2>/dev/null | wc -l)
		result=ok
		if [ $rc -ne 0 ]; then
			result="FINDING: $(grep -m1 -E 'Failing input|panic|--- FAIL' "$out" | sed 's/^ *//')"
			failed=1
			tail -30 "$out"
		fi
		printf '%-28s %-24s %12s %8s %6s %s\n' "${pkg#./}" "$target" "${execs:-?}" "$secs" "$corpus" "$result" | tee -a "$log/table"
	done
done
echo
cat "$log/table"
exit $failed
