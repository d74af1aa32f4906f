import type { Bill, BillLine } from '../../reconcile/bill.js';
import { parseWxTradeBill, writeWxTradeBill } from '../wxpay/bill.js';

// The sandbox channel's bill (GET /sandbox/api/bill?date=YYYY-MM-DD) is written in WeChat Pay's
// ALL layout, so that reading it exercises the same parser a live WeChat bill goes through.

/** Stands in for appid and mchid in the sandbox's bill: there is no WeChat account behind it. */
export const SANDBOX_BILL_ACCOUNT = { appId: 'sandbox', mchId: 'sandbox' } as const;

/** The sandbox charges 0.6 % of each trade (CONTRACT §5). */
export const SANDBOX_FEE_RATE = '0.60%';

export function writeSandboxBill(lines: readonly BillLine[], subject?: (line: BillLine) => string): Uint8Array {
  return writeWxTradeBill(lines, { ...SANDBOX_BILL_ACCOUNT, rate: SANDBOX_FEE_RATE, subject });
}

export function parseSandboxBill(bytes: Uint8Array, billDate: string): Bill {
  return parseWxTradeBill(bytes, { billDate, source: 'sandbox' });
}

/** The sandbox's fee on a trade: 0.6 % of it, rounded half up to the fen. Refunds give none back. */
export function sandboxFeeFen(amountFen: bigint): bigint {
  return (amountFen * 6n + 500n) / 1000n;
}
