'use strict';
// A client for a ParenDB cluster (lang-docs/cluster.md): many nodes, one leader.
//
//   const cluster = new ClusterClient({ nodes: [{ host: '127.0.0.1', port: 7431 }, ...] });
//   await cluster.runTransaction((tx) => { ... });   // on the leader
//   await cluster.runRead((tx) => tx.readall(...));   // on any node, in turn
//
// runTransaction follows not-leader answers to the node they name (nothing
// was applied, so that is always safe) and rides out an election by trying
// again. runRead spreads read-only transactions over every node (followers
// answer them, strictly serializable). An unavailable answer is retried only
// when it came to the acquire (nothing read or written); on a commit it is
// thrown — that commit may or may not have been applied — as is a
// connection lost after the commit was sent (OutcomeUnknownError).

const errors = require('./errors');
const wire = require('./wire');
const { connect } = require('./connection');

const LEADER = /^(\S+):(\d+) is the leader/;

class ClusterClient {
  // nodes: [{ host, port }]; wait: ms one call rides out elections and
  // unreachable nodes (default 10000); the rest goes to connect().
  constructor(options = {}) {
    const { nodes, wait = 10000, ...connectOptions } = options;
    if (!Array.isArray(nodes) || nodes.length === 0) throw new RangeError('a cluster client needs at least one node');
    this.nodes = nodes.map(({ host = '127.0.0.1', port }) => ({ host, port }));
    this.wait = wait;
    this._connectOptions = connectOptions;
    this._conns = new Map(); // 'host:port' -> Promise<Connection>
    this._leader = null;
    this._nextRead = 0;
  }

  // The node this client last found leading ({ host, port }), or null.
  get leader() {
    return this._leader;
  }

  async _conn(node) {
    const key = `${node.host}:${node.port}`;
    let p = this._conns.get(key);
    if (p) {
      // Let pending socket events land first: a node that died since this
      // connection's last use shows as closed now, before a commit is sent
      // on it (after, its outcome would be unknown).
      await new Promise((r) => setImmediate(r));
      const conn = await p.catch(() => null);
      if (conn && !conn.closed) return conn;
      this._conns.delete(key);
    }
    p = connect({ ...this._connectOptions, host: node.host, port: node.port });
    this._conns.set(key, p);
    p.catch(() => this._conns.delete(key));
    return p;
  }

  _drop(node) {
    const key = `${node.host}:${node.port}`;
    const p = this._conns.get(key);
    this._conns.delete(key);
    if (p) p.then((c) => c.close()).catch(() => {});
  }

  _after(node) {
    const i = this.nodes.findIndex((n) => n.host === node.host && n.port === node.port);
    return this.nodes[(i + 1) % this.nodes.length];
  }

  // conn.runTransaction(fn, options) on the leader, wherever it is now.
  async runTransaction(fn, options) {
    const deadline = Date.now() + this.wait;
    let node = this._leader || this.nodes[0];
    let delay = 10;
    for (;;) {
      try {
        const conn = await this._conn(node);
        const result = await conn.runTransaction(fn, options);
        this._leader = node;
        return result;
      } catch (e) {
        if (e instanceof errors.NotLeaderError) {
          const m = LEADER.exec(e.message);
          this._leader = m ? { host: m[1], port: Number(m[2]) } : null;
          if (m) {
            node = this._leader;
            continue; // straight there
          }
          node = this._after(node);
        } else if (e instanceof errors.UnavailableError || e instanceof errors.OutcomeUnknownError) {
          if (!beforeCommit(e)) throw e;
          this._drop(node);
          node = this._after(node);
        } else if (e instanceof errors.OperationalError) {
          this._drop(node); // could not connect, or lost before the commit was sent
          node = this._after(node);
        } else {
          throw e;
        }
      }
      if (Date.now() + delay > deadline) {
        throw new errors.OperationalError(`no leader found within ${this.wait} ms`);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 250);
    }
  }

  // A read-only transaction (fn selects with 'r' only) on the next node in
  // turn, moving on when a node cannot answer.
  // opts.staleMs: the read may see a state up to that many ms old, and a
  // follower answers it without asking the leader first ((acquire T (stale
  // MS)), lang-docs/cluster.md).
  async runRead(fn, opts = {}) {
    const { staleMs } = opts;
    if (staleMs !== undefined && staleMs !== null) {
      wire.acquire('t', null, staleMs); // a bad bound is refused here, not on every node
      const inner = fn;
      fn = (tx) => {
        tx.staleMs = staleMs;
        return inner(tx);
      };
    }
    const deadline = Date.now() + this.wait;
    const start = this._nextRead;
    this._nextRead = (this._nextRead + 1) % this.nodes.length;
    let delay = 10;
    for (let k = 0; ; ) {
      const node = this.nodes[(start + k) % this.nodes.length];
      k++;
      try {
        const conn = await this._conn(node);
        return await conn.runTransaction(fn);
      } catch (e) {
        if ((e instanceof errors.UnavailableError || e instanceof errors.OutcomeUnknownError) && !beforeCommit(e)) throw e;
        if (!(e instanceof errors.OperationalError || e instanceof errors.UnavailableError)) throw e;
        this._drop(node);
      }
      if (Date.now() + delay > deadline) throw new errors.OperationalError(`no node could answer the read within ${this.wait} ms`);
      if (k % this.nodes.length === 0) {
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 250);
      }
    }
  }

  async end() {
    const all = [...this._conns.values()];
    this._conns.clear();
    await Promise.all(all.map((p) => p.then((c) => c.close()).catch(() => {})));
  }
}

// Whether an unavailable answer came to the acquire (a read that could not
// be made current): then nothing happened and trying again is safe.
function beforeCommit(e) {
  return e instanceof errors.UnavailableError && typeof e.statement === 'string' && e.statement.trimStart().startsWith('(acquire');
}

module.exports = { ClusterClient };
