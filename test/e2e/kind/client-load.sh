#!/bin/sh
# Client load for test/e2e/kind/run.sh, run by the Job in client-load-job.yaml (POSIX sh: the redis
# image has no bash). MODE=write-read (default) writes KEYS keys through a Redis Cluster client
# (redis-cli -c follows MOVED redirects to the member that owns each key, printing a
# "-> Redirected" line for each, which is dropped here), then reads every one back; MODE=read only
# reads them (after a fault: no acknowledged write may be lost). Exits non-zero unless every write
# was acknowledged and every read returns what was written.
#   HOST=kv-e2e PORT=6379 KEYS=2000 MODE=write-read sh client-load.sh
set -eu
host="${HOST:?HOST: the KVCluster client Service}"
port="${PORT:-6379}"
keys="${KEYS:-2000}"
mode="${MODE:-write-read}"
work="${TMPDIR:-/tmp}"

# Runs the commands on stdin through one redis-cli; its replies, one a line, on stdout.
redis() {
  redis-cli -c -h "$host" -p "$port" | grep -v '^-> Redirected' || true
}

acknowledged="$keys"
if [ "$mode" = write-read ]; then
  i=0
  while [ "$i" -lt "$keys" ]; do
    echo "SET e2e:$i value-$i"
    i=$((i + 1))
  done > "$work/set.commands"
  redis < "$work/set.commands" > "$work/set.replies"
  acknowledged="$(grep -c '^OK$' "$work/set.replies" || true)"
  echo "SET: $acknowledged of $keys acknowledged"
elif [ "$mode" != read ]; then
  echo "MODE must be write-read or read, got $mode" >&2
  exit 2
fi

i=0
while [ "$i" -lt "$keys" ]; do
  echo "GET e2e:$i"
  i=$((i + 1))
done > "$work/get.commands"
redis < "$work/get.commands" > "$work/get.replies"
i=0
wrong=0
while IFS= read -r reply; do
  [ "$reply" = "value-$i" ] || wrong=$((wrong + 1))
  i=$((i + 1))
done < "$work/get.replies"
echo "GET: $i replies, $wrong wrong"

if [ "$acknowledged" -eq "$keys" ] && [ "$i" -eq "$keys" ] && [ "$wrong" -eq 0 ]; then
  echo "client load ($mode): ok"
else
  echo "client load ($mode): FAILED" >&2
  exit 1
fi
