import { Secret, TOTP } from 'otpauth';
import { packSealed, seal, unpackSealed, unseal } from '../secrets/sealing.js';

// TOTP (RFC 6238) as CONTRACT §6 fixes it: SHA1, 30 s, 6 digits. The secret is sealed under
// MASTER_KEY, bound to the operator's email, so a sealed secret copied onto another operator does
// not open. A code is accepted one step either side of the server's clock, and each time step
// once (the operator's totp_last_step), so a code seen over a shoulder cannot be used again.

const PERIOD = 30;
const ISSUER = 'dtpay';

const totpOf = (secretBase32: string, email: string) =>
  new TOTP({ issuer: ISSUER, label: email, algorithm: 'SHA1', digits: 6, period: PERIOD, secret: Secret.fromBase32(secretBase32) });

export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The otpauth:// URI an authenticator app takes (shown once, by `dtpay operator totp`). */
export function totpUri(secretBase32: string, email: string): string {
  return totpOf(secretBase32, email).toString();
}

/** The code for a moment (tests, and the CLI's check of what it printed). */
export function totpCode(secretBase32: string, email: string, atMs: number): string {
  return totpOf(secretBase32, email).generate({ timestamp: atMs });
}

/**
 * The time step the code belongs to when it is valid at `atMs` (±1 step) and newer than
 * `lastStep`; otherwise undefined.
 */
export function acceptTotp(secretBase32: string, email: string, code: string, atMs: number, lastStep: number | null): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const delta = totpOf(secretBase32, email).validate({ token: code, timestamp: atMs, window: 1 });
  if (delta === null) return undefined;
  const step = Math.floor(atMs / 1000 / PERIOD) + delta;
  return lastStep !== null && step <= lastStep ? undefined : step;
}

export function sealTotp(masterKey: string, email: string, secretBase32: string): Buffer {
  return packSealed(seal(masterKey, 'operator-totp', [email], Buffer.from(secretBase32, 'utf8')));
}

export function openTotp(masterKey: string, email: string, sealed: Uint8Array): string {
  return unseal(masterKey, 'operator-totp', [email], unpackSealed(sealed)).toString('utf8');
}
