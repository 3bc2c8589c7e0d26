#!/usr/bin/env bash
# A bounded fuzzing campaign over every parser Skyrelay wrote: each Fuzz
# target of every package runs for FUZZTIME (first argument, default 30s),
# one after the other, and a table of executions and findings closes the run.
# A finding is written by Go under the package's testdata/fuzz/ (commit it:
# it becomes a regression test) and makes this script exit 1.
set -uo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-30s}"
log="$(mktemp -d)"
trap 'rm -rf "$log"' EXIT

printf '%-28s %-32s %12s %s\n' package target execs result > "$log/table"
failed=0
for pkg in $(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
		out="$log/$(echo "$pkg.$target" | tr '/' '_').log"
		echo "fuzz: $pkg $target for $fuzztime"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$out" 2>&1
		rc=$?
		execs=$(grep -o 'execs: [0-9]*' "$out" | tail -1 | grep -o '[0-9]*')
		result=ok
		if [ $rc -ne 0 ]; then
			result="FINDING: $(grep -m1 -E 'Failing input|panic|--- FAIL' "$out" | sed 's/^ *//')"
			failed=1
			tail -30 "$out"
		fi
		printf '%-28s %-32s %12s %s\n' "${pkg#./}" "$target" "${execs:-?}" "$result" >> "$log/table"
	done
done
echo
cat "$log/table"
exit $failed
