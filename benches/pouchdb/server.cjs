// A CouchDB-protocol peer: express-pouchdb on the port given, over PouchDB in memory, or on
// disk under the directory given when KIBANDA_POUCH_ADAPTER=leveldb.
const express = require('express');
const fs = require('fs');
const ADAPTER = process.env.KIBANDA_POUCH_ADAPTER || 'memory';
const PouchDB = require('pouchdb-core')
  .plugin(require(ADAPTER === 'leveldb' ? 'pouchdb-adapter-leveldb' : 'pouchdb-adapter-memory'))
  .plugin(require('pouchdb-replication'))
  .plugin(require('pouchdb-adapter-http'));
let options = { adapter: ADAPTER };
if (ADAPTER === 'leveldb') {
  const dir = process.argv[3];
  fs.mkdirSync(dir, { recursive: true });
  options = { adapter: 'leveldb', prefix: dir + '/' };
}
const Pouch = PouchDB.defaults(options);
const app = express();
app.use('/', require('express-pouchdb')(Pouch, { mode: 'minimumForPouchDB', inMemoryConfig: true, logPath: '/dev/null' }));
const server = app.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  process.send && process.send({ port: server.address().port });
});
