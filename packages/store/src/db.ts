import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresAdapter, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from './database.js';
import { StoreError } from './errors.js';

export type DbKind = 'sqlite' | 'postgres';

export interface CreateDbOptions {
  /**
   * `sqlite:PATH`, `sqlite::memory:`, a plain file path (SQLite), or `postgres://…` /
   * `postgresql://…` (PostgreSQL).
   */
  url: string;
  /** PostgreSQL only: `search_path` for every connection of the pool (e.g. a per-test schema). */
  searchPath?: string;
  /** PostgreSQL only: pool size (default 10). */
  maxConnections?: number;
  /** SQLite only: how long a writer waits for another process's lock, ms (default 5000). */
  busyTimeoutMs?: number;
}

/** What `createDb` resolved the URL to. */
export type DbTarget = { kind: 'sqlite'; filename: string } | { kind: 'postgres'; connectionString: string };

export function parseDbUrl(url: string): DbTarget {
  const u = url.trim();
  if (u === '') throw new StoreError('ERR_DB_URL_INVALID', 'the database URL is empty');
  if (/^postgres(ql)?:\/\//i.test(u)) return { kind: 'postgres', connectionString: u };
  if (/^sqlite:/i.test(u)) {
    let rest = u.slice('sqlite:'.length);
    if (rest.startsWith('//')) rest = rest.slice(2); // sqlite://relative or sqlite:///absolute
    if (rest === '') throw new StoreError('ERR_DB_URL_INVALID', `no SQLite file in "${url}"`);
    return { kind: 'sqlite', filename: rest };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(u)) throw new StoreError('ERR_DB_URL_INVALID', `unsupported database URL scheme in "${url}"`);
  return { kind: 'sqlite', filename: u };
}

/** int8 (count(*), bigint ids and folios) as a JS number; refuses values that would lose precision. */
export function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} is outside the safe integer range`);
  return n;
}

const PG_INT8 = 20;
const PG_NUMERIC = 1700;

/** Per-pool type parsers: int8 → number (checked), numeric → string (kept exact, on purpose). */
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === PG_INT8 && format !== 'binary') return parseInt8;
    if (oid === PG_NUMERIC && format !== 'binary') return (v: string) => v;
    return format === undefined ? pg.types.getTypeParser(oid) : pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/**
 * A Kysely instance for the URL. SQLite: better-sqlite3 with WAL, synchronous=FULL (a committed
 * folio survives power loss), busy_timeout and foreign keys on. PostgreSQL: a pg Pool with int8
 * parsed to number. The schema and repositories are the same on both; run `migrateToLatest` first.
 */
export function createDb(options: CreateDbOptions): Kysely<Database> {
  const target = parseDbUrl(options.url);
  if (target.kind === 'sqlite') {
    const database = new BetterSqlite3(target.filename);
    database.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = FULL');
    database.pragma('foreign_keys = ON');
    return new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  }
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    max: options.maxConnections ?? 10,
    types: pgTypes,
    ...(options.searchPath === undefined ? {} : { options: `-c search_path=${quoteSearchPath(options.searchPath)}` }),
  });
  // An idle connection that dies (server restart, network cut) is dropped from the pool and the next
  // query opens a new one; without a listener its 'error' event would crash the process.
  pool.on('error', () => undefined);
  // The same for a connection that dies while checked out between queries: the query in flight (if
  // any) fails with the error; the event itself must not reach the process.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

function quoteSearchPath(searchPath: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_$]*(,[A-Za-z_][A-Za-z0-9_$]*)*$/.test(searchPath)) {
    throw new StoreError('ERR_DB_URL_INVALID', `searchPath "${searchPath}" must be plain schema names separated by commas`);
  }
  return searchPath;
}

/** Which database a Kysely instance (or transaction, or `Kysely<any>` in a migration) talks to. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function dbKind(db: Kysely<any>): DbKind {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/**
 * Run `fn` in a transaction that holds the write lock from its first statement. PostgreSQL: a plain
 * transaction (row locks are taken as statements run). SQLite: `BEGIN IMMEDIATE`, because a deferred
 * transaction that reads before it writes can fail with SQLITE_BUSY when another process wrote in
 * between; IMMEDIATE waits (busy_timeout) instead. Use the `trx` given to `fn`, never `db`, inside.
 */
export async function writeTransaction<T>(db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  if (dbKind(db) === 'postgres') return db.transaction().execute(fn);
  return db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      const result = await fn(conn);
      await sql`commit`.execute(conn);
      return result;
    } catch (e) {
      await sql`rollback`.execute(conn);
      throw e;
    }
  });
}
