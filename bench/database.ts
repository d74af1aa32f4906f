import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { parseConfig } from '../src/config.js';
import { redactedUrl } from '../src/db/database-url.js';
import { openStorage } from '../src/db/open-storage.js';
import { createMerchant } from '../src/services/merchants.js';
import { startThrowawayCluster } from '../scripts/throwaway-postgres.js';
import type { DbChoice } from './db-options.js';
import { atExit, clkTck, createSandboxMerchant, freePort, type Merchant } from './harness.js';

// The database the bench's gateways run on. SQLite: a file per phase in the bench's temporary
// directory, its merchant made by the CLI. PostgreSQL: a fresh database per phase on one server,
// either the one --db-url names or a throwaway cluster started here with fsync on (the bench
// measures durable commits), and a MASTER_KEY of the run's own; each phase's merchant is made
// through the storage port, as the gateway itself would make it. On PostgreSQL the database's work
// is done by other processes than the gateway, so their CPU and memory are read from /proc too,
// when the server runs on this machine.

/** A failure to set up the database, said in one clear line. */
export class DbSetupError extends Error {}

export interface PhaseDb {
  /** the environment naming this phase's database, for the gateway */
  env: Record<string, string>;
  /** what a report calls it: a path, or a URL without its password */
  label: string;
  makeMerchant(): Promise<Merchant>;
  /** orders of `mercNo` whose mercOrderNo starts with `prefix` */
  countOrders(mercNo: string, prefix: string): Promise<number>;
}

export interface BenchDb {
  kind: DbChoice['kind'];
  /** lines for the report's header */
  describe: string[];
  phase(name: string): Promise<PhaseDb>;
  /** CPU seconds the database server's processes have used; 0 on SQLite (in the gateway's process), NaN when unreadable */
  serverCpu(): number;
  /** proportional resident memory (PSS) of the database server's processes, MB; NaN on SQLite or when unreadable */
  serverMemoryMb(): number;
  close(keep: boolean): Promise<void>;
}

export async function openBenchDb(choice: DbChoice, dir: string): Promise<BenchDb> {
  return choice.kind === 'sqlite' ? sqliteBenchDb(dir) : postgresBenchDb(choice.url);
}

function sqliteBenchDb(dir: string): BenchDb {
  return {
    kind: 'sqlite',
    describe: ['  database: SQLite, one file per gateway in the temporary directory (WAL, synchronous=FULL on the writer thread)'],
    async phase(name) {
      const path = join(dir, `${name}.sqlite`);
      return {
        env: { DATABASE_PATH: path },
        label: path,
        makeMerchant: async () => createSandboxMerchant(dir, path),
        async countOrders(mercNo, prefix) {
          const db = new Database(path, { readonly: true });
          try {
            return db.prepare('SELECT count(*) FROM orders WHERE merc_no = ? AND substr(merc_order_no, 1, ?) = ?').pluck().get(mercNo, prefix.length, prefix) as number;
          } finally {
            db.close();
          }
        },
      };
    },
    serverCpu: () => 0,
    serverMemoryMb: () => NaN,
    close: async () => {},
  };
}

async function postgresBenchDb(given: string | undefined): Promise<BenchDb> {
  let adminUrl = given;
  let started: string[] | undefined;
  if (!adminUrl) {
    let cluster;
    try {
      cluster = startThrowawayCluster({ port: await freePort(), durable: true, maxConnections: 100 });
    } catch (err) {
      throw new DbSetupError(`--db postgres: could not start a throwaway PostgreSQL cluster: ${(err as Error).message}`);
    }
    atExit(() => cluster.stop());
    adminUrl = cluster.url;
    started = cluster.settings;
  }
  const shown = redactedUrl(adminUrl);
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  // An error on an idle client (the server stopped) would otherwise end the process unexplained.
  admin.on('error', () => {});
  try {
    await admin.connect();
  } catch (err) {
    await admin.end().catch(() => {});
    throw new DbSetupError(`--db-url ${shown}: cannot connect: ${(err as Error).message || String(err)}`);
  }
  const settings = (
    await admin.query<{ name: string; setting: string }>(
      `SELECT name, current_setting(name) AS setting FROM pg_settings
        WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', 'shared_buffers', 'commit_delay', 'max_connections') ORDER BY name`,
    )
  ).rows;
  const version = String((await admin.query('SHOW server_version')).rows[0].server_version);
  const postmaster = postmasterOf(Number((await admin.query('SELECT pg_backend_pid() AS pid')).rows[0].pid));
  const masterKey = randomBytes(32).toString('hex');
  const made: string[] = [];
  const tag = randomBytes(3).toString('hex');

  return {
    kind: 'postgres',
    describe: [
      `  database: PostgreSQL ${version} at ${shown}${started ? ` (a throwaway cluster started by the bench: ${started.join(', ')}; the rest defaults)` : ''}, a fresh database per gateway`,
      `  server settings: ${settings.map((s) => `${s.name}=${s.setting}`).join(', ')}; the gateways connect with synchronous_commit=on (no-fsync: off)`,
      ...(postmaster === undefined ? ['  the server\'s processes are not on this machine (or not readable): its CPU and memory are not in the figures'] : []),
    ],
    async phase(name) {
      const db = `dtpay_bench_${tag}_${name.replace(/[^a-z0-9]/g, '_')}`;
      try {
        await admin.query(`CREATE DATABASE ${db}`);
      } catch (err) {
        throw new DbSetupError(`--db-url ${shown}: cannot create database ${db} (the role needs CREATEDB): ${(err as Error).message}`);
      }
      made.push(db);
      const u = new URL(adminUrl);
      u.pathname = `/${db}`;
      const url = u.toString();
      return {
        env: { DATABASE_URL: url, MASTER_KEY: masterKey },
        label: redactedUrl(url),
        async makeMerchant() {
          // As `dtpay merchant create` does on SQLite: migrated, its key sealed with MASTER_KEY, before a gateway opens it.
          const config = parseConfig({ DATABASE_URL: url, MASTER_KEY: masterKey, LOG_LEVEL: 'warn' });
          const opened = await openStorage(config, pino({ level: 'silent' }), { onFatal: () => {} });
          try {
            const m = await createMerchant({ writer: opened.storage.writer, merchantKeys: opened.secrets.merchantKeys }, 'Bench', 'sandbox');
            return { mercNo: m.mercNo, key: m.key };
          } finally {
            await opened.close();
          }
        },
        async countOrders(mercNo, prefix) {
          const c = new pg.Client({ connectionString: url });
          await c.connect();
          try {
            const r = await c.query('SELECT count(*)::int AS n FROM orders WHERE merc_no = $1 AND left(merc_order_no, length($2)) = $2', [mercNo, prefix]);
            return r.rows[0].n as number;
          } finally {
            await c.end();
          }
        },
      };
    },
    serverCpu: () => (postmaster === undefined ? NaN : clusterCpu(postmaster)),
    serverMemoryMb: () => (postmaster === undefined ? NaN : clusterPssMb(postmaster)),
    async close(keep) {
      try {
        // A throwaway cluster goes whole at exit; on a server of the caller's the databases are dropped.
        if (!started && !keep) for (const db of made) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      } finally {
        await admin.end().catch(() => {});
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The server's processes: the postmaster (the parent of every backend) and its children.

const statFields = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
};

function postmasterOf(backendPid: number): number | undefined {
  try {
    return Number(statFields(backendPid)[1]);
  } catch {
    return undefined;
  }
}

function childrenOf(parent: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (Number(statFields(Number(d))[1]) === parent) out.push(Number(d));
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

/**
 * CPU seconds of the whole server: the postmaster's own and its reaped children's (a backend that
 * has ended is counted there), and each live child's. A difference of two readings is the CPU the
 * server spent in between.
 */
function clusterCpu(postmaster: number): number {
  try {
    const f = statFields(postmaster);
    let ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    for (const pid of childrenOf(postmaster)) {
      try {
        const c = statFields(pid);
        ticks += Number(c[11]) + Number(c[12]);
      } catch {
        // ended between the listing and the read: its time is in the postmaster's children's now
      }
    }
    return ticks / clkTck();
  } catch {
    return NaN;
  }
}

/** PSS counts each shared page (shared_buffers) once over all processes that map it. */
function clusterPssMb(postmaster: number): number {
  let kb = 0;
  for (const pid of [postmaster, ...childrenOf(postmaster)]) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // ended meanwhile
    }
  }
  return kb / 1024;
}
