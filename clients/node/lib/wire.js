'use strict';
// The wire format, in one place: JavaScript values to statement text, and
// response lines to values. Strings are written as JSON strings (a quote, a
// parenthesis, a ';' or a newline inside one is data, never syntax), names
// are checked against the contract's name rule, and field paths are always
// written in their quoted form (f "a" "b" 0). Nothing here takes statement
// text from the caller.

const errors = require('./errors');
const json = require('./json');

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const ANY_SURROGATE = /[\ud800-\udfff]/; // cheap: most strings have none
const LONE_SURROGATE = /\p{Surrogate}/u; // in u-mode a well-formed pair is one code point

// Words that cannot name a transaction, selection or collection.
const RESERVED = new Set(
  ('r wn wb coll f true false null open select selects acquire create readall read update updateall ' +
    'delete check commit close mkcoll rmcoll colls ping stats checkpoint auth mkindex rmindex indexes ' +
    'explain cluster').split(' '),
);

const LOCK_MODES = new Set(['r', 'wn', 'wb']);

// A number to be written as a double even when it is integral: double(2)
// is 2.0 (a plain 2 is the integer 2).
class Double {
  constructor(value) {
    if (typeof value !== 'number') throw new TypeError('double() takes a number');
    this.value = value;
  }
}
const double = (v) => new Double(v);

function checkName(name, what = 'name') {
  if (typeof name !== 'string') throw new TypeError(`a ${what} must be a string, not ${typeof name}`);
  if (!NAME.test(name) || RESERVED.has(name)) {
    throw new RangeError(
      `${what} ${JSON.stringify(name)} is not a valid name: names match [A-Za-z_][A-Za-z0-9_-]* and are not reserved words`,
    );
  }
  return name;
}

function string(s) {
  if (ANY_SURROGATE.test(s) && LONE_SURROGATE.test(s)) {
    throw new RangeError('a string holds a lone surrogate, which UTF-8 cannot carry; nothing was sent');
  }
  return JSON.stringify(s);
}

function number(n) {
  if (!Number.isFinite(n)) throw new RangeError(`${n} cannot be stored (JSON has no NaN or infinity)`);
  if (Number.isInteger(n) && !Object.is(n, -0)) {
    // Beyond 2^53 a JavaScript number is a double; write it as one.
    return Number.isSafeInteger(n) ? String(n) : n.toExponential();
  }
  return doubleText(n);
}

function doubleText(n) {
  if (!Number.isFinite(n)) throw new RangeError(`${n} cannot be stored (JSON has no NaN or infinity)`);
  if (Object.is(n, -0)) return '-0.0';
  const s = String(n);
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

function bigint(b) {
  if (b < INT64_MIN || b > INT64_MAX) {
    throw new RangeError(`integer ${b} does not fit in a signed 64-bit integer`);
  }
  return b.toString();
}

// A literal: null, true, false, a number, a bigint or a string.
function literal(v) {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      return number(v);
    case 'bigint':
      return bigint(v);
    case 'string':
      return string(v);
    default:
      if (v instanceof Double) return doubleText(v.value);
      throw new TypeError(
        `${describe(v)} is not a literal: expressions take null, booleans, numbers, bigints and strings ` +
          '(arrays and objects go in documents)',
      );
  }
}

function describe(v) {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : `a ${v.constructor?.name ?? 'object'}`;
  return `a ${typeof v}`;
}

// The text of recently used one-step paths: f('_id') is written often.
const oneStep = new Map();

// A field path in its quoted form: (f "a" "b" 0).
function path(steps) {
  if (steps.length === 1 && typeof steps[0] === 'string') {
    let text = oneStep.get(steps[0]);
    if (text === undefined) {
      text = `(f ${string(steps[0])})`;
      if (steps[0].length <= 256) {
        if (oneStep.size >= 4096) oneStep.clear();
        oneStep.set(steps[0], text);
      }
    }
    return text;
  }
  if (steps.length === 0) throw new RangeError('a field path needs at least one step');
  let s = '(f';
  for (const step of steps) {
    if (typeof step === 'string') s += ' ' + string(step);
    else if (Number.isSafeInteger(step) && step >= 0) s += ' ' + step;
    else throw new TypeError(`a path step is a string (member) or a non-negative integer (index), not ${String(step)}`);
  }
  return s + ')';
}

function isPlainObject(v) {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

// A value of a document as JSON (BigInt and double() included): objects
// and arrays here, scalars as literals.
function jsonValue(v, depth) {
  if (depth > 10000) throw new RangeError('document nested too deeply');
  if (v === null || typeof v !== 'object' || v instanceof Double) {
    if (typeof v === 'function' || typeof v === 'symbol' || v === undefined) {
      throw new TypeError(`${describe(v)} cannot be stored in a document`);
    }
    return literal(v);
  }
  if (Array.isArray(v)) {
    return '[' + v.map((e) => (e === undefined ? 'null' : jsonValue(e, depth + 1))).join(',') + ']';
  }
  if (!isPlainObject(v)) {
    throw new TypeError(`${describe(v)} cannot be stored in a document (plain objects, arrays and scalars can)`);
  }
  const parts = [];
  for (const k of Object.keys(v)) {
    if (v[k] === undefined) continue; // as JSON.stringify does
    parts.push(string(k) + ':' + jsonValue(v[k], depth + 1));
  }
  return '{' + parts.join(',') + '}';
}

function document(doc) {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || !isPlainObject(doc)) {
    throw new TypeError(`a document is a plain object, not ${describe(doc)}`);
  }
  return jsonValue(doc, 0);
}

// ----------------------------------------------------------------- responses

// An (ok WORD …) response: its words. (ok updated 3) is Ok ['updated', '3'].
class Ok {
  constructor(words) {
    this.words = words;
  }
}

// One response line: an Ok, a ServerError (returned, not thrown, so that a
// batch reads all its answers first), or the JSON value.
function parseLine(line) {
  if (line.startsWith('(ok')) {
    if (!line.endsWith(')')) throw new errors.ProtocolError(`malformed response line: ${line.slice(0, 200)}`);
    return new Ok(line.length > 4 ? line.slice(4, -1).split(' ') : []);
  }
  if (line.startsWith('(error ')) {
    const space = line.indexOf(' ', 7);
    if (space < 0 || !line.endsWith(')')) throw new errors.ProtocolError(`malformed error line: ${line.slice(0, 200)}`);
    let message;
    try {
      message = JSON.parse(line.slice(space + 1, -1));
    } catch {
      message = line.slice(space + 1, -1);
    }
    return errors.fromResponse(line.slice(7, space), message);
  }
  try {
    return json.parse(line);
  } catch {
    throw new errors.ProtocolError(`response is neither (ok …), (error …) nor JSON: ${line.slice(0, 200)}`);
  }
}

// --------------------------------------------------------------- statements
// Each takes names already checked and condition/expression text already
// built (expr.js), and returns one statement.

function select(sel, tx, lock, coll, cond, many, order, limit) {
  if (!LOCK_MODES.has(lock)) throw new RangeError(`lock must be one of r, wn, wb, not ${JSON.stringify(lock)}`);
  let s = `(${many ? 'selects' : 'select'} ${sel} ${tx} ${lock} (coll ${checkName(coll, 'collection')}) ${cond}`;
  if (order) s += ' ' + order;
  if (limit !== undefined && limit !== null) {
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`limit is a non-negative integer, not ${limit}`);
    s += ` (limit ${limit})`;
  }
  return s + ')';
}

const order = (pathText, descending) => `(order ${pathText} ${descending ? 'desc' : 'asc'})`;

function millis(value, what) {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} is a non-negative integer of milliseconds, not ${value}`);
  }
  return value;
}

// (acquire T [MILLIS] [(stale MS)]): staleMs lets a read-only transaction
// on a cluster node see the state of up to that long ago.
function acquire(tx, timeoutMs, staleMs) {
  let text = `(acquire ${tx}`;
  if (timeoutMs !== undefined && timeoutMs !== null) text += ` ${millis(timeoutMs, 'an acquire timeout')}`;
  if (staleMs !== undefined && staleMs !== null) text += ` (stale ${millis(staleMs, 'a staleness bound')})`;
  return `${text})`;
}

const create = (sel, tx, coll, doc) => `(create ${sel} ${tx} (coll ${checkName(coll, 'collection')})) ${document(doc)}`;
const read = (sel, paths) => (paths.length ? `(read ${sel} ${paths.join(' ')})` : `(read ${sel})`);

function update(sel, pairs) {
  if (pairs.length === 0) throw new RangeError('update needs at least one field to set');
  return `(update ${sel} ${pairs.map(([p, e]) => `${p} ${e}`).join(' ')})`;
}

const updateall = (sel, doc) => `(updateall ${sel}) ${document(doc)}`;
const index = (word, coll, pathText, unique) =>
  `(${word} ${checkName(coll, 'collection')} ${pathText}${unique ? ' unique' : ''})`;

module.exports = {
  INT64_MIN,
  INT64_MAX,
  RESERVED,
  Double,
  double,
  checkName,
  string,
  literal,
  path,
  document,
  Ok,
  parseLine,
  select,
  order,
  acquire,
  create,
  read,
  update,
  updateall,
  index,
};
