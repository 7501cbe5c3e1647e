#!/usr/bin/env bash
# Runs every fuzz target of the module for the given time (3s) or number of
# inputs (1000x) each. `make test` uses a count: a short time can run out
# while the fuzzer still replays its corpus, which Go reports as a failure.
# `make test` runs it briefly; `make fuzz FUZZTIME=2m` runs it longer.
set -euo pipefail
fuzztime="${1:-1000x}"
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "fuzz $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" > "$log" 2>&1 || {
      cat "$log"
      echo "fuzz target $target in $pkg failed; the failing input is under testdata/fuzz/$target"
      exit 1
    }
  done
done
