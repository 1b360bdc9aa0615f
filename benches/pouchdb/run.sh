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
pouch="$(node compare.cjs)"
echo "$pouch"
cd "$here/../.."
kibanda="$(cargo bench -p kibanda-benches --bench catchup 2>/dev/null | grep '^catch-up:')"
echo "$kibanda"
pouch_s="$(echo "$pouch" | sed -E 's/.* in ([0-9.]+) s.*/\1/')"
kibanda_s="$(echo "$kibanda" | sed -E 's/.* in ([0-9.]+) s.*/\1/')"
awk -v p="$pouch_s" -v k="$kibanda_s" 'BEGIN { printf "ratio: Kibanda is %.1fx faster than PouchDB replication\n", p / k }'
