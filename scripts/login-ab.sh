#!/usr/bin/env bash
# login-ab.sh: is build B faster at logins than build A? On a shared
# machine whose speed drifts by the minute, two phases measured minutes
# apart cannot tell a 5 % change from noise. This runs both at once, each
# on its own throwaway PostgreSQL database with 32 ADMIN accounts, and
# loads them in turn, 5 s each (the order alternating), so every pair of
# figures is taken seconds apart; it prints each pair's B/A and their
# median. A rate moves with what other tenants do; the CPU one login costs
# (the service, its hash worker and its PostgreSQL backends, from /proc)
# moves less, so each pair's CPU B/A and its median are printed too
# (PostgreSQL's share only when it runs on this machine).
#
#   scripts/login-ab.sh A B [ROUNDS] [CONNECTIONS]
#
# A and B are git revisions of this repository (built from a temporary
# worktree) or paths to built binaries. A may also be argon2id: the raw
# rate of argon2id verifications with the service's parameters (HASH_*,
# default 19456/2/1), one goroutine per CPU (scripts/hashrate), which the
# perf harness compares logins with; B/A is then that ratio
# (scripts/login-ab.sh argon2id HEAD). Per side environment goes in
# A_ENV and B_ENV, space separated (A_ENV="HASH_PRIORITY=normal"), so one
# binary can be compared with itself under two settings. ROUNDS defaults
# to 10, CONNECTIONS to 16. AB_LOAD=me compares GET /users/me instead (one
# account's bearer token; CONNECTIONS then defaults to 64, as the perf
# harness reads). Needs wrk, psql and curl (PGHOST, PGPORT,
# PGUSER; default 127.0.0.1:5432 postgres).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,/^set /{/^set /!p}' "$0"; exit 2; }
what=${AB_LOAD:-login}
case $what in
login) unit=logins default_conns=16 ;;
me) unit=reads default_conns=64 ;;
*) echo "AB_LOAD must be login or me, got $what" >&2; exit 2 ;;
esac
a=$1 b=$2 rounds=${3:-10} conns=${4:-$default_conns}
[ "$a" != argon2id ] || [ "$what" = login ] || { echo "argon2id compares logins only" >&2; exit 2; }

cd "$(dirname "$0")/.."
work=$(mktemp -d)
pg="postgres://${PGUSER:-postgres}@${PGHOST:-127.0.0.1}:${PGPORT:-5432}"
pids=()
cleanup() {
	for p in "${pids[@]}"; do [ -z "$p" ] || kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	for s in a b; do psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS loginab_${s}_$$" >/dev/null 2>&1 || true; done
	git worktree prune 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# build SIDE REV-OR-PATH: the binary at $work/SIDE/usersvc
build() {
	mkdir -p "$work/$1"
	if [ -x "$2" ] && [ -f "$2" ]; then
		cp "$2" "$work/$1/usersvc"
		return
	fi
	git worktree add -q --detach "$work/src-$1" "$2"
	(cd "$work/src-$1" && go build -o "$work/$1/usersvc" ./cmd/usersvc)
	git worktree remove --force "$work/src-$1"
}
raw=""
if [ "$a" = argon2id ]; then
	raw=1
	go build -o "$work/hashrate" ./scripts/hashrate
else
	build a "$a"
fi
build b "$b"

password='Str0ng-Passw0rd-For-Load!'
# start SIDE PORT ENV: migrate, create the accounts and serve in the background
start() {
	local side=$1 port=$2 extra=$3 db="loginab_${1}_$$"
	psql "$pg/postgres" -qc "CREATE DATABASE $db" >/dev/null
	(
		cd "$work/$side"
		export DATABASE_URL="$pg/$db?sslmode=disable" APP_ENV=development RATE_LIMITS=off LOG_LEVEL=warn \
			JWT_SECRET="$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=' | head -c 48)" \
			HTTP_ADDR="127.0.0.1:$port" PUBLIC_BASE_URL="http://127.0.0.1:$port" ACCESS_TOKEN_TTL=2h
		for kv in $extra; do export "${kv?}"; done
		./usersvc migrate up >/dev/null
		for k in $(seq 0 31); do
			./usersvc admin create --email "load-$k@example.com" --password "$password" >/dev/null 2>&1
		done
		exec ./usersvc serve >serve.log 2>&1
	) &
	pids+=($!)
}
pa=$(( 20000 + RANDOM % 20000 ))
pb=$(( pa + 1 ))
if [ -n "$raw" ]; then pids+=(""); else start a "$pa" "${A_ENV:-}"; fi
start b "$pb" "${B_ENV:-}"
for port in $([ -n "$raw" ] || echo "$pa") "$pb"; do
	for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.3; done
	curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { echo "the service on port $port did not start" >&2; exit 1; }
done

export LOGIN_PASSWORD="$password" # read by scripts/login.lua
# token PORT: an access token of load-0 on the service at PORT
token() {
	curl -sf --data-urlencode "username=load-0@example.com" --data-urlencode "password=$password" \
		"http://127.0.0.1:$1/login/" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}
tokens=("" "")
if [ "$what" = me ]; then
	tokens=("$(token "$pa")" "$(token "$pb")")
	[ -n "${tokens[0]}" ] && [ -n "${tokens[1]}" ] || { echo "could not log in to read /users/me" >&2; exit 1; }
fi
# ticks SIDE: CPU ticks (user+system) of a side's service, its hash worker
# and the PostgreSQL backends of its database
ticks() {
	local side=$1 pid t=0 p
	pid=${pids[$([ "$side" = a ] && echo 0 || echo 1)]}
	for p in "$pid" $(pgrep -P "$pid" || true) $(pgrep -f "postgres: .* loginab_${side}_$$ " || true); do
		t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0) ))
	done
	echo "$t"
}
# load SIDE PORT SECONDS: "requests/s CPU-ms-per-request"; a run with any
# non-2xx answer fails the comparison
load() {
	local out t0 t1
	if [ "$1" = a ] && [ -n "$raw" ]; then
		"$work/hashrate" -m "${HASH_MEMORY_KIB:-19456}" -t "${HASH_ITERATIONS:-2}" -p "${HASH_PARALLELISM:-1}" \
			-workers "$(getconf _NPROCESSORS_ONLN)" -dur "$3s"
		return
	fi
	t0=$(ticks "$1")
	if [ "$what" = me ]; then
		out=$(wrk -t2 -c"$conns" -d"$3s" -H "Authorization: Bearer ${tokens[$([ "$1" = a ] && echo 0 || echo 1)]}" \
			"http://127.0.0.1:$2/users/me")
	else
		out=$(wrk -t2 -c"$conns" -d"$3s" -s scripts/login.lua "http://127.0.0.1:$2")
	fi
	t1=$(ticks "$1")
	if grep -q "Non-2xx" <<<"$out"; then
		echo "port $2 answered non-2xx:" >&2
		echo "$out" >&2
		exit 1
	fi
	awk -v s="$3" -v dt=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
		'/Requests\/sec/ {printf "%s %.3f\n", $2, ($2 > 0 ? dt * 1000 / hz / ($2 * s) : 0)}' <<<"$out"
}
load a "$pa" 2 >/dev/null
load b "$pb" 2 >/dev/null

ratios=() costs=()
for r in $(seq "$rounds"); do
	if (( r % 2 )); then x=$(load a "$pa" 5); y=$(load b "$pb" 5); else y=$(load b "$pb" 5); x=$(load a "$pa" 5); fi
	read -r xr xc <<<"$x"
	read -r yr yc <<<"$y"
	q=$(awk -v x="$xr" -v y="$yr" 'BEGIN {printf "%.3f", (x > 0 ? y / x : 0)}')
	c=$(awk -v x="$xc" -v y="$yc" 'BEGIN {printf "%.3f", (x > 0 ? y / x : 0)}')
	ratios+=("$q") costs+=("$c")
	echo "round $r: A $xr $unit/s $xc CPU ms each, B $yr $unit/s $yc CPU ms each; B/A rate $q, CPU $c"
done
median() {
	sort -n | awk -v what="$1" '{v[NR] = $1} END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "median B/A %s over %d rounds: %.3f (lowest %.3f, highest %.3f)\n", what, NR, m, v[1], v[NR]
	}'
}
printf '%s\n' "${ratios[@]}" | median "$unit/s"
printf '%s\n' "${costs[@]}" | median "CPU per request"

