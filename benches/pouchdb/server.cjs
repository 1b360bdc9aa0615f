// A CouchDB-protocol peer: express-pouchdb over in-memory PouchDB, on the port given.
const express = require('express');
const PouchDB = require('pouchdb-core')
  .plugin(require('pouchdb-adapter-memory'))
  .plugin(require('pouchdb-replication'))
  .plugin(require('pouchdb-adapter-http'));
const MemPouch = PouchDB.defaults({ adapter: 'memory' });
const app = express();
app.use('/', require('express-pouchdb')(MemPouch, { mode: 'minimumForPouchDB', inMemoryConfig: true, logPath: '/dev/null' }));
const server = app.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  process.send && process.send({ port: server.address().port });
});
