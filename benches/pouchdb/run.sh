#!/usr/bin/env bash
# Side by side, in one run: 100,000 small sale documents replicated from an offline PouchDB to a
# CouchDB-protocol peer (express-pouchdb in another process, loopback), then Kibanda's catch-up of
# 100,000 offline ops over real QUIC into real PostgreSQL; prints both and the ratio.
# By hand only (it installs the npm packages pinned in package-lock.json into node_modules here):
#   benches/pouchdb/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
npm ci --no-audit --no-fund --silent
memory="$(KIBANDA_POUCH_ADAPTER=memory node compare.cjs)"
echo "$memory"
disk="$(KIBANDA_POUCH_ADAPTER=leveldb node compare.cjs)"
echo "$disk"
cd "$here/../.."
kibanda="$(cargo bench -p kibanda-benches --bench catchup 2>/dev/null | grep -E '^(catch-up|projected):')"
echo "$kibanda"
seconds() { sed -E 's/.* in ([0-9.]+) s.*/\1/' | head -n 1; }
kibanda_s="$(echo "$kibanda" | grep '^catch-up:' | seconds)"
for pouch in "$memory" "$disk"; do
  pouch_s="$(echo "$pouch" | seconds)"
  awk -v p="$pouch_s" -v k="$kibanda_s" -v what="${pouch%%:*}" \
    'BEGIN { printf "ratio: Kibanda acknowledges the backlog %.1fx faster than %s replicates it\n", p / k, what }'
done
