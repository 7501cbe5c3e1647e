#!/usr/bin/env bash
# Runs every fuzz target of the module for the given time each (default 3s).
# `make test` runs it briefly; `make fuzz FUZZTIME=2m` runs it longer.
set -euo pipefail
fuzztime="${1:-3s}"
cd "$(dirname "$0")/.."
for pkg in $(go list ./...); do
  for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "fuzz $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" > /tmp/usersvc-fuzz.log 2>&1 || {
      cat /tmp/usersvc-fuzz.log
      echo "fuzz target $target in $pkg failed; the failing input is under testdata/fuzz/$target"
      exit 1
    }
  done
done
