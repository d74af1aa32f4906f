import { randomBytes, randomInt } from 'node:crypto';
import type { Writer } from '../db/writer.js';
import { WriteError } from '../db/writer.js';
import type { MerchantMode } from '../db/rows.js';
import type { MerchantKeys } from '../secrets/merchant-keys.js';

/** What making or re-keying a merchant needs: the key is sealed here, before the writer sees it. */
export interface MerchantWriting {
  writer: Writer;
  merchantKeys: MerchantKeys;
}

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

export async function createMerchant(s: MerchantWriting, name: string, mode: MerchantMode, now = Date.now()): Promise<NewMerchant> {
  for (let attempt = 0; ; attempt++) {
    const m = { mercNo: newMercNo(), key: newMerchantKey(), mode, name };
    try {
      await s.writer.run('insertMerchant', {
        merc_no: m.mercNo,
        name,
        mode,
        key_sealed: s.merchantKeys.seal(m.mercNo, m.key).toString('base64'),
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

export async function rotateMerchantKey(s: MerchantWriting, mercNo: string, now = Date.now()): Promise<string | undefined> {
  const key = newMerchantKey();
  const keySealed = s.merchantKeys.seal(mercNo, key).toString('base64');
  return (await s.writer.run('setMerchantKey', { mercNo, keySealed, at: now })) ? key : undefined;
}

export async function setMerchantStatus(writer: Writer, mercNo: string, status: 'active' | 'disabled', now = Date.now()): Promise<boolean> {
  return writer.run('setMerchantStatus', { mercNo, status, at: now });
}
