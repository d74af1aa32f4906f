import type { PoolClient } from '../pool.js';
import type { AuditEntry, LoginLimit, OperatorRole } from '../../../console/console-ops.js';
import { LockSpace, lockKey, num, one, q } from './sql.js';

// The console's operations of src/console/console-ops.ts on PostgreSQL (see write-ops.ts here for
// how the operations stay safe with several instances writing at once).

export const consoleOps = {
  /** Safe: the unique email decides (ON CONFLICT DO NOTHING). */
  async insertOperator(c: PoolClient, a: { email: string; role: OperatorRole; passwordHash: string; at: number }): Promise<boolean> {
    const r = await q(
      c,
      `INSERT INTO console_operators (email, role, password_hash, status, created_at, updated_at)
      VALUES (@email, @role, @passwordHash, 'active', @at, @at) ON CONFLICT (email) DO NOTHING`,
      a,
    );
    return r.count === 1;
  },

  async setOperatorPassword(c: PoolClient, a: { email: string; passwordHash: string; at: number }): Promise<boolean> {
    const r = await q(
      c,
      'UPDATE console_operators SET password_hash = @passwordHash, session_epoch = session_epoch + 1, updated_at = @at WHERE email = @email',
      a,
    );
    return r.count === 1;
  },

  async setOperatorTotp(c: PoolClient, a: { email: string; sealed: string; at: number }): Promise<boolean> {
    const r = await q(
      c,
      `UPDATE console_operators SET totp_sealed = @sealed, totp_last_step = NULL, session_epoch = session_epoch + 1,
        updated_at = @at WHERE email = @email`,
      { ...a, sealed: Buffer.from(a.sealed, 'base64') },
    );
    return r.count === 1;
  },

  /** Safe: conditional on the status differing. */
  async setOperatorStatus(c: PoolClient, a: { email: string; status: 'active' | 'disabled'; at: number }): Promise<boolean> {
    const r = await q(
      c,
      'UPDATE console_operators SET status = @status, session_epoch = session_epoch + 1, updated_at = @at WHERE email = @email AND status <> @status',
      a,
    );
    return r.count === 1;
  },

  /**
   * Safe: with a TOTP step the update is conditional on the step being newer than the last one
   * used, rechecked on the locked row: two logins racing with one code on two instances cannot both win.
   */
  async recordOperatorLogin(c: PoolClient, a: { id: number; step?: number; at: number }): Promise<boolean> {
    if (a.step === undefined) return (await q(c, 'UPDATE console_operators SET last_login_at = @at WHERE id = @id', a)).count === 1;
    const r = await q(
      c,
      `UPDATE console_operators SET totp_last_step = @step, last_login_at = @at
      WHERE id = @id AND (totp_last_step IS NULL OR totp_last_step < @step)`,
      a,
    );
    return r.count === 1;
  },

  /** Safe: one upsert on the session id. */
  async putConsoleSession(c: PoolClient, a: { sid: string; data: string; expiresAt: number }): Promise<true> {
    await q(
      c,
      `INSERT INTO console_sessions (sid, data, expires_at) VALUES (@sid, @data, @expiresAt)
      ON CONFLICT (sid) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at`,
      a,
    );
    return true;
  },

  async dropConsoleSession(c: PoolClient, a: { sid: string }): Promise<boolean> {
    return (await q(c, 'DELETE FROM console_sessions WHERE sid = @sid', a)).count === 1;
  },

  /** Safe: each instance takes up to 500 expired sessions nobody else is deleting (SKIP LOCKED) rather than waiting on them. */
  async dropExpiredConsoleSessions(c: PoolClient, a: { now: number }): Promise<number> {
    const r = await q(
      c,
      `DELETE FROM console_sessions WHERE sid IN (SELECT sid FROM console_sessions WHERE expires_at <= @now LIMIT 500 FOR UPDATE SKIP LOCKED)`,
      a,
    );
    return r.count;
  },

  /**
   * Safe: the key is locked for the transaction (an advisory lock: its first failure has no row
   * yet) before its row is read, so failures counted at once on several instances are each counted.
   */
  async recordLoginFailure(c: PoolClient, a: { key: string; at: number; limit: number; windowMs: number; lockMs: number }): Promise<LoginLimit> {
    await lockKey(c, LockSpace.loginKey, a.key);
    const raw = await one<Record<string, unknown>>(c, 'SELECT failures, window_start, locked_until FROM console_login_limits WHERE key = @key', a);
    const row = raw && { failures: num(raw.failures)!, window_start: num(raw.window_start)!, locked_until: num(raw.locked_until) };
    if (row?.locked_until != null && row.locked_until > a.at) return { failures: row.failures, lockedUntil: row.locked_until };
    const fresh = !row || row.locked_until != null || a.at - row.window_start >= a.windowMs;
    const failures = fresh ? 1 : row.failures + 1;
    const lockedUntil = failures >= a.limit ? a.at + a.lockMs : null;
    await q(
      c,
      `INSERT INTO console_login_limits (key, failures, window_start, locked_until) VALUES (@key, @failures, @windowStart, @lockedUntil)
      ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start, locked_until = excluded.locked_until`,
      { key: a.key, failures, windowStart: fresh ? a.at : row.window_start, lockedUntil },
    );
    return { failures, lockedUntil };
  },

  async clearLoginFailures(c: PoolClient, a: { key: string }): Promise<boolean> {
    return (await q(c, 'DELETE FROM console_login_limits WHERE key = @key', a)).count === 1;
  },

  async audit(c: PoolClient, e: AuditEntry): Promise<true> {
    await q(
      c,
      `INSERT INTO console_audit (at, operator, action, target, amount_fen, address, outcome, detail)
      VALUES (@at, @operator, @action, @target, @amountFen, @address, @outcome, @detail)`,
      {
        at: e.at,
        operator: e.operator.slice(0, 320),
        action: e.action,
        target: e.target,
        amountFen: e.amountFen,
        address: e.address,
        outcome: e.outcome,
        detail: e.detail?.slice(0, 1000),
      },
    );
    return true;
  },
};
