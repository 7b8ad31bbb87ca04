'use strict';
// ClusterClient against three real `parendb serve --cluster` processes.
const test = require('node:test');
const assert = require('node:assert');
const { ClusterClient, f, TRUE, errors, connect } = require('..');
const { Server, freePort } = require('./server');

async function startCluster(t) {
  const raft = [await freePort(), await freePort(), await freePort()];
  const spec = raft.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(',');
  const servers = [];
  for (let i = 0; i < 3; i++) {
    const s = new Server({ extra: ['--node-id', String(i + 1), '--cluster', spec, '--election-timeout', '300', '--heartbeat', '30'] });
    servers.push(s);
    t.after(() => s.stop());
    await s.start();
  }
  const client = new ClusterClient({ nodes: servers.map((s) => ({ port: s.port })), wait: 20000 });
  t.after(() => client.end());
  return { servers, client };
}

function transfer(a, b) {
  return (tx) => {
    const x = tx.select('acc', f('_id').eq(a), 'wn');
    const y = tx.select('acc', f('_id').eq(b), 'wn');
    tx.update(x, { balance: f('balance').sub(1) });
    tx.update(y, { balance: f('balance').add(1) });
  };
}

async function total(client) {
  const docs = await client.runRead((tx) => tx.readall(tx.selects('acc', TRUE, 'r')));
  return [docs.value.reduce((s, d) => s + d.balance, 0), docs.value.length];
}

test('updates find the leader and survive its death; reads go to every node', async (t) => {
  const { servers, client } = await startCluster(t);
  await client.runTransaction(() => {}); // finds the leader (waits out the first election)
  const leaderConn = await connect({ port: client.leader.port });
  await leaderConn.mkcoll('acc');
  await leaderConn.close();
  await client.runTransaction((tx) => {
    for (let i = 1; i <= 4; i++) tx.create('acc', { _id: i, balance: 100 });
  });
  for (let k = 0; k < 20; k++) await client.runTransaction(transfer(1 + (k % 4), 1 + ((k + 1) % 4)));
  for (let i = 0; i < 3; i++) assert.deepStrictEqual(await total(client), [400, 4]);
  // Bounded staleness: each node just made a current read, so a minute's
  // bound serves these without asking the leader, and they still see every
  // transfer acknowledged before it.
  for (let i = 0; i < 3; i++) {
    const docs = await client.runRead((tx) => {
      const s = tx.selects('acc', TRUE, 'r');
      tx.acquire(null, { staleMs: 60000 });
      return tx.readall(s);
    });
    assert.equal(docs.value.reduce((sum, d) => sum + d.balance, 0), 400);
  }
  // The same through runRead's bound (the acquire the read implies).
  for (let i = 0; i < 3; i++) {
    const docs = await client.runRead((tx) => tx.readall(tx.selects('acc', TRUE, 'r')), { staleMs: 60000 });
    assert.equal(docs.value.reduce((sum, d) => sum + d.balance, 0), 400);
  }
  await assert.rejects(client.runRead(() => {}, { staleMs: -1 }), RangeError);
  let stale = 0;
  for (const s of servers) {
    const conn = await connect({ port: s.port });
    stale += (await conn.stats()).cluster.stale_reads;
    await conn.close();
  }
  assert.equal(stale, 6);
  const old = client.leader;
  await servers.find((s) => s.port === old.port).kill();
  for (let k = 0; k < 10; k++) await client.runTransaction(transfer(1 + (k % 4), 1 + ((k + 1) % 4)));
  assert.notStrictEqual(client.leader.port, old.port);
  assert.deepStrictEqual(await total(client), [400, 4]);
});

test('a follower names the leader in not-leader', async (t) => {
  const { servers, client } = await startCluster(t);
  await client.runTransaction(() => {});
  const follower = servers.find((s) => s.port !== client.leader.port);
  const conn = await connect({ port: follower.port });
  t.after(() => conn.close());
  await assert.rejects(conn.mkcoll('x'), (e) => e instanceof errors.NotLeaderError && e.message.startsWith(`127.0.0.1:${client.leader.port} is the leader`));
});
