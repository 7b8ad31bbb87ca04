'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const wire = require('../lib/wire');
const json = require('../lib/json');
const errors = require('../lib/errors');
const { f, and, or, not } = require('../lib/expr');

test('literals', () => {
  assert.equal(wire.literal(null), 'null');
  assert.equal(wire.literal(true), 'true');
  assert.equal(wire.literal(-12), '-12');
  assert.equal(wire.literal(2.5), '2.5');
  assert.equal(wire.literal(wire.double(2)), '2.0');
  assert.equal(wire.literal(1e300), '1e+300');
  assert.equal(wire.literal(2 ** 60), '1.152921504606847e+18'); // a double beyond 2^53 stays one
  assert.equal(wire.literal(2n ** 63n - 1n), '9223372036854775807');
  assert.throws(() => wire.literal(2n ** 63n), RangeError);
  assert.throws(() => wire.literal(NaN), RangeError);
  assert.throws(() => wire.literal(Infinity), RangeError);
  assert.throws(() => wire.literal([1]), TypeError);
  assert.throws(() => wire.literal(undefined), TypeError);
  for (const s of ['a"b', '(rmcoll c)', 'x) (delete s', '; c', 'line\nbreak', '\\', '\u0000', 'é😀']) {
    assert.equal(JSON.parse(wire.literal(s)), s);
    assert.ok(!wire.literal(s).includes('\n'));
  }
  assert.throws(() => wire.literal('a\ud800b'), /surrogate/);
  assert.throws(() => wire.literal('\udc00'), /surrogate/);
  assert.equal(wire.literal('😀'), '"😀"'); // a pair is fine
});

test('names and paths', () => {
  for (const ok of ['a', '_x', 'acc-2']) assert.equal(wire.checkName(ok), ok);
  for (const bad of ['', '9a', 'a b', 'a(', 'é', 'select', 'coll', 'null', 'mkindex', 'wn']) {
    assert.throws(() => wire.checkName(bad), RangeError, bad);
  }
  assert.equal(f('a', 'b', 0).text, '(f "a" "b" 0)');
  assert.equal(f('first name').text, '(f "first name")');
  assert.equal(f('")(').text, '(f "\\")(")');
  assert.throws(() => f('a', -1), TypeError);
  assert.throws(() => f(), RangeError);
});

test('conditions', () => {
  const c = or(and(f('age').gt(60), not(f('x').exists())), f('n').eq(null));
  assert.equal(c.text, '(| (& (> (f "age") 60) (! (exists (f "x")))) (= (f "n") null))');
  assert.equal(f('a').mul(2).neg().text, '(- (* (f "a") 2))');
  assert.equal(f('a').in([1, 'x']).text, '(in (f "a") 1 "x")');
  assert.equal(f('a').in().text, 'false');
  assert.equal(f('a').gt(1).and(f('b').lt(2)).text, '(& (> (f "a") 1) (< (f "b") 2))');
});

test('documents', () => {
  assert.equal(wire.document({ a: [1, 2.5, null, { b: 'c' }], n: 10n ** 18n }), '{"a":[1,2.5,null,{"b":"c"}],"n":1000000000000000000}');
  assert.equal(wire.document({ u: undefined, a: [undefined] }), '{"a":[null]}');
  assert.throws(() => wire.document([1]), TypeError);
  assert.throws(() => wire.document({ d: new Date() }), TypeError);
  assert.throws(() => wire.document({ m: new Map() }), TypeError);
  assert.throws(() => wire.document({ a: NaN }), RangeError);
  assert.throws(() => wire.document({ ['\ud800']: 1 }), /surrogate/);
});

test('responses', () => {
  assert.deepEqual(wire.parseLine('(ok updated 3)').words, ['updated', '3']);
  assert.deepEqual(wire.parseLine('{"_id":1,"a":[1,2.0]}'), { _id: 1, a: [1, 2] });
  assert.equal(wire.parseLine('null'), null);
  assert.deepEqual(wire.parseLine('[9223372036854775807,-9007199254740993,9007199254740991,1.5e300]'),
    [9223372036854775807n, -9007199254740993n, 9007199254740991, 1.5e300]);
  assert.deepEqual(json.parse('{"s":"12345678901234567890","n":12345678901234567890.5}'),
    { s: '12345678901234567890', n: 12345678901234567890.5 });
  const e = wire.parseLine('(error check-failed "no \\"quote\\"")');
  assert.ok(e instanceof errors.CheckFailedError);
  assert.equal(e.code, 'check-failed');
  assert.equal(e.message, 'no "quote"');
  assert.throws(() => wire.parseLine('garbage'), errors.ProtocolError);
});

test('every error code has its class', () => {
  const codes = ('syntax unknown-statement arity bad-name duplicate-name unknown-transaction unknown-selection ' +
    'unknown-collection collection-exists stage lock-mode type bad-document duplicate-id check-failed lock-timeout ' +
    'deadlock conflict limit auth io internal index-exists unknown-index duplicate-key not-leader unavailable').split(' ');
  for (const code of codes) {
    const e = wire.parseLine(`(error ${code} "m")`);
    assert.equal(e.constructor, errors.byCode.get(code));
    assert.equal(e.code, code);
    assert.ok(e instanceof errors.ServerError);
    assert.equal(e.retryable, ['deadlock', 'lock-timeout', 'conflict'].includes(code));
  }
  assert.deepEqual([...errors.byCode.keys()].sort(), [...codes].sort());
  assert.ok(errors.outcomeUnknown(wire.parseLine('(error unavailable "m")')));
  const unknown = wire.parseLine('(error brand-new "m")');
  assert.equal(unknown.constructor, errors.ServerError);
  assert.equal(unknown.code, 'brand-new');
});

test('acquire: a timeout, then a staleness bound', () => {
  assert.equal(wire.acquire('t'), '(acquire t)');
  assert.equal(wire.acquire('t', 500), '(acquire t 500)');
  assert.equal(wire.acquire('t', null, 100), '(acquire t (stale 100))');
  assert.equal(wire.acquire('t', 0, 0), '(acquire t 0 (stale 0))');
  for (const bad of [-1, 1.5, '5', true]) {
    assert.throws(() => wire.acquire('t', null, bad), RangeError);
    assert.throws(() => wire.acquire('t', bad), RangeError);
  }
});
