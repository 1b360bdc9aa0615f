// The same 100,000 small sale documents replicated from an offline PouchDB to a CouchDB-protocol
// peer (express-pouchdb, another process on loopback), timed from the start of replication until
// the peer holds every document. Prints one line the comparison script reads.
const { fork } = require('child_process');
const path = require('path');
const PouchDB = require('pouchdb-core')
  .plugin(require('pouchdb-adapter-memory'))
  .plugin(require('pouchdb-replication'))
  .plugin(require('pouchdb-adapter-http'));

const N = Number(process.env.KIBANDA_BENCH_DOCS || 100000);

async function main() {
  const peer = fork(path.join(__dirname, 'server.cjs'), ['0'], { stdio: 'ignore' });
  const port = await new Promise((resolve) => peer.on('message', (m) => resolve(m.port)));
  const local = new PouchDB('sales', { adapter: 'memory' });
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
  console.log(`pouchdb: ${N} docs replicated in ${seconds.toFixed(2)} s = ${Math.round(N / seconds)} docs/s`);
  peer.kill();
}
main().catch((e) => { console.error(e); process.exit(1); });
