// Type declarations for ParenDB's Node.js client.

/** A value a document can hold. BigInt for integers beyond 2^53. */
export type Value = null | boolean | number | bigint | string | Double | Value[] | { [key: string]: Value | undefined };
/** A document: a plain object. */
export type Document = { [key: string]: Value | undefined };
/** What the server answers for a document: `_id` first. */
export type StoredDocument = { _id: number | bigint | string; [key: string]: unknown };
export type Literal = null | boolean | number | bigint | string | Double;
export type LockMode = 'r' | 'wn' | 'wb';
/** A field: a member name, an array of steps, or f(...). */
export type FieldRef = string | Array<string | number> | Field;

export class Double {
  constructor(value: number);
  readonly value: number;
}
/** A number written as a double even when integral: double(2) is 2.0. */
export function double(value: number): Double;

export class Cond {
  readonly text: string;
  and(...others: Cond[]): Cond;
  or(...others: Cond[]): Cond;
  not(): Cond;
}
export class Expr {
  readonly text: string;
  eq(v: Literal | Expr): Cond;
  ne(v: Literal | Expr): Cond;
  lt(v: Literal | Expr): Cond;
  le(v: Literal | Expr): Cond;
  gt(v: Literal | Expr): Cond;
  ge(v: Literal | Expr): Cond;
  in(...values: Array<Literal | Expr> | [Array<Literal | Expr>]): Cond;
  add(v: Literal | Expr): Expr;
  sub(v: Literal | Expr): Expr;
  mul(v: Literal | Expr): Expr;
  div(v: Literal | Expr): Expr;
  mod(v: Literal | Expr): Expr;
  neg(): Expr;
}
export class Field extends Expr {
  readonly steps: Array<string | number>;
  exists(): Cond;
}
/** A field path: f('address', 'city'), f('tags', 0). */
export function f(...steps: Array<string | number> | [Array<string | number>]): Field;
export function and(...conds: Array<Cond | boolean>): Cond;
export function or(...conds: Array<Cond | boolean>): Cond;
export function not(cond: Cond | boolean): Cond;
/** A condition from statement text as written: never pass user data through it. */
export function rawCond(text: string): Cond;
export const TRUE: Cond;
export const FALSE: Cond;

/** An (ok WORD …) answer. */
export class Ok {
  readonly words: string[];
}

export class Selection {
  readonly name: string;
  readonly many: boolean;
}
/** The answer to one statement of a batched transaction, once it ran. */
export class Pending<T = unknown> {
  /** Throws InterfaceError before the transaction ran. */
  readonly value: T;
}

export interface SelectOptions {
  order?: Field;
  descending?: boolean;
  limit?: number;
}
export type Changes = { [field: string]: Literal | Expr } | Array<[FieldRef, Literal | Expr]>;

export interface AcquireOptions {
  /** Bounded staleness in milliseconds (read-only transactions; lang-docs/cluster.md). */
  staleMs?: number;
}

/** Built without I/O; sent in one write by commit() or close(). */
export class Transaction {
  readonly name: string;
  readonly live: boolean;
  /** The staleness bound of the acquire the first read implies (see acquire). */
  staleMs?: number;
  select(coll: string, where?: Cond | boolean, lock?: LockMode, opts?: SelectOptions): Selection;
  selects(coll: string, where?: Cond | boolean, lock?: LockMode, opts?: SelectOptions): Selection;
  /**
   * Where the locks are taken (implied by the first statement that needs
   * them). `staleMs`: a read-only transaction on a cluster node may see the
   * state of up to that many milliseconds ago, without the round trip to
   * the leader a current read pays.
   */
  acquire(timeoutMs?: number | null, opts?: AcquireOptions): void;
  create(coll: string, doc: Document): Selection;
  readall(sel: Selection): Pending<StoredDocument | StoredDocument[] | null>;
  read(sel: Selection, ...fields: FieldRef[]): Pending<StoredDocument | StoredDocument[] | null>;
  update(sel: Selection, changes: Changes): Pending<number>;
  replace(sel: Selection, doc: Document): Pending<number>;
  delete(sel: Selection): Pending<number>;
  check(sel: Selection, cond: Cond | boolean): void;
  explain(sel: Selection): Pending<{ index: string[] | null; [key: string]: unknown }>;
  /** Resolves once the commit is durable. */
  commit(): Promise<void>;
  /** Reads answered, writes discarded. */
  close(): Promise<void>;
}

/** Driven step by step; open and the selections travel with acquire(). */
export class InteractiveTransaction {
  readonly name: string;
  readonly live: boolean;
  select(coll: string, where?: Cond | boolean, lock?: LockMode, opts?: SelectOptions): Selection;
  selects(coll: string, where?: Cond | boolean, lock?: LockMode, opts?: SelectOptions): Selection;
  acquire(timeoutMs?: number | null, opts?: AcquireOptions): Promise<void>;
  create(coll: string, doc: Document): Promise<Selection>;
  readall(sel: Selection): Promise<StoredDocument | StoredDocument[] | null>;
  read(sel: Selection, ...fields: FieldRef[]): Promise<StoredDocument | StoredDocument[] | null>;
  update(sel: Selection, changes: Changes): Promise<number>;
  replace(sel: Selection, doc: Document): Promise<number>;
  delete(sel: Selection): Promise<number>;
  check(sel: Selection, cond: Cond | boolean): Promise<void>;
  explain(sel: Selection): Promise<{ index: string[] | null; [key: string]: unknown }>;
  commit(): Promise<void>;
  close(): Promise<void>;
}

export interface RetryOptions {
  /** Retries after the first attempt (default 10). */
  retries?: number;
  /** First backoff in ms (default 2), doubled each time, with full jitter. */
  backoff?: number;
  /** Largest backoff in ms (default 200). */
  maxBackoff?: number;
}

export interface ConnectOptions {
  host?: string;
  port?: number;
  /** A server's --socket path, instead of host and port (same host only). */
  path?: string;
  password?: string;
  /** ms, default 10000 */
  connectTimeout?: number;
  /** ms per round trip, lock waits included; default none. When it passes the connection is closed. */
  timeout?: number;
}

export class Connection {
  readonly host: string;
  readonly port: number;
  readonly path?: string;
  readonly closed: boolean;
  readonly liveTransactions: number;
  ping(): Promise<void>;
  colls(): Promise<string[]>;
  mkcoll(name: string, opts?: { existOk?: boolean }): Promise<boolean>;
  rmcoll(name: string, opts?: { missingOk?: boolean }): Promise<boolean>;
  stats(): Promise<Record<string, number>>;
  checkpoint(): Promise<void>;
  mkindex(coll: string, field: FieldRef, opts?: { unique?: boolean }): Promise<void>;
  rmindex(coll: string, field: FieldRef): Promise<void>;
  indexes(coll: string): Promise<Array<{ path: Array<string | number>; unique: boolean; [key: string]: unknown }>>;
  transaction(): Transaction;
  begin(): InteractiveTransaction;
  /** Closes the transaction when fn throws or returns without committing. */
  withTransaction<T>(fn: (tx: InteractiveTransaction) => Promise<T>): Promise<T>;
  /** Commits unless fn did; retries deadlock, lock-timeout and conflict only. */
  runTransaction<T>(fn: (tx: Transaction) => T | Promise<T>, opts?: RetryOptions): Promise<T>;
  /** Statement text as written: never build it from user data. */
  executeRaw(text: string, responses?: number): Promise<Array<Ok | ServerError | unknown>>;
  close(): Promise<void>;
}

export function connect(options?: ConnectOptions): Promise<Connection>;

export interface PoolOptions extends ConnectOptions {
  max?: number;
  /** ms to wait for a free connection (default 30000) */
  waitTimeout?: number;
}
export class Pool {
  constructor(options?: PoolOptions);
  readonly size: number;
  acquire(): Promise<Connection>;
  release(conn: Connection): void;
  use<T>(fn: (conn: Connection) => Promise<T>): Promise<T>;
  runTransaction<T>(fn: (tx: Transaction) => T | Promise<T>, opts?: RetryOptions): Promise<T>;
  end(): Promise<void>;
}

export interface ClusterOptions extends ConnectOptions {
  /** every node the client may use */
  nodes: { host?: string; port: number }[];
  /** ms one call rides out elections and unreachable nodes (default 10000) */
  wait?: number;
}
/** A cluster's nodes: updates on the leader (following not-leader), reads spread over every node. */
export class ClusterClient {
  constructor(options: ClusterOptions);
  readonly leader: { host: string; port: number } | null;
  runTransaction<T>(fn: (tx: Transaction) => T | Promise<T>, opts?: RetryOptions): Promise<T>;
  /** opts.staleMs: a bounded-staleness read (lang-docs/cluster.md). */
  runRead<T>(fn: (tx: Transaction) => T | Promise<T>, opts?: AcquireOptions): Promise<T>;
  end(): Promise<void>;
}

export const DEFAULT_PORT: number;

export class ParenDBError extends Error {}
export class OperationalError extends ParenDBError {}
export class OutcomeUnknownError extends OperationalError {}
export class InterfaceError extends ParenDBError {}
export class PoolTimeoutError extends OperationalError {}
export class ServerError extends ParenDBError {
  readonly code: string;
  readonly retryable: boolean;
  statement?: string;
}

export namespace errors {
  export { ParenDBError, OperationalError, OutcomeUnknownError, InterfaceError, PoolTimeoutError, ServerError };
  export class ProtocolError extends OperationalError {}
  export class SyntaxError extends ServerError {}
  export class UnknownStatementError extends ServerError {}
  export class ArityError extends ServerError {}
  export class BadNameError extends ServerError {}
  export class DuplicateNameError extends ServerError {}
  export class UnknownTransactionError extends ServerError {}
  export class UnknownSelectionError extends ServerError {}
  export class UnknownCollectionError extends ServerError {}
  export class CollectionExistsError extends ServerError {}
  export class StageError extends ServerError {}
  export class LockModeError extends ServerError {}
  export class TypeError extends ServerError {}
  export class BadDocumentError extends ServerError {}
  export class DuplicateIdError extends ServerError {}
  export class CheckFailedError extends ServerError {}
  export class LockTimeoutError extends ServerError {}
  export class DeadlockError extends ServerError {}
  export class ConflictError extends ServerError {}
  export class LimitError extends ServerError {}
  export class AuthError extends ServerError {}
  export class IOError extends ServerError {}
  export class InternalError extends ServerError {}
  export class IndexExistsError extends ServerError {}
  export class UnknownIndexError extends ServerError {}
  export class DuplicateKeyError extends ServerError {}
  export class NotLeaderError extends ServerError {}
  export class UnavailableError extends ServerError {}
  export const byCode: Map<string, typeof ServerError>;
  export function outcomeUnknown(err: unknown): boolean;
}
