import { randomBytes, randomInt } from 'node:crypto';
import type { Writer } from '../db/writer.js';
import { WriteError } from '../db/writer.js';
import type { MerchantMode } from '../db/rows.js';

/**
 * 32 random bytes as base64url: 43 characters, safe in JSON, forms and shells. Never starting
 * with "-", which command lines would take for an option (`dtpay sign --key -abc…`).
 */
export function newMerchantKey(): string {
  for (;;) {
    const key = randomBytes(32).toString('base64url');
    if (!key.startsWith('-')) return key;
  }
}

/** "M" and 15 digits, e.g. M100000000000001. */
export function newMercNo(): string {
  let digits = String(randomInt(1, 10));
  for (let i = 0; i < 14; i++) digits += String(randomInt(0, 10));
  return `M${digits}`;
}

export interface NewMerchant {
  mercNo: string;
  key: string;
  mode: MerchantMode;
  name: string;
}

export async function createMerchant(writer: Writer, name: string, mode: MerchantMode, now = Date.now()): Promise<NewMerchant> {
  for (let attempt = 0; ; attempt++) {
    const m = { mercNo: newMercNo(), key: newMerchantKey(), mode, name };
    try {
      await writer.run('insertMerchant', {
        merc_no: m.mercNo,
        name,
        mode,
        key: m.key,
        status: 'active',
        created_at: now,
        updated_at: now,
      });
      return m;
    } catch (err) {
      // A clash of random merchant numbers is rare; anything else is a real failure.
      if (!(err instanceof WriteError && err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') || attempt >= 5) throw err;
    }
  }
}

export async function rotateMerchantKey(writer: Writer, mercNo: string, now = Date.now()): Promise<string | undefined> {
  const key = newMerchantKey();
  return (await writer.run('setMerchantKey', { mercNo, key, at: now })) ? key : undefined;
}

export async function setMerchantStatus(writer: Writer, mercNo: string, status: 'active' | 'disabled', now = Date.now()): Promise<boolean> {
  return writer.run('setMerchantStatus', { mercNo, status, at: now });
}
