'use strict';
// JSON text to values, keeping integers beyond 2^53 exact as BigInt (the
// server's integers are 64-bit). JSON.parse does the work unless the text
// holds a run of 16 or more digits; only then does this parser run.

const LONG_DIGITS = /\d{16}/;

function parse(text) {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  const p = new Parser(text);
  const v = p.value();
  p.ws();
  if (p.i !== text.length) p.fail('trailing characters');
  return v;
}

class Parser {
  constructor(s) {
    this.s = s;
    this.i = 0;
  }
  fail(what) {
    throw new SyntaxError(`JSON: ${what} at ${this.i}`);
  }
  ws() {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
      this.i++;
    }
  }
  value() {
    this.ws();
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]]) {
      if (this.s.startsWith(word, this.i)) {
        this.i += word.length;
        return v;
      }
    }
    return this.fail('unexpected character');
  }
  object() {
    const o = {};
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return o;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('expected a member name');
      const k = this.string();
      this.ws();
      if (this.s[this.i++] !== ':') this.fail("expected ':'");
      Object.defineProperty(o, k, { value: this.value(), writable: true, enumerable: true, configurable: true });
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') return o;
      if (c !== ',') this.fail("expected ',' or '}'");
    }
  }
  array() {
    const a = [];
    this.i++;
    this.ws();
    if (this.s[this.i] === ']') {
      this.i++;
      return a;
    }
    for (;;) {
      a.push(this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') return a;
      if (c !== ',') this.fail("expected ',' or ']'");
    }
  }
  string() {
    const start = this.i;
    const s = this.s;
    let j = start + 1;
    while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
    if (j >= s.length) this.fail('unterminated string');
    this.i = j + 1;
    return JSON.parse(s.slice(start, j + 1));
  }
  number() {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.s.slice(this.i, this.i + 400));
    if (!m) this.fail('bad number');
    this.i += m[0].length;
    if (m[2] === undefined && m[3] === undefined) {
      const n = Number(m[0]);
      return Number.isSafeInteger(n) ? n : BigInt(m[0]);
    }
    return Number(m[0]);
  }
}

module.exports = { parse };
