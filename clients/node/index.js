'use strict';
// ParenDB's Node.js client: see README.md.
const errors = require('./lib/errors');
const wire = require('./lib/wire');
const expr = require('./lib/expr');
const { Connection, Transaction, InteractiveTransaction, connect, DEFAULT_PORT } = require('./lib/connection');
const { Pool } = require('./lib/pool');
const { ClusterClient } = require('./lib/cluster');
const { Selection, Pending } = require('./lib/transaction');

module.exports = {
  connect,
  Connection,
  Pool,
  ClusterClient,
  Transaction,
  InteractiveTransaction,
  Selection,
  Pending,
  DEFAULT_PORT,
  f: expr.f,
  and: expr.and,
  or: expr.or,
  not: expr.not,
  rawCond: expr.rawCond,
  TRUE: expr.TRUE,
  FALSE: expr.FALSE,
  Cond: expr.Cond,
  Expr: expr.Expr,
  double: wire.double,
  Ok: wire.Ok,
  errors,
  ...Object.fromEntries(
    ['ParenDBError', 'ServerError', 'OperationalError', 'OutcomeUnknownError', 'InterfaceError', 'PoolTimeoutError'].map(
      (k) => [k, errors[k]],
    ),
  ),
};
