'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const parendb = require('..');
const { f, errors } = parendb;
const { Server, freePort, cutProxy } = require('./server');

let server;
test.before(async () => {
  server = await new Server().start();
});
test.after(async () => {
  await server.stop();
});

const opened = [];
async function connect(options = {}) {
  const c = await parendb.connect({ port: server.port, ...options });
  opened.push(c);
  return c;
}
test.afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
});

async function fresh(c, coll, accounts = 0, balance = 100) {
  await c.rmcoll(coll, { missingOk: true });
  await c.mkcoll(coll);
  if (accounts) {
    const tx = c.transaction();
    for (let i = 1; i <= accounts; i++) tx.create(coll, { _id: i, balance });
    await tx.commit();
  }
  return coll;
}

async function balances(c, coll) {
  const tx = c.transaction();
  const docs = tx.readall(tx.selects(coll));
  await tx.close();
  return docs.value.map((d) => d.balance);
}

test('catalog statements', async () => {
  const c = await connect();
  await c.ping();
  const coll = await fresh(c, 'cat');
  assert.ok((await c.colls()).includes(coll));
  assert.equal(await c.mkcoll(coll, { existOk: true }), false);
  await assert.rejects(c.mkcoll(coll), errors.CollectionExistsError);
  await c.mkindex(coll, f('email'), { unique: true });
  await c.mkindex(coll, ['address', 'city']);
  assert.deepEqual((await c.indexes(coll)).map((i) => [i.path, i.unique]), [[['address', 'city'], false], [['email'], true]]);
  await assert.rejects(c.mkindex(coll, 'email'), errors.IndexExistsError);
  await c.rmindex(coll, f('address', 'city'));
  await assert.rejects(c.rmindex(coll, f('address', 'city')), errors.UnknownIndexError);
  const stats = await c.stats();
  for (const k of ['commits', 'aborts', 'wal_syncs', 'connections', 'documents']) assert.equal(typeof stats[k], 'number');
  await c.checkpoint();
  assert.equal(await c.rmcoll(coll), true);
  assert.equal(await c.rmcoll(coll, { missingOk: true }), false);
  await assert.rejects(c.rmcoll(coll), errors.UnknownCollectionError);
});

test('every transaction statement', async () => {
  const c = await connect();
  const coll = await fresh(c, 'people');
  let tx = c.transaction();
  const ada = tx.create(coll, { name: 'Ada', age: 36, tags: ['math'], address: { city: 'London' } });
  tx.create(coll, { name: 'Bob', age: 70 });
  tx.create(coll, { _id: 'carol', name: 'Carol', age: 61 });
  const made = tx.readall(ada);
  await tx.commit();
  assert.deepEqual(made.value, { _id: 1, name: 'Ada', age: 36, tags: ['math'], address: { city: 'London' } });

  tx = c.transaction();
  const old = tx.selects(coll, f('age').gt(60), 'wn');
  const one = tx.select(coll, f('age').gt(60), 'r');
  tx.check(old, f('age').ge(61));
  const names = tx.read(old, 'name', f('address', 'city'));
  const first = tx.readall(one);
  const n = tx.update(old, [['age', f('age').add(1)], [['address', 'city'], 'Oslo']]);
  const after = tx.read(old, 'age');
  const plan = tx.explain(old);
  await tx.commit();
  assert.deepEqual(names.value, [{ _id: 2, name: 'Bob' }, { _id: 'carol', name: 'Carol' }]);
  assert.equal(first.value._id, 2);
  assert.equal(n.value, 2);
  assert.deepEqual(after.value, [{ _id: 2, age: 71 }, { _id: 'carol', age: 62 }]);
  assert.ok('index' in plan.value);

  tx = c.transaction();
  const replaced = tx.replace(tx.select(coll, f('_id').eq(2), 'wb'), { name: 'Robert' });
  await tx.commit();
  assert.equal(replaced.value, 1);

  tx = c.transaction();
  const docs = tx.read(tx.selects(coll, true, 'r', { order: f('name'), descending: true, limit: 2 }), 'name');
  await tx.close();
  assert.deepEqual(docs.value.map((d) => d.name), ['Robert', 'Carol']);

  tx = c.transaction();
  const gone = tx.delete(tx.selects(coll, f('name').eq('Robert'), 'wn'));
  await tx.commit();
  assert.equal(gone.value, 1);

  tx = c.transaction();
  const nobody = tx.readall(tx.select(coll, f('name').eq('Robert')));
  tx.acquire; // (a property, not a call: nothing happens)
  await tx.close();
  assert.equal(nobody.value, null);
  assert.throws(() => new parendb.Pending().value, errors.InterfaceError);
});

test('statement-level error codes', async () => {
  const c = await connect();
  const cases = [
    ['(ping 1e999)', errors.SyntaxError],
    ['(frobnicate)', errors.UnknownStatementError],
    ['(ping 1)', errors.ArityError],
    ['(mkcoll 9x)', errors.BadNameError],
    ['(commit nosuch)', errors.UnknownTransactionError],
    ['(readall nosuch)', errors.UnknownSelectionError],
  ];
  for (const [text, cls] of cases) {
    const [reply] = await c.executeRaw(text);
    assert.equal(reply.constructor, cls, text);
  }
  assert.equal((await c.executeRaw('(open t)(open t)', 2))[1].constructor, errors.DuplicateNameError);
  assert.equal((await c.executeRaw('(open s)(commit s)', 2))[1].constructor, errors.StageError);
  await c.ping();
});

async function expectError(c, cls, build) {
  const tx = c.transaction();
  build(tx);
  const err = await tx.commit().then(() => null, (e) => e);
  assert.ok(err instanceof cls, `expected ${cls.name}, got ${err}`);
  assert.equal(err.code, cls.code);
  assert.ok(err.statement);
  return err;
}

test('transaction-level error codes', async () => {
  const c = await connect();
  const coll = await fresh(c, 'terrs', 2);
  await c.mkindex(coll, f('email'), { unique: true });
  await expectError(c, errors.UnknownCollectionError, (tx) => tx.selects('nosuch'));
  await expectError(c, errors.LockModeError, (tx) => {
    tx.selects(coll);
    tx.create(coll, { a: 1 });
  });
  await expectError(c, errors.TypeError, (tx) => tx.update(tx.select(coll, f('_id').eq(1), 'wn'), { balance: f('balance').div(0) }));
  await expectError(c, errors.BadDocumentError, (tx) => tx.update(tx.select(coll, f('_id').eq(1), 'wn'), { _id: 5 }));
  await expectError(c, errors.DuplicateIdError, (tx) => tx.create(coll, { _id: 1 }));
  await expectError(c, errors.CheckFailedError, (tx) => tx.check(tx.select(coll, f('_id').eq(1)), f('balance').gt(1e9)));
  const tx = c.transaction();
  tx.create(coll, { email: 'a@x' });
  await tx.commit();
  await expectError(c, errors.DuplicateKeyError, (t) => t.create(coll, { email: 'a@x' }));
  await c.ping();
  // Deeper than the server's limit: it answers (error limit …) and closes.
  let deep = 0;
  for (let i = 0; i < 300; i++) deep = [deep];
  await expectError(c, errors.LimitError, (t) => t.create(coll, { deep }));
  assert.ok(c.closed);
});

test('lock-timeout, deadlock and conflict', async () => {
  const a = await connect();
  const b = await connect();
  const coll = await fresh(a, 'waits', 2);
  await a.mkindex(coll, f('email'), { unique: true });
  await a.withTransaction(async (holder) => {
    holder.select(coll, f('_id').eq(1), 'wn');
    await holder.acquire();
    let err = await expectError(b, errors.LockTimeoutError, (tx) => {
      tx.select(coll, f('_id').eq(1), 'wn');
      tx.acquire(20);
    });
    assert.ok(err.retryable);
    err = await expectError(a, errors.DeadlockError, (tx) => tx.select(coll, f('_id').eq(1), 'wn'));
    assert.ok(err.retryable);
  });
  await a.withTransaction(async (writer) => {
    await writer.acquire();
    await writer.create(coll, { email: 'same@x' });
    const tx = b.transaction();
    tx.create(coll, { email: 'same@x' });
    const err = await tx.commit().then(() => null, (e) => e);
    assert.ok(err instanceof errors.ConflictError && err.retryable, String(err));
  });
  assert.equal(a.liveTransactions, 0);
});

test('password-protected server', async () => {
  const s = await new Server({ password: 's3cret "quoted" (paren)' }).start();
  try {
    const c = await parendb.connect({ port: s.port, password: 's3cret "quoted" (paren)' });
    await c.ping();
    await c.close();
    await assert.rejects(parendb.connect({ port: s.port, password: 'wrong' }), errors.AuthError);
    const bare = await parendb.connect({ port: s.port });
    await assert.rejects(bare.ping(), errors.AuthError);
    await bare.close();
  } finally {
    await s.stop();
  }
});

const HOSTILE = ['quote " inside', 'paren ) (rmcoll x) (', 'semi ; colon', 'new\nline\r\n', 'nul \u0000 byte',
  'tab\tand\\back', 'é ü 中文 😀 \u2028 \u2029', '\u007f\u001b[31m', '(ok committed)', 'x'.repeat(200000), '', ' ',
  '\\u0000', '__proto__', 'constructor'];

test('hostile values arrive intact', async () => {
  const c = await connect();
  const coll = await fresh(c, 'hostile');
  let tx = c.transaction();
  HOSTILE.forEach((s, i) => tx.create(coll, { _id: i, s, [s.slice(0, 50) || 'k']: [s, { n: s }] }));
  await tx.commit();
  for (const [i, s] of HOSTILE.entries()) {
    tx = c.transaction();
    const sel = tx.selects(coll, f('s').eq(s));
    const byPath = tx.read(sel, f(s.slice(0, 50) || 'k'));
    const docs = tx.readall(sel);
    await tx.close();
    assert.deepEqual(docs.value, [{ _id: i, s, [s.slice(0, 50) || 'k']: [s, { n: s }] }]);
    assert.deepEqual(byPath.value[0][s.slice(0, 50) || 'k'], [s, { n: s }]);
  }
  // Lone surrogates are refused before anything is sent.
  tx = c.transaction();
  assert.throws(() => tx.create(coll, { s: 'a\ud800' }), /surrogate/);
  assert.throws(() => tx.selects(coll, f('s').eq('\udfff')), /surrogate/);
  assert.throws(() => tx.selects('bad name'), RangeError);
  await c.ping();
});

test('integers stay exact (BigInt beyond 2^53)', async () => {
  const c = await connect();
  const coll = await fresh(c, 'nums');
  const values = [0, -1, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), 0.1, -2.5e-300, 1.7976931348623157e308, 9007199254740991];
  let tx = c.transaction();
  tx.create(coll, { _id: 1, v: values, d: parendb.double(2) });
  await tx.commit();
  tx = c.transaction();
  const sel = tx.select(coll, f('v', 3).eq(2n ** 63n - 1n), 'wn');
  const doc = tx.readall(sel);
  tx.update(sel, { n: f('v', 2).add(1) });
  const after = tx.read(sel, 'n');
  await tx.commit();
  assert.deepEqual(doc.value.v, values);
  assert.equal(after.value.n, 2n ** 53n + 2n);
});

test('pipelined transactions on one connection', async () => {
  const c = await connect();
  const coll = await fresh(c, 'pipe', 50);
  const results = await Promise.all(
    Array.from({ length: 50 }, async (_, k) => {
      const i = k + 1;
      const tx = c.transaction();
      const a = tx.select(coll, f('_id').eq(i), 'wn');
      const n = tx.update(a, { balance: f('balance').add(i) });
      const d = tx.readall(a);
      await tx.commit();
      return [n.value, d.value.balance];
    }),
  );
  assert.deepEqual(results, Array.from({ length: 50 }, (_, k) => [1, 101 + k]));
  const failing = () => {
    const tx = c.transaction();
    tx.check(tx.select(coll, f('_id').eq(1)), f('balance').lt(0));
    return tx.commit();
  };
  const got = await Promise.allSettled([failing(), c.ping(), failing(), c.colls()]);
  assert.ok(got[0].reason instanceof errors.CheckFailedError);
  assert.equal(got[1].status, 'fulfilled');
  assert.ok(got[2].reason instanceof errors.CheckFailedError);
  assert.ok(got[3].value.includes(coll));
});

test('interactive transactions close on error', async () => {
  const c = await connect();
  const coll = await fresh(c, 'inter', 2);
  await c.withTransaction(async (tx) => {
    const a = tx.select(coll, f('_id').eq(1), 'wn');
    const b = tx.select(coll, f('_id').eq(2), 'wn');
    await tx.acquire();
    if ((await tx.readall(a)).balance >= 40) {
      assert.equal(await tx.update(a, { balance: f('balance').sub(40) }), 1);
      await tx.update(b, { balance: f('balance').add(40) });
      await tx.commit();
    }
  });
  await assert.rejects(
    c.withTransaction(async (tx) => {
      const a = tx.select(coll, f('_id').eq(1), 'wn');
      await tx.acquire();
      await tx.update(a, { balance: 0 });
      throw new Error('application error');
    }),
    /application error/,
  );
  await c.withTransaction(async (tx) => {
    const a = tx.select(coll, f('_id').eq(2), 'wn');
    await tx.acquire();
    await tx.update(a, { balance: 0 }); // not committed: closed
  });
  assert.equal(c.liveTransactions, 0);
  assert.deepEqual(await balances(c, coll), [60, 140]);
  await c.withTransaction(async (tx) => {
    const a = tx.select(coll, f('_id').eq(1), 'wn');
    await tx.acquire();
    await assert.rejects(tx.check(a, f('balance').gt(1000)), errors.CheckFailedError);
    await assert.rejects(tx.update(a, { balance: 1 }), errors.InterfaceError);
  });
});

test('retries on a provoked deadlock, bounded, and not on other errors', async () => {
  const c = await connect();
  const coll = await fresh(c, 'retry', 1);
  const holder = c.begin();
  holder.select(coll, f('_id').eq(1), 'wn');
  await holder.acquire();
  let attempts = 0;
  await c.runTransaction(async (tx) => {
    if (++attempts === 2) await holder.close();
    tx.update(tx.select(coll, f('_id').eq(1), 'wn'), { balance: f('balance').add(1) });
  }, { backoff: 1 });
  assert.equal(attempts, 2);
  assert.deepEqual(await balances(c, coll), [101]);

  const again = c.begin();
  again.select(coll, f('_id').eq(1), 'wn');
  await again.acquire();
  attempts = 0;
  await assert.rejects(
    c.runTransaction((tx) => {
      attempts++;
      tx.select(coll, f('_id').eq(1), 'wn');
    }, { retries: 3, backoff: 0.1 }),
    errors.DeadlockError,
  );
  assert.equal(attempts, 4);
  await again.close();

  attempts = 0;
  await assert.rejects(
    c.runTransaction((tx) => {
      attempts++;
      tx.check(tx.select(coll, f('_id').eq(1)), f('balance').lt(0));
    }),
    errors.CheckFailedError,
  );
  assert.equal(attempts, 1);
});

test('a connection cut after the commit was sent: outcome unknown, never retried', async () => {
  const setup = await connect();
  const coll = await fresh(setup, 'cut', 1);
  const port = await cutProxy(server.port, '(commit');
  const c = await parendb.connect({ port });
  let attempts = 0;
  await assert.rejects(
    c.runTransaction((tx) => {
      attempts++;
      tx.update(tx.select(coll, f('_id').eq(1), 'wn'), { balance: f('balance').add(1) });
    }),
    errors.OutcomeUnknownError,
  );
  assert.equal(attempts, 1);
  assert.ok(c.closed);
  await assert.rejects(c.ping(), (e) => e instanceof errors.OperationalError && /lost/.test(e.message));
});

test('a connection cut before the commit: operational, and the transaction ended', async () => {
  const setup = await connect();
  const coll = await fresh(setup, 'cut2', 1);
  const port = await cutProxy(server.port, '(acquire');
  const c = await parendb.connect({ port });
  const err = await c.withTransaction(async (tx) => {
    tx.select(coll, f('_id').eq(1), 'wn');
    await tx.acquire();
  }).then(() => null, (e) => e);
  assert.ok(err instanceof errors.OperationalError && !(err instanceof errors.OutcomeUnknownError), String(err));
  assert.equal(c.liveTransactions, 0);
});

test('the server killed mid-transaction', async () => {
  const s = await new Server().start();
  try {
    let c = await parendb.connect({ port: s.port });
    await fresh(c, 'k', 1);
    const tx = c.begin();
    const a = tx.select('k', f('_id').eq(1), 'wn');
    await tx.acquire();
    await s.kill();
    await assert.rejects(tx.update(a, { balance: 0 }), errors.OperationalError);
    assert.ok(c.closed);
    assert.equal(tx.live, false);
    await s.start();
    c = await parendb.connect({ port: s.port });
    assert.deepEqual(await balances(c, 'k'), [100]);
    await c.close();
  } finally {
    await s.stop();
  }
});

test('a round-trip timeout ends the connection', async () => {
  const a = await connect();
  const coll = await fresh(a, 'time', 1);
  const holder = a.begin();
  holder.select(coll, f('_id').eq(1), 'wn');
  await holder.acquire();
  const b = await connect({ timeout: 50 });
  const tx = b.transaction();
  tx.select(coll, f('_id').eq(1), 'wn');
  tx.acquire(10000);
  await assert.rejects(tx.close(), errors.OperationalError);
  assert.ok(b.closed);
  await holder.close();
});

test('a Unix-domain socket', async () => {
  const c = await parendb.connect({ path: server.socketPath });
  opened.push(c);
  const coll = await fresh(c, 'unixsock', 2);
  await c.runTransaction((tx) => tx.update(tx.select(coll, f('_id').eq(1), 'wn'), { balance: f('balance').sub(1) }));
  const pool = new parendb.Pool({ path: server.socketPath, max: 2 });
  assert.deepEqual(await pool.use((pc) => balances(pc, coll)), [99, 100]);
  await pool.end();
  await assert.rejects(parendb.connect({ path: server.socketPath + '.missing' }), /unix:/);
});

test('server down', async () => {
  await assert.rejects(parendb.connect({ port: await freePort(), connectTimeout: 2000 }), errors.OperationalError);
});

test('the pool under many concurrent promises keeps the total', async () => {
  const setup = await connect();
  const coll = await fresh(setup, 'bank', 20, 1000);
  const pool = new parendb.Pool({ port: server.port, max: 8 });
  let seed = 7;
  const rnd = (n) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return 1 + (seed % n);
  };
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let k = 0; k < 40; k++) {
        const x = rnd(20);
        let y = rnd(20);
        if (y === x) y = (x % 20) + 1;
        await pool.runTransaction((tx) => {
          const a = tx.select(coll, f('_id').eq(x), 'wn');
          const b = tx.select(coll, f('_id').eq(y), 'wn');
          tx.check(a, f('balance').ge(7));
          tx.update(a, { balance: f('balance').sub(7) });
          tx.update(b, { balance: f('balance').add(7) });
        }).catch((e) => {
          if (!(e instanceof errors.CheckFailedError)) throw e;
        });
      }
    }),
  );
  assert.ok(pool.size <= 8);
  const total = await pool.use(async (c) => (await balances(c, coll)).reduce((s, v) => s + v, 0));
  assert.equal(total, 20000);
  await pool.end();
});

test('the pool does not reuse broken or busy connections', async () => {
  const pool = new parendb.Pool({ port: server.port, max: 1, waitTimeout: 100 });
  const first = await pool.acquire();
  await assert.rejects(pool.acquire(), errors.PoolTimeoutError);
  pool.release(first);
  assert.throws(() => pool.release(first), errors.InterfaceError);
  const again = await pool.acquire();
  assert.equal(again, first);
  await again.begin().acquire(); // left live
  pool.release(again);
  const third = await pool.acquire();
  assert.notEqual(third, first);
  await third.ping();
  pool.release(third);
  await pool.end();
});
