import type { Db } from './open.js';
import type { MerchantRow, OrderRow } from './rows.js';

/** The queries the request path makes, prepared once on the reading connection. */
export function prepareReads(db: Db) {
  const merchant = db.prepare('SELECT * FROM merchants WHERE merc_no = ?');
  const merchants = db.prepare('SELECT * FROM merchants ORDER BY created_at, merc_no');
  const merchantCount = db.prepare('SELECT count(*) FROM merchants').pluck();
  // Amounts can exceed 2^53 fen, so order rows come back with BigInt integers.
  const order = db.prepare('SELECT * FROM orders WHERE order_id = ?').safeIntegers(true);
  const orderByMercNo = db.prepare('SELECT * FROM orders WHERE merc_no = ? AND merc_order_no = ?').safeIntegers(true);
  const maxOrderId = db.prepare('SELECT max(order_id) FROM orders').pluck();
  const setting = db.prepare('SELECT value FROM settings WHERE name = ?').pluck();

  const orderRow = (r: unknown): OrderRow | undefined => {
    if (!r) return undefined;
    const row = r as Record<string, unknown>;
    // Only the amount needs 64 bits; the other integers are small and read as numbers.
    for (const k of ['order_period', 'created_at', 'expire_at', 'late_payment', 'updated_at']) row[k] = Number(row[k]);
    return row as unknown as OrderRow;
  };

  return {
    merchant: (mercNo: string) => merchant.get(mercNo) as MerchantRow | undefined,
    merchants: () => merchants.all() as MerchantRow[],
    merchantCount: () => merchantCount.get() as number,
    order: (orderId: string) => orderRow(order.get(orderId)),
    orderByMercNo: (mercNo: string, mercOrderNo: string) => orderRow(orderByMercNo.get(mercNo, mercOrderNo)),
    maxOrderId: () => (maxOrderId.get() as string | null) ?? undefined,
    setting: (name: string) => (setting.get(name) as string | null | undefined) ?? undefined,
  };
}

export type Reads = ReturnType<typeof prepareReads>;
