'use strict';
// What every transaction shares: how its statements are built, and how a
// batch's answers are settled. No I/O here.

const wire = require('./wire');
const errors = require('./errors');
const { Field, expr, cond } = require('./expr');

// A selection of a transaction: pass it to read, update, check, …
class Selection {
  constructor(name, many, tx) {
    this.name = name;
    this.many = many;
    this.tx = tx;
  }
}

// The answer to one statement of a batched transaction, once it ran.
class Pending {
  #done = false;
  #value;
  set(v) {
    this.#value = v;
    this.#done = true;
  }
  get value() {
    if (!this.#done) throw new errors.InterfaceError('this answer is not there: the transaction has not run (or failed before it)');
    return this.#value;
  }
}

function pathText(key) {
  if (key instanceof Field) return key.text;
  if (Array.isArray(key)) return wire.path(key);
  if (typeof key === 'string') return wire.path([key]);
  throw new TypeError(`a field is a name, an array of steps or f(...), not ${String(key)}`);
}

// An update's changes: an object { name: valueOrExpr } or an array of
// [field, valueOrExpr] pairs (fields as names, arrays of steps or f()).
function changesText(changes) {
  const entries = Array.isArray(changes) ? changes : Object.entries(changes ?? {});
  return entries.map(([k, v]) => [pathText(k), expr(v)]);
}

// A statement: { text, kind: 'ok' | 'count' | 'json' | 'commit', pending }.
class TxBuilder {
  constructor(name) {
    this.name = name;
    this.selections = 0;
    this.acquired = false;
    this.live = true;
  }
  own(sel) {
    if (!(sel instanceof Selection) || sel.tx !== this) {
      throw new errors.InterfaceError('not a selection of this transaction');
    }
    return sel.name;
  }
  openStmt() {
    return { text: `(open ${this.name})`, kind: 'ok' };
  }
  selectStmt(coll, where, lock = 'r', many, opts = {}) {
    if (this.acquired) throw new errors.InterfaceError('select comes before acquire');
    const sel = new Selection(`${this.name}s${this.selections++}`, many, this);
    let orderText = '';
    if (opts.order !== undefined) {
      if (!(opts.order instanceof Field)) throw new TypeError('order takes a field path, f(...)');
      orderText = wire.order(opts.order.text, Boolean(opts.descending));
    }
    const text = wire.select(sel.name, this.name, lock, coll, cond(where), many, orderText, opts.limit);
    return [{ text, kind: 'ok' }, sel];
  }
  // At most one document: the first matching (by _id, or by opts.order).
  // opts: { order: f(...), descending, limit }.
  select(coll, where, lock = 'r', opts) {
    const [stmt, sel] = this.selectStmt(coll, where, lock, false, opts);
    this._addSelection(stmt);
    return sel;
  }
  // Every matching document (or the first opts.limit).
  selects(coll, where, lock = 'r', opts) {
    const [stmt, sel] = this.selectStmt(coll, where, lock, true, opts);
    this._addSelection(stmt);
    return sel;
  }
  acquireStmt(timeoutMs, opts) {
    if (this.acquired) throw new errors.InterfaceError('the transaction has acquired its locks already');
    const text = wire.acquire(this.name, timeoutMs, opts?.staleMs); // a bad value changes nothing
    this.acquired = true;
    return { text, kind: 'ok' };
  }
  createStmt(coll, doc) {
    const sel = new Selection(`${this.name}s${this.selections++}`, false, this);
    return [{ text: wire.create(sel.name, this.name, coll, doc), kind: 'ok' }, sel];
  }
  readallStmt(sel, pending) {
    return { text: `(readall ${this.own(sel)})`, kind: 'json', pending };
  }
  readStmt(sel, fields, pending) {
    return { text: wire.read(this.own(sel), fields.map(pathText)), kind: 'json', pending };
  }
  updateStmt(sel, changes, pending) {
    return { text: wire.update(this.own(sel), changesText(changes)), kind: 'count', pending };
  }
  replaceStmt(sel, doc, pending) {
    return { text: wire.updateall(this.own(sel), doc), kind: 'count', pending };
  }
  deleteStmt(sel, pending) {
    return { text: `(delete ${this.own(sel)})`, kind: 'count', pending };
  }
  checkStmt(sel, condition) {
    return { text: `(check ${this.own(sel)} ${cond(condition)})`, kind: 'ok' };
  }
  explainStmt(sel, pending) {
    return { text: `(explain ${this.own(sel)})`, kind: 'json', pending };
  }
  endStmt(commit) {
    this.live = false;
    return { text: `(${commit ? 'commit' : 'close'} ${this.name})`, kind: commit ? 'commit' : 'ok' };
  }
}

// One write for a batch: a statement per line, so that should one ever be
// unreadable, the server's discard-to-end-of-line takes nothing else.
const batchText = (stmts) => stmts.map((s) => s.text).join('\n') + '\n';
const hasCommit = (stmts) => stmts.some((s) => s.kind === 'commit');

// Gives each statement its answer (from its response line); throws the
// first error (the ones after it are its consequences: the error closed the
// transaction).
function settle(stmts, lines) {
  let first;
  const values = [];
  for (let i = 0; i < lines.length; i++) {
    const { text, kind, pending } = stmts[i];
    const line = lines[i];
    let value;
    if (kind !== 'json' && line.startsWith('(ok ') && line.endsWith(')')) {
      // The common answer, read without building an Ok.
      value = kind === 'count' ? Number(line.slice(line.lastIndexOf(' ') + 1, -1)) : undefined;
    } else {
      const reply = wire.parseLine(line);
      if (reply instanceof errors.ServerError) {
        if (!first) {
          reply.statement = text.length <= 200 ? text : text.slice(0, 200) + '…';
          first = reply;
        }
        values.push(reply);
        continue;
      }
      if (kind !== 'json' || reply instanceof wire.Ok) {
        throw new errors.ProtocolError(`unexpected answer to ${text.slice(0, 80)}: ${line.slice(0, 200)}`);
      }
      value = reply;
    }
    if (pending) pending.set(value);
    values.push(value);
  }
  if (first) throw first;
  return values;
}

const hasError = (lines) => lines.some((l) => l.startsWith('(error '));

const RETRYABLE = [errors.DeadlockError, errors.LockTimeoutError, errors.ConflictError];
const isRetryable = (e) => RETRYABLE.some((cls) => e instanceof cls);

// Calls attempt() until it succeeds, or fails with an error that is not
// deadlock, lock-timeout or conflict, or `retries` retries have failed;
// waits with exponential backoff and full jitter in between.
async function retry(attempt, { retries = 10, backoff = 2, maxBackoff = 200 } = {}) {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      if (!isRetryable(e) || n >= retries) throw e;
    }
    const ms = Math.random() * Math.min(maxBackoff, backoff * 2 ** n);
    await new Promise((r) => setTimeout(r, ms));
  }
}

module.exports = { Selection, Pending, TxBuilder, batchText, hasCommit, hasError, settle, retry, isRetryable, pathText };
