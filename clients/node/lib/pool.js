'use strict';
// A pool of connections shared by concurrent callers.

const errors = require('./errors');
const { connect } = require('./connection');
const { retry } = require('./transaction');

// new Pool({ host, port, max = 10, waitTimeout = 30000, ...connect options })
//
//   await pool.use(async (conn) => conn.ping());
//   await pool.runTransaction((tx) => { ... });
//   const conn = await pool.acquire(); try { ... } finally { pool.release(conn); }
//
// A connection that broke, or still has a live interactive transaction, is
// closed on release instead of being reused.
class Pool {
  constructor(options = {}) {
    const { max = 10, waitTimeout = 30000, ...connectOptions } = options;
    if (!(max >= 1)) throw new RangeError('max must be at least 1');
    this.max = max;
    this.waitTimeout = waitTimeout;
    this._connectOptions = connectOptions;
    this._idle = [];
    this._lent = new Set();
    this._size = 0; // idle + lent + being made
    this._waiters = [];
    this._ended = false;
  }

  get size() {
    return this._size;
  }

  async acquire() {
    const conn = await this._get();
    this._lent.add(conn);
    return conn;
  }

  async _get() {
    if (this._ended) throw new errors.InterfaceError('the pool has ended');
    if (this._idle.length) return this._idle.pop();
    if (this._size < this.max) {
      this._size++;
      try {
        return await connect(this._connectOptions);
      } catch (e) {
        this._size--;
        this._wakeOne();
        throw e;
      }
    }
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject, timer: null };
      waiter.timer = setTimeout(() => {
        this._waiters.splice(this._waiters.indexOf(waiter), 1);
        reject(new errors.PoolTimeoutError(`no connection free within ${this.waitTimeout} ms (max ${this.max})`));
      }, this.waitTimeout);
      this._waiters.push(waiter);
    });
  }

  release(conn) {
    if (!this._lent.delete(conn)) throw new errors.InterfaceError('release of a connection this pool did not lend (or already released)');
    const keep = !conn.closed && conn.liveTransactions === 0 && !this._ended;
    if (!keep) {
      this._size--;
      conn.close().catch(() => {});
      return this._wakeOne();
    }
    const waiter = this._waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      this._lent.add(conn);
      waiter.resolve(conn);
    } else {
      this._idle.push(conn);
    }
  }

  // A slot came free: the first waiter gets a new connection.
  _wakeOne() {
    const waiter = this._waiters.shift();
    if (!waiter) return;
    clearTimeout(waiter.timer);
    this._size++;
    connect(this._connectOptions).then((conn) => {
      this._lent.add(conn);
      waiter.resolve(conn);
    }, (e) => {
      this._size--;
      waiter.reject(e);
    });
  }

  // Lends a connection to fn for as long as its promise runs.
  async use(fn) {
    const conn = await this.acquire();
    try {
      return await fn(conn);
    } finally {
      this.release(conn);
    }
  }

  // conn.runTransaction on a lent connection, a fresh lending per attempt.
  runTransaction(fn, options) {
    return retry(
      () =>
        this.use(async (conn) => {
          const tx = conn.transaction();
          const result = await fn(tx);
          if (tx.live) await tx.commit();
          return result;
        }),
      options,
    );
  }

  // Closes the idle connections now and the lent ones when released.
  async end() {
    this._ended = true;
    for (const w of this._waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new errors.InterfaceError('the pool has ended'));
    }
    const idle = this._idle.splice(0);
    this._size -= idle.length;
    await Promise.all(idle.map((c) => c.close()));
  }
}

module.exports = { Pool };
