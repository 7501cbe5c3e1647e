#!/usr/bin/env bash
# login-cost.sh: what one login costs in CPU, split between the service,
# its hash worker and PostgreSQL, and the hash worker's peak memory.
#
#   scripts/login-cost.sh [SECONDS] [CONNECTIONS] [ENV=VALUE ...]
#   scripts/login-cost.sh 10 16 HASH_MEMORY_KIB=1024 HASH_ITERATIONS=1   # a nearly free hash
#
# Builds the service, runs it on a throwaway PostgreSQL database
# (PGHOST/PGPORT/PGUSER, default 127.0.0.1:5432 postgres), creates 32 ADMIN
# accounts, loads POST /login/ with wrk for SECONDS (default 10) at
# CONNECTIONS (default 16), and prints logins/s and CPU milliseconds per
# login of each side, and how many times each slept and woke per login
# (from /proc; Linux). Needs wrk and psql.
set -euo pipefail
secs=${1:-10}
conns=${2:-16}
shift $(( $# > 2 ? 2 : $# )) || true

cd "$(dirname "$0")/.."
work=$(mktemp -d)
db="logincost_$$"
pg="postgres://${PGUSER:-postgres}@${PGHOST:-127.0.0.1}:${PGPORT:-5432}"
port=$(( 20000 + RANDOM % 20000 ))
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/usersvc" ./cmd/usersvc
psql "$pg/postgres" -qc "CREATE DATABASE $db" >/dev/null
export DATABASE_URL="$pg/$db?sslmode=disable" APP_ENV=development RATE_LIMITS=off LOG_LEVEL=warn \
	JWT_SECRET="$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=' | head -c 48)" \
	HTTP_ADDR="127.0.0.1:$port" PUBLIC_BASE_URL="http://127.0.0.1:$port"
for kv in "$@"; do export "${kv?}"; done
password='Str0ng-Passw0rd-For-Load!'
(
	cd "$work"
	./usersvc migrate up >/dev/null
	for k in $(seq 0 31); do
		./usersvc admin create --email "load-$k@example.com" --password "$password" >/dev/null
	done
	exec ./usersvc serve >"$work/serve.log" 2>&1
) &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.3; done

export LOGIN_PASSWORD="$password" # read by scripts/login.lua

svc=$pid # the subshell became the service (exec)
worker=$(pgrep -P "$svc" || true)
# ticks (user+system) of a process
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# pgsum F: F (ticks or switches) summed over every backend of our database
pgsum() {
	local t=0 p
	for p in $(pgrep -f "postgres: .* $db " || true); do t=$(( t + $("$1" "$p") )); done
	echo "$t"
}
# context switches (voluntary and not) of every thread of a process: each
# is a sleep and a wake-up, which on a virtual machine costs far more than
# the work between them
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s + 0}'; }
# idle ticks (idle + iowait) of the whole machine
idle() { awk '/^cpu / {print $5 + $6}' /proc/stat; }
wrk -t2 -c"$conns" -d2s -s scripts/login.lua "http://127.0.0.1:$port" >/dev/null # warm up
s0=$(ticks "$svc"); w0=$( [ -n "$worker" ] && ticks "$worker" || echo 0); p0=$(pgsum ticks); i0=$(idle)
c0=$(switches "$svc"); cw0=$( [ -n "$worker" ] && switches "$worker" || echo 0); cp0=$(pgsum switches)
rate=$(wrk -t2 -c"$conns" -d"${secs}s" -s scripts/login.lua "http://127.0.0.1:$port" | awk '/Requests\/sec/ {print $2}')
s1=$(ticks "$svc"); w1=$( [ -n "$worker" ] && ticks "$worker" || echo 0); p1=$(pgsum ticks); i1=$(idle)
c1=$(switches "$svc"); cw1=$( [ -n "$worker" ] && switches "$worker" || echo 0); cp1=$(pgsum switches)
hz=$(getconf CLK_TCK)
awk -v r="$rate" -v s="$secs" -v hz="$hz" -v ds=$((s1 - s0)) -v dw=$((w1 - w0)) -v dp=$((p1 - p0)) -v di=$((i1 - i0)) 'BEGIN {
	n = r * s
	printf "logins/s %.1f; CPU ms per login: service %.2f, hash worker %.2f, postgres %.2f; idle CPUs %.2f\n",
		r, ds * 1000 / hz / n, dw * 1000 / hz / n, dp * 1000 / hz / n, di / hz / s
}'
awk -v r="$rate" -v s="$secs" -v cs=$((c1 - c0)) -v cw=$((cw1 - cw0)) -v cp=$((cp1 - cp0)) 'BEGIN {
	n = r * s
	printf "context switches per login: service %.1f, hash worker %.1f, postgres %.1f\n", cs / n, cw / n, cp / n
}'
if [ -n "$worker" ]; then
	echo "hash worker peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$worker/status")"
fi
echo "service peak RSS: $(awk '/VmHWM/ {print $2, $3}' "/proc/$svc/status")"
