// The same 100,000 small sale documents replicated from an offline PouchDB to a CouchDB-protocol
// peer (express-pouchdb, another process on loopback), timed from the start of replication until
// the peer holds every document. Prints one line the comparison script reads.
// KIBANDA_POUCH_ADAPTER: `memory` (default; nothing durable on either side) or `leveldb` (both
// sides on disk, as a till and a server would keep them).
const { fork } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const ADAPTER = process.env.KIBANDA_POUCH_ADAPTER || 'memory';
const PouchDB = require('pouchdb-core')
  .plugin(require(ADAPTER === 'leveldb' ? 'pouchdb-adapter-leveldb' : 'pouchdb-adapter-memory'))
  .plugin(require('pouchdb-replication'))
  .plugin(require('pouchdb-adapter-http'));
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kibanda-pouch-'));

const N = Number(process.env.KIBANDA_BENCH_DOCS || 100000);

async function main() {
  const peer = fork(path.join(__dirname, 'server.cjs'), ['0', path.join(dataDir, 'peer')], { stdio: 'ignore' });
  const port = await new Promise((resolve) => peer.on('message', (m) => resolve(m.port)));
  const local = new PouchDB(ADAPTER === 'leveldb' ? path.join(dataDir, 'local-sales') : 'sales', { adapter: ADAPTER });
  const prepared = Date.now();
  for (let start = 0; start < N; start += 5000) {
    const docs = [];
    for (let n = start; n < Math.min(N, start + 5000); n++) {
      docs.push({ _id: `sale-${String(n).padStart(7, '0')}`, outlet: 'outlet-1', number: n,
        lines: [{ item: 'sku-chai', quantity: 2, gross_minor: 30000 }], tender: 'cash',
        total_minor: 30000, at_ms: 1700000000000 + n });
    }
    await local.bulkDocs(docs);
  }
  console.error(`prepared ${N} docs offline in ${(Date.now() - prepared) / 1000} s`);
  const remote = new PouchDB(`http://127.0.0.1:${port}/sales`);
  const started = process.hrtime.bigint();
  await PouchDB.replicate(local, remote, { batch_size: 1000, batches_limit: 10 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const info = await remote.info();
  if (info.doc_count !== N) throw new Error(`peer holds ${info.doc_count} of ${N}`);
  console.log(`pouchdb (${ADAPTER}): ${N} docs replicated in ${seconds.toFixed(2)} s = ${Math.round(N / seconds)} docs/s`);
  peer.kill();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
main().catch((e) => { console.error(e); process.exit(1); });
