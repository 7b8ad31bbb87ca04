// Compiled by `npm run typecheck` (tsc --noEmit): the declarations in
// index.d.ts must accept what the README shows and refuse what is wrong.
import { connect, f, and, not, double, Pool, errors, Transaction } from '../..';

async function main(): Promise<void> {
  const conn = await connect({ host: '127.0.0.1', port: 7420, timeout: 5000 });
  await conn.mkcoll('acc', { existOk: true });
  const tx = conn.transaction();
  const a = tx.select('acc', f('_id').eq(1), 'wn');
  const b = tx.select('acc', f('_id').eq(2), 'wn', { order: f('balance'), descending: true, limit: 1 });
  tx.check(a, and(f('balance').ge(5), not(f('frozen').exists())));
  const n = tx.update(a, { balance: f('balance').sub(5) });
  tx.update(b, [[['nested', 0], double(2)], ['big', 2n ** 60n]]);
  const docs = tx.readall(a);
  await tx.commit();
  const count: number = n.value;
  void count;
  void docs.value;
  await conn.withTransaction(async (itx) => {
    const s = itx.selects('acc', true, 'r');
    await itx.acquire(100, { staleMs: 50 });
    const all = await itx.readall(s);
    void all;
    await itx.commit();
  });
  const pool = new Pool({ port: 7420, max: 4 });
  await pool.runTransaction((t: Transaction) => {
    t.create('acc', { x: 1, nested: { y: [1, 'two', null] } });
  });
  try {
    await conn.ping();
  } catch (e) {
    if (e instanceof errors.DeadlockError && e.retryable) void [e.code, e.statement];
  }
  // @ts-expect-error: lock modes are r, wn, wb
  tx.select('acc', true, 'x');
  // @ts-expect-error: a Date is not a value
  tx.create('acc', { when: new Date() });
  await pool.end();
  await conn.close();
}
void main;
