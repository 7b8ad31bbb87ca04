'use strict';
// Conditions and expressions over fields. JavaScript has no operator
// overloading, so they are built with methods:
//
//   f('balance').ge(5)                         (>= (f "balance") 5)
//   and(f('age').gt(60), not(f('retired').exists()))
//   f('address', 'city').in('Oslo', 'Bergen')
//   f('balance').sub(5)                        (- (f "balance") 5)
//
// Plain values (null, booleans, numbers, bigints, strings, double(x)) become
// literals.

const wire = require('./wire');

class Cond {
  constructor(text) {
    this.text = text;
  }
  and(...others) {
    return and(this, ...others);
  }
  or(...others) {
    return or(this, ...others);
  }
  not() {
    return not(this);
  }
}

class Expr {
  constructor(text) {
    this.text = text;
  }
  eq(v) {
    return new Cond(`(= ${this.text} ${expr(v)})`);
  }
  ne(v) {
    return new Cond(`(!= ${this.text} ${expr(v)})`);
  }
  lt(v) {
    return new Cond(`(< ${this.text} ${expr(v)})`);
  }
  le(v) {
    return new Cond(`(<= ${this.text} ${expr(v)})`);
  }
  gt(v) {
    return new Cond(`(> ${this.text} ${expr(v)})`);
  }
  ge(v) {
    return new Cond(`(>= ${this.text} ${expr(v)})`);
  }
  // (in A V1 V2 …): equal to one of the values (or of one array of them).
  in(...values) {
    if (values.length === 1 && Array.isArray(values[0])) values = values[0];
    if (values.length === 0) return FALSE;
    return new Cond(`(in ${this.text} ${values.map(expr).join(' ')})`);
  }
  add(v) {
    return new Expr(`(+ ${this.text} ${expr(v)})`);
  }
  sub(v) {
    return new Expr(`(- ${this.text} ${expr(v)})`);
  }
  mul(v) {
    return new Expr(`(* ${this.text} ${expr(v)})`);
  }
  div(v) {
    return new Expr(`(/ ${this.text} ${expr(v)})`);
  }
  mod(v) {
    return new Expr(`(% ${this.text} ${expr(v)})`);
  }
  neg() {
    return new Expr(`(- ${this.text})`);
  }
}

class Field extends Expr {
  constructor(steps) {
    super(wire.path(steps));
    this.steps = steps;
  }
  // (exists (f …)): the path resolves (possibly to null).
  exists() {
    return new Cond(`(exists ${this.text})`);
  }
}

// A field path: f('address', 'city'), f('tags', 0), or f(['a', 'b']).
function f(...steps) {
  if (steps.length === 1 && Array.isArray(steps[0])) steps = steps[0];
  return new Field(steps);
}

function expr(v) {
  if (v instanceof Expr) return v.text;
  if (v instanceof Cond) throw new TypeError('a condition is not an expression');
  return wire.literal(v);
}

function cond(c) {
  if (c instanceof Cond) return c.text;
  if (c === true || c === undefined) return 'true';
  if (c === false) return 'false';
  throw new TypeError(`expected a condition (such as f('x').eq(1)), got ${String(c)}`);
}

const and = (...cs) => (cs.length ? new Cond(`(& ${cs.map(cond).join(' ')})`) : TRUE);
const or = (...cs) => (cs.length ? new Cond(`(| ${cs.map(cond).join(' ')})`) : FALSE);
const not = (c) => new Cond(`(! ${cond(c)})`);
const exists = (field) => field.exists();
// A condition from statement text as written. Named raw because it is:
// never pass user data through it.
const rawCond = (text) => new Cond(String(text));

const TRUE = new Cond('true');
const FALSE = new Cond('false');

module.exports = { Cond, Expr, Field, f, expr, cond, and, or, not, exists, rawCond, TRUE, FALSE };
