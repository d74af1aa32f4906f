import type { Writer } from '../db/writer.js';
import { hashPassword, passwordProblem } from './passwords.js';
import { newTotpSecret, sealTotp, totpUri } from './totp.js';
import type { OperatorRole } from './console-ops.js';

// Operators and roles (CONTRACT §6), for the CLI and the console alike.

export const ROLES: readonly OperatorRole[] = ['viewer', 'support', 'admin'];
const RANK: Record<OperatorRole, number> = { viewer: 0, support: 1, admin: 2 };

/** Whether `role` may do what `needed` may. */
export const roleAllows = (role: OperatorRole, needed: OperatorRole) => RANK[role] >= RANK[needed];

export const isRole = (s: string | undefined): s is OperatorRole => ROLES.includes(s as OperatorRole);

/** Something an operator asked for that cannot be done, said in a way that fits a page or a terminal. */
export class OperatorError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

/** Emails compare without case; they are stored lower case. */
export function normalEmail(email: string): string {
  const e = email.trim().toLowerCase();
  if (e.length > 254 || !/^[^\s@]+@[^\s@]+$/.test(e)) throw new OperatorError('email', 'must be an email address such as ops@example.com');
  return e;
}

function checkPassword(password: string): void {
  const problem = passwordProblem(password);
  if (problem) throw new OperatorError('password', problem);
}

export async function createOperator(writer: Writer, a: { email: string; role: string; password: string; at: number }) {
  const email = normalEmail(a.email);
  if (!isRole(a.role)) throw new OperatorError('role', `must be one of ${ROLES.join(', ')}`);
  checkPassword(a.password);
  const ok = await writer.run('insertOperator', { email, role: a.role, passwordHash: await hashPassword(a.password), at: a.at });
  if (!ok) throw new OperatorError('email', `an operator ${email} exists already`);
  return { email, role: a.role, totp: false };
}

/** A new password; the operator's sessions end. false: no such operator. */
export async function resetOperatorPassword(writer: Writer, a: { email: string; password: string; at: number }): Promise<boolean> {
  const email = normalEmail(a.email);
  checkPassword(a.password);
  return writer.run('setOperatorPassword', { email, passwordHash: await hashPassword(a.password), at: a.at });
}

/** A new TOTP secret each time; its URI is returned to be shown once. The operator's sessions end. */
export async function enableOperatorTotp(writer: Writer, masterKey: string, a: { email: string; at: number }): Promise<{ uri: string; secret: string } | undefined> {
  const email = normalEmail(a.email);
  const secret = newTotpSecret();
  const sealed = sealTotp(masterKey, email, secret).toString('base64');
  if (!(await writer.run('setOperatorTotp', { email, sealed, at: a.at }))) return undefined;
  return { uri: totpUri(secret, email), secret };
}

export async function setOperatorStatus(writer: Writer, a: { email: string; status: 'active' | 'disabled'; at: number }): Promise<boolean> {
  return writer.run('setOperatorStatus', { email: normalEmail(a.email), status: a.status, at: a.at });
}
