'use strict';
// One connection to a ParenDB server. Promise-based; many requests may be in
// flight at once (pipelining): each sends its statements in one write, and
// the answers come back in the order the requests were sent.

const net = require('node:net');
const wire = require('./wire');
const errors = require('./errors');
const { Pending, TxBuilder, batchText, hasCommit, hasError, settle, retry, pathText } = require('./transaction');
const { f } = require('./expr');

const DEFAULT_PORT = 7420;

// The connection ended before every answer of a request came.
class Lost extends Error {
  constructor(lines, error) {
    super(error.message);
    this.lines = lines;
    this.error = error;
  }
}

class Connection {
  // Use connect(); options as there.
  constructor(socket, options) {
    this.host = options.host;
    this.port = options.port;
    this.path = options.path;
    this.timeout = options.timeout ?? 0;
    this.liveTransactions = 0;
    this._socket = socket;
    this._waiting = [];
    this._head = 0; // index of the first waiter still owed answers
    this._partial = '';
    this._txCount = 0;
    this._closed = false;
    socket.setEncoding('utf8'); // splits between a character's bytes are handled
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this._onData(chunk));
    socket.on('error', (e) => this._fail(e));
    socket.on('close', () => this._fail(new Error('the server closed the connection')));
  }

  get closed() {
    return this._closed;
  }

  _onData(chunk) {
    let start = 0;
    let nl = chunk.indexOf('\n');
    if (nl < 0) {
      this._partial += chunk;
      return;
    }
    while (nl >= 0) {
      let line = chunk.slice(start, nl);
      if (this._partial) {
        line = this._partial + line;
        this._partial = '';
      }
      this._onLine(line);
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    }
    this._partial = chunk.slice(start);
  }

  _onLine(line) {
    const w = this._waiting[this._head];
    if (!w) return this._fail(new errors.ProtocolError(`an answer nobody asked for: ${line.slice(0, 200)}`));
    w.lines.push(line);
    if (w.lines.length === w.n) {
      this._waiting[this._head++] = undefined;
      if (this._head > 1024 && this._head * 2 > this._waiting.length) {
        this._waiting = this._waiting.slice(this._head);
        this._head = 0;
      }
      if (w.timer) clearTimeout(w.timer);
      w.resolve(w.lines);
    }
  }

  _fail(cause) {
    if (this._closed) return;
    this._closed = true;
    this._socket.destroy();
    const what = `connection to ${where(this)} lost (${cause.message})`;
    // Later calls say why: closed by close(), or lost.
    this._closedError = cause instanceof errors.InterfaceError ? cause : new errors.OperationalError(what, { cause });
    for (let i = this._head; i < this._waiting.length; i++) {
      const w = this._waiting[i];
      if (!w) continue;
      if (w.timer) clearTimeout(w.timer);
      const err = w.commit
        ? new errors.OutcomeUnknownError(`${what} after a commit was sent: it may or may not have committed`, { cause })
        : new errors.OperationalError(what, { cause });
      w.reject(err);
    }
    this._waiting = [];
    this._head = 0;
  }

  _exchange(text, n, commit) {
    if (this._closed) return Promise.reject(this._closedError);
    return new Promise((resolve, reject) => {
      const w = { n, lines: [], resolve, commit, timer: null, reject: null };
      w.reject = (err) => reject(new Lost(w.lines, err));
      this._waiting.push(w);
      this._socket.write(text);
      if (this.timeout > 0) {
        w.timer = setTimeout(
          () => this._fail(new Error(`no answer within ${this.timeout} ms; the answers would be out of step`)),
          this.timeout,
        );
      }
    });
  }

  async _roundTrip(stmts) {
    const text = batchText(stmts); // before anything is sent: a bad value sends nothing
    let lines;
    try {
      lines = await this._exchange(text, stmts.length, hasCommit(stmts));
    } catch (e) {
      if (!(e instanceof Lost)) throw e;
      // The server may answer an error and then close (a limit it cannot
      // recover from): that error is the outcome, not 'connection lost'.
      if (hasError(e.lines)) settle(stmts.slice(0, e.lines.length), e.lines);
      throw e.error;
    }
    return settle(stmts, lines);
  }

  // Sends statement text as written; resolves to its `responses` answers
  // (wire.Ok, a JSON value, or a ServerError — returned, not thrown). Named
  // raw because it is: never build `text` from user data.
  async executeRaw(text, responses = 1) {
    try {
      const lines = await this._exchange(text + '\n', responses, text.includes('(commit'));
      return lines.map(wire.parseLine);
    } catch (e) {
      throw e instanceof Lost ? e.error : e;
    }
  }

  _nextName() {
    return `_t${++this._txCount}`;
  }

  // Closes the connection; the server closes its live transactions.
  async close() {
    if (this._closed) return;
    const closed = new Promise((r) => this._socket.once('close', r));
    this._fail(new errors.InterfaceError('the connection was closed'));
    await closed;
  }

  async ping() {
    await this._roundTrip([{ text: '(ping)', kind: 'ok' }]);
  }
  // The collections' names, sorted.
  async colls() {
    return (await this._roundTrip([{ text: '(colls)', kind: 'json' }]))[0];
  }
  // Makes a collection; with existOk an existing one is fine. Resolves to
  // whether it was made.
  async mkcoll(name, { existOk = false } = {}) {
    try {
      await this._roundTrip([{ text: `(mkcoll ${wire.checkName(name, 'collection')})`, kind: 'ok' }]);
      return true;
    } catch (e) {
      if (existOk && e instanceof errors.CollectionExistsError) return false;
      throw e;
    }
  }
  // Drops a collection and its indexes; resolves to whether it was there.
  async rmcoll(name, { missingOk = false } = {}) {
    try {
      await this._roundTrip([{ text: `(rmcoll ${wire.checkName(name, 'collection')})`, kind: 'ok' }]);
      return true;
    } catch (e) {
      if (missingOk && e instanceof errors.UnknownCollectionError) return false;
      throw e;
    }
  }
  async stats() {
    return (await this._roundTrip([{ text: '(stats)', kind: 'json' }]))[0];
  }
  async checkpoint() {
    await this._roundTrip([{ text: '(checkpoint)', kind: 'ok' }]);
  }
  async mkindex(coll, field, { unique = false } = {}) {
    await this._roundTrip([{ text: wire.index('mkindex', coll, pathText(field), unique), kind: 'ok' }]);
  }
  async rmindex(coll, field) {
    await this._roundTrip([{ text: wire.index('rmindex', coll, pathText(field), false), kind: 'ok' }]);
  }
  async indexes(coll) {
    return (await this._roundTrip([{ text: `(indexes ${wire.checkName(coll, 'collection')})`, kind: 'json' }]))[0];
  }

  // A transaction built without I/O and sent whole, in one write, by
  // commit() or close(): see Transaction.
  transaction() {
    return new Transaction(this);
  }

  // An interactive transaction: see InteractiveTransaction.
  begin() {
    return new InteractiveTransaction(this);
  }

  // Calls fn(tx) with an interactive transaction; closes it when fn throws
  // or returns without committing. Resolves to what fn resolved to.
  async withTransaction(fn) {
    const tx = this.begin();
    try {
      return await fn(tx);
    } finally {
      if (tx.live && !this._closed) await tx.close().catch(() => {});
    }
  }

  // Calls fn(tx) with a fresh Transaction, commits it unless fn did, and
  // resolves to what fn resolved to. On deadlock, lock-timeout or conflict
  // it waits (exponential backoff with jitter, in ms) and calls fn again,
  // at most `retries` times. Never retries anything else, nor a commit
  // whose outcome it cannot know.
  runTransaction(fn, options) {
    return retry(async () => {
      const tx = this.transaction();
      const result = await fn(tx);
      if (tx.live) await tx.commit();
      return result;
    }, options);
  }
}

// Statements of a transaction, sent in one write by commit() or close().
//
//   const tx = conn.transaction();
//   const a = tx.select('acc', f('_id').eq(1), 'wn');
//   const b = tx.select('acc', f('_id').eq(2), 'wn');
//   tx.check(a, f('balance').ge(5));
//   tx.update(a, { balance: f('balance').sub(5) });
//   tx.update(b, { balance: f('balance').add(5) });
//   await tx.commit();
//
// Methods that answer return a Pending whose .value is there once it ran.
class Transaction extends TxBuilder {
  constructor(conn) {
    super(conn._nextName());
    this._conn = conn;
    this._stmts = [this.openStmt()];
    // The staleness bound of the acquire the first read implies (see
    // acquire()); ClusterClient.runRead(fn, { staleMs }) sets it.
    this.staleMs = undefined;
  }
  _needAcquired() {
    if (!this.live) throw new errors.InterfaceError('the transaction has run already');
    if (!this.acquired) this._stmts.push(this.acquireStmt(undefined, { staleMs: this.staleMs }));
  }
  // Adds a statement of the read/write stage (built first: a bad value
  // changes nothing), after the implied acquire.
  _add(stmt) {
    this._needAcquired();
    this._stmts.push(stmt);
    return stmt.pending;
  }
  _addSelection(stmt) {
    this._stmts.push(stmt);
  }
  // Implied by the first statement that needs the locks; call it to give
  // a timeout, or { staleMs } for a bounded-staleness read on a cluster node.
  acquire(timeoutMs, opts) {
    this._stmts.push(this.acquireStmt(timeoutMs, opts));
  }
  create(coll, doc) {
    const [stmt, sel] = this.createStmt(coll, doc);
    this._add(stmt);
    return sel;
  }
  readall(sel) {
    return this._add(this.readallStmt(sel, new Pending()));
  }
  read(sel, ...fields) {
    return this._add(this.readStmt(sel, fields, new Pending()));
  }
  update(sel, changes) {
    return this._add(this.updateStmt(sel, changes, new Pending()));
  }
  replace(sel, doc) {
    return this._add(this.replaceStmt(sel, doc, new Pending()));
  }
  delete(sel) {
    return this._add(this.deleteStmt(sel, new Pending()));
  }
  check(sel, condition) {
    this._add(this.checkStmt(sel, condition));
  }
  explain(sel) {
    return this._add(this.explainStmt(sel, new Pending()));
  }
  _finish(commit) {
    this._needAcquired();
    this._stmts.push(this.endStmt(commit));
    return this._stmts;
  }
  // Sends it with (commit …); resolves once the commit is durable.
  async commit() {
    await this._conn._roundTrip(this._finish(true));
  }
  // Sends it with (close …): reads answered, writes discarded.
  async close() {
    await this._conn._roundTrip(this._finish(false));
  }
}

// A transaction driven step by step; open and the selections travel with
// acquire(), every later call is one round trip. A server error ends it.
class InteractiveTransaction extends TxBuilder {
  constructor(conn) {
    super(conn._nextName());
    this._conn = conn;
    this._queued = [this.openStmt()];
    conn.liveTransactions++;
  }
  _ended() {
    if (this.live) {
      this.live = false;
      this._conn.liveTransactions--;
    }
  }
  async _send(stmt) {
    if (!this.live) throw new errors.InterfaceError(`transaction ${this.name} has ended`);
    const stmts = [...this._queued, stmt];
    this._queued = [];
    try {
      const values = await this._conn._roundTrip(stmts);
      return values[values.length - 1];
    } catch (e) {
      this._ended();
      throw e;
    }
  }
  _acquired() {
    if (!this.acquired) throw new errors.InterfaceError('call acquire() first: the locks are taken there');
  }
  _addSelection(stmt) {
    this._queued.push(stmt); // sent with acquire()
  }
  async acquire(timeoutMs, opts) {
    await this._send(this.acquireStmt(timeoutMs, opts));
  }
  async create(coll, doc) {
    this._acquired();
    const [stmt, sel] = this.createStmt(coll, doc);
    await this._send(stmt);
    return sel;
  }
  async readall(sel) {
    this._acquired();
    return this._send(this.readallStmt(sel));
  }
  async read(sel, ...fields) {
    this._acquired();
    return this._send(this.readStmt(sel, fields));
  }
  async update(sel, changes) {
    this._acquired();
    return this._send(this.updateStmt(sel, changes));
  }
  async replace(sel, doc) {
    this._acquired();
    return this._send(this.replaceStmt(sel, doc));
  }
  async delete(sel) {
    this._acquired();
    return this._send(this.deleteStmt(sel));
  }
  async check(sel, condition) {
    this._acquired();
    await this._send(this.checkStmt(sel, condition));
  }
  async explain(sel) {
    return this._send(this.explainStmt(sel));
  }
  async commit() {
    this._acquired();
    const stmt = this.endStmt(true);
    this.live = true;
    try {
      await this._send(stmt);
    } finally {
      this._ended();
    }
  }
  async close() {
    if (!this.live) return;
    if (!this.acquired) {
      this._queued = []; // open and the selections were never sent
      return this._ended();
    }
    const stmt = this.endStmt(false);
    this.live = true;
    try {
      await this._send(stmt);
    } finally {
      this._ended();
    }
  }
}

const where = (o) => (o.path ? `unix:${o.path}` : `${o.host}:${o.port}`);

// Connects (and authenticates when given a password). Options: host
// (default 127.0.0.1), port (7420) — or path, a server's --socket (same host
// only, cheaper than loopback TCP) — password, connectTimeout (ms, default
// 10000), timeout (ms per round trip, lock waits included; default none —
// when it passes the connection is closed, its answers being out of step).
async function connect(options = {}) {
  const opts = { host: '127.0.0.1', port: DEFAULT_PORT, connectTimeout: 10000, ...options };
  const socket = await new Promise((resolve, reject) => {
    const s = opts.path ? net.connect({ path: opts.path }) : net.connect({ host: opts.host, port: opts.port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new errors.OperationalError(`cannot connect to ParenDB at ${where(opts)}: timed out`));
    }, opts.connectTimeout);
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(new errors.OperationalError(`cannot connect to ParenDB at ${where(opts)}: ${e.message}`, { cause: e }));
    });
  });
  const conn = new Connection(socket, opts);
  if (opts.password !== undefined && opts.password !== null) {
    try {
      await conn._roundTrip([{ text: `(auth ${wire.string(opts.password)})`, kind: 'ok' }]);
    } catch (e) {
      await conn.close();
      throw e;
    }
  }
  return conn;
}

module.exports = { Connection, Transaction, InteractiveTransaction, connect, DEFAULT_PORT, f };
