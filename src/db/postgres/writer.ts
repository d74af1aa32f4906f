import type { DatabaseError } from 'pg';
import type { Pool, PoolClient } from './pool.js';
import type { OpArgs, OpName, OpResult } from '../write-ops.js';
import { WriteError, type Writer } from '../writer.js';
import { ONE_STATEMENT, PG_OPS, type PgOpName } from './ops/index.js';

// The PostgreSQL Writer (CONTRACT §7): each operation is its own transaction on a pooled
// connection (one statement's own, for the operations of one statement: ONE_STATEMENT), at READ COMMITTED, committed with synchronous_commit on (openPool), so a promise
// resolves only once its change is durable. Operations run concurrently, up to the pool's size,
// with other instances' too; each operation makes its own decision safe (see ops/). Where the
// database still has to cancel one transaction to let another go on (a deadlock, a serialization
// failure), the operation is run again from the start, a bounded number of times.

/** Runs of one operation at most: a deadlock or serialization failure retried this many times less one. */
export const MAX_RUNS = 5;
const RETRYABLE = new Set(['40001', '40P01']);

/**
 * The SQLite codes the services and the callers already tell apart (better-sqlite3's names), for the
 * same failures here: `SQLITE_CONSTRAINT_PRIMARYKEY` lets createMerchant draw another number.
 */
function sqliteCode(e: Partial<DatabaseError>): string | undefined {
  switch (e.code) {
    case '23505':
      return e.constraint?.endsWith('_pkey') ? 'SQLITE_CONSTRAINT_PRIMARYKEY' : 'SQLITE_CONSTRAINT_UNIQUE';
    case '23503':
      return 'SQLITE_CONSTRAINT_FOREIGNKEY';
    case '23514':
      return 'SQLITE_CONSTRAINT_CHECK';
    case '23502':
      return 'SQLITE_CONSTRAINT_NOTNULL';
    default:
      return undefined;
  }
}

function writeError(err: unknown): WriteError {
  if (err instanceof WriteError) return err;
  const e = err as Partial<DatabaseError> & { message?: string };
  // The SQLSTATE, unless a SQLite code names the failure: a caller can tell "unique" from any other.
  return new WriteError(String(e.message ?? err), sqliteCode(e) ?? (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined));
}

export interface PgWriterStats {
  /** transactions committed */
  commits: number;
  /** runs of an operation cancelled by a deadlock or serialization failure and started again */
  retries: number;
}

export class PgWriter implements Writer {
  private closed = false;
  private readonly inFlight = new Set<Promise<unknown>>();
  readonly stats: PgWriterStats = { commits: 0, retries: 0 };

  constructor(private readonly pool: Pool) {}

  run<N extends OpName>(op: N, args: OpArgs<N>): Promise<OpResult<N>> {
    if (this.closed) return Promise.reject(new WriteError('database writer is closed'));
    const fn = (PG_OPS as unknown as Record<string, ((c: PoolClient, a: unknown) => Promise<unknown>) | undefined>)[op];
    if (typeof fn !== 'function') return Promise.reject(new WriteError(`unknown write operation ${String(op)}`));
    const p = (ONE_STATEMENT.has(op as PgOpName) ? this.single(op, fn, args) : this.transact(fn, args)) as Promise<OpResult<N>>;
    this.inFlight.add(p);
    const done = () => this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  private transact(fn: (c: PoolClient, a: unknown) => Promise<unknown>, args: unknown): Promise<unknown> {
    return this.attempts(
      async (client) => {
        await client.query('BEGIN');
        const value = await fn(client, args);
        await client.query('COMMIT');
        return value;
      },
      async (client) => {
        try {
          await client.query('ROLLBACK');
          return undefined;
        } catch (rollbackErr) {
          // The connection is gone or unusable: the pool must not hand it out again.
          return rollbackErr as Error;
        }
      },
    );
  }

  /**
   * An operation of one statement, in that statement's own transaction (no BEGIN, no COMMIT): on
   * a second statement it fails before sending it, as a flaw of the operation, not of the data.
   */
  private single(op: string, fn: (c: PoolClient, a: unknown) => Promise<unknown>, args: unknown): Promise<unknown> {
    return this.attempts(
      (client) => {
        let sent = 0;
        const once = {
          query: (...a: Parameters<PoolClient['query']>) => {
            if (++sent > 1) throw new WriteError(`write operation ${op} sent a second statement outside a transaction`);
            return (client.query as (...x: unknown[]) => unknown)(...a);
          },
        } as unknown as PoolClient;
        return fn(once, args);
      },
      // Not an answer of the server (a connection lost, a flawed operation): the pool must not hand the connection out again.
      async (_client, err) => ((err as Partial<DatabaseError>).severity === undefined ? (err as Error) : undefined),
    );
  }

  /**
   * Runs `body` on a pooled connection, again (up to MAX_RUNS) when PostgreSQL cancelled it for a
   * deadlock or a serialization failure. `failed` cleans up after an error and answers why the
   * connection must not be reused, if it must not.
   */
  private async attempts(
    body: (client: PoolClient) => Promise<unknown>,
    failed: (client: PoolClient, err: unknown) => Promise<Error | undefined>,
  ): Promise<unknown> {
    for (let run = 1; ; run++) {
      let client: PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw writeError(err);
      }
      let broken: Error | undefined;
      try {
        const value = await body(client);
        this.stats.commits++;
        return value;
      } catch (err) {
        broken = await failed(client, err);
        const code = (err as { code?: string }).code;
        if (code !== undefined && RETRYABLE.has(code) && run < MAX_RUNS) {
          this.stats.retries++;
          continue;
        }
        throw writeError(err);
      } finally {
        client.release(broken);
      }
    }
  }

  /** Refuses new operations and waits for those in flight to commit or fail. The pool is the caller's to end. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}
