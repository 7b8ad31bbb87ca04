'use strict';
// Durable transfers from one Node.js process with 16 transactions in flight,
// through ParenDB's client and through ioredis (EVALSHA of a Lua transfer;
// Redis with appendfsync always) and pg (SELECT transfer($1, $2, 5), a
// PL/pgSQL function; synchronous_commit=on). Prints one line per run:
//
//   SYSTEM VARIANT txn/s client-CPU-us/txn transactions
//
// Usage (bench/clients/run.sh starts the servers and calls this):
//   node transfer.js SYSTEM VARIANT --port P --seconds S [--concurrency 16]
// with SYSTEM VARIANT: parendb pool | parendb pipelined | redis ioredis | postgres pg.

const path = require('node:path');

const ACCOUNTS = 10000;

function rng(seed) {
  let s = seed + 1;
  return (n) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return 1 + (s % n);
  };
}

function pair(rnd) {
  const a = rnd(ACCOUNTS);
  const b = rnd(ACCOUNTS - 1);
  return [a, b < a ? b : b + 1];
}

async function loop(n, seconds, makeStep) {
  const steps = await Promise.all(Array.from({ length: n }, (_, i) => makeStep(i)));
  const stop = performance.now() + seconds * 1000;
  let count = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    steps.map(async (step) => {
      while (performance.now() < stop) {
        await step();
        count++;
      }
    }),
  );
  const t1 = performance.now();
  const c = process.cpuUsage(c0);
  return { count, seconds: (t1 - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
}

function parendbTransfer(f, rnd) {
  return (tx) => {
    const [a, b] = pair(rnd);
    const sa = tx.select('acc', f('_id').eq(a), 'wn');
    const sb = tx.select('acc', f('_id').eq(b), 'wn');
    tx.check(sa, f('balance').ge(5));
    tx.update(sa, { balance: f('balance').sub(5) });
    tx.update(sb, { balance: f('balance').add(5) });
  };
}

const runs = {
  // 16 concurrent callers sharing a pool of 16 connections.
  'parendb pool': async (port, n, seconds) => {
    const parendb = require(path.join(__dirname, '..', '..', '..', 'clients', 'node'));
    const pool = new parendb.Pool({ port, max: n });
    try {
      return await loop(n, seconds, (i) => {
        const transfer = parendbTransfer(parendb.f, rng(i));
        return () => pool.runTransaction(transfer);
      });
    } finally {
      await pool.end();
    }
  },
  // 16 concurrent callers pipelining on one connection.
  'parendb pipelined': async (port, n, seconds) => {
    const parendb = require(path.join(__dirname, '..', '..', '..', 'clients', 'node'));
    const conn = await parendb.connect({ port });
    try {
      return await loop(n, seconds, (i) => {
        const transfer = parendbTransfer(parendb.f, rng(i));
        return () => conn.runTransaction(transfer, { backoff: 0.5 });
      });
    } finally {
      await conn.close();
    }
  },
  'redis ioredis': async (port, n, seconds) => {
    const Redis = require('ioredis');
    const redis = new Redis({ host: '127.0.0.1', port });
    redis.defineCommand('transfer', {
      numberOfKeys: 2,
      lua:
        "local a = cjson.decode(redis.call('GET', KEYS[1])) local b = cjson.decode(redis.call('GET', KEYS[2])) " +
        'local v = tonumber(ARGV[1]) if a.balance < v then return 0 end a.balance = a.balance - v b.balance = b.balance + v ' +
        "redis.call('SET', KEYS[1], cjson.encode(a)) redis.call('SET', KEYS[2], cjson.encode(b)) return 1",
    });
    try {
      return await loop(n, seconds, (i) => {
        const rnd = rng(i);
        return () => {
          const [a, b] = pair(rnd);
          return redis.transfer(`acc:${a}`, `acc:${b}`, 5);
        };
      });
    } finally {
      redis.disconnect();
    }
  },
  'postgres pg': async (port, n, seconds) => {
    const { Pool } = require('pg');
    const pool = new Pool({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', max: n });
    try {
      return await loop(n, seconds, (i) => {
        const rnd = rng(i);
        return () => {
          const [a, b] = pair(rnd);
          return pool.query({ name: 'transfer', text: 'SELECT transfer($1, $2, 5)', values: [a, b] });
        };
      });
    } finally {
      await pool.end();
    }
  },
};

async function main() {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const key = `${args[0]} ${args[1]}`;
  if (!runs[key]) {
    console.error(`usage: node transfer.js (${Object.keys(runs).join(' | ')}) --port P [--seconds S] [--concurrency N]`);
    process.exit(2);
  }
  const r = await runs[key](opt('port'), opt('concurrency', 16), opt('seconds', 5));
  console.log(`${key} ${Math.round(r.count / r.seconds)} ${Math.round((r.cpu / Math.max(r.count, 1)) * 1e6)} ${r.count}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
