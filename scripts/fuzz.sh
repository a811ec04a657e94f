#!/usr/bin/env bash
# Runs every fuzz target in the workspace for a bounded time each
# (FUZZTIME, default 10s). A crasher fails the run and is left under the
# package's testdata/fuzz/ to be committed as a regression case.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-10s}
status=0
while read -r file target; do
	dir=$(dirname "$file")
	echo "fuzz: $dir $target ($FUZZTIME)"
	if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "./$dir" >/tmp/airlock-fuzz.log 2>&1; then
		cat /tmp/airlock-fuzz.log
		status=1
	fi
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
	grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed "s|^func |$f |"
done)
exit $status
