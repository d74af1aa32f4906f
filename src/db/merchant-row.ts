import type { MerchantMode, MerchantRecord, MerchantRow } from './rows.js';
import type { MerchantKeys } from '../secrets/merchant-keys.js';

/**
 * A merchant as read: the stored columns, and `key` opened from key_sealed when it is used. The
 * getter lives on the prototype, so the key is in no JSON or log line that prints the row, and a
 * reader that never signs (most CLI commands) never needs MASTER_KEY. Fields are copied one by
 * one: every row then has the same shape, which keeps this as cheap as the plain row it replaces.
 */
export class Merchant implements MerchantRow {
  readonly merc_no: string;
  readonly name: string;
  readonly mode: MerchantMode;
  readonly key_sealed: Buffer | null;
  readonly status: 'active' | 'disabled';
  readonly created_at: number;
  readonly updated_at: number;
  readonly #keys: MerchantKeys;

  constructor(row: MerchantRecord, keys: MerchantKeys) {
    this.merc_no = row.merc_no;
    this.name = row.name;
    this.mode = row.mode;
    this.key_sealed = row.key_sealed;
    this.status = row.status;
    this.created_at = row.created_at;
    this.updated_at = row.updated_at;
    this.#keys = keys;
  }

  get key(): string {
    return this.#keys.open(this.merc_no, this.key_sealed);
  }
}
