import type { Payway, Scene } from './types.js';
import type { PayeeAccountType } from './payout-types.js';

// CONTRACT §2.3: the cells a payway serves, and where each one's answer goes in the response.
export type ResultField = 'codeUrl' | 'mwebUrl' | 'payInfo' | 'resultHtml';

export const SCENE_MATRIX: Record<Payway, Partial<Record<Scene, ResultField>>> = {
  alipay: { scan: 'codeUrl', h5: 'mwebUrl', app: 'payInfo', jspay: 'payInfo', gateway: 'resultHtml' },
  wxpay: { scan: 'codeUrl', h5: 'mwebUrl', app: 'payInfo', jspay: 'payInfo' },
  unionpay: { scan: 'codeUrl', h5: 'resultHtml', app: 'payInfo', gateway: 'resultHtml', ebank: 'resultHtml' },
};

export function supportedCells(): string[] {
  return Object.entries(SCENE_MATRIX).flatMap(([payway, scenes]) => Object.keys(scenes).map((s) => `${payway}.${s}`));
}

/** The scene a payout (tradeType 02/03, CONTRACT §4) is asked for under. */
export const PAYOUT_SCENE = 'transfer';

/** CONTRACT §4: the payee account types each payway's payouts take, if its driver pays out. */
export const PAYOUT_MATRIX: Record<Payway, readonly PayeeAccountType[]> = {
  alipay: ['ALIPAY_USER_ID', 'ALIPAY_LOGON_ID', 'ALIPAY_OPEN_ID', 'BANK_CARD'],
  wxpay: ['WX_OPENID'],
  unionpay: ['BANK_CARD'],
};

/**
 * Where the payee has to confirm a payout before it is paid (WeChat 商家转账): only there does
 * orderPeriod run out (the bill is cancelled, p0006) and may the merchant cancel it (/api/close).
 */
export const PAYEE_CONFIRMS: Record<Payway, boolean> = { alipay: false, wxpay: true, unionpay: false };

export const payoutCells = (): string[] => Object.keys(PAYOUT_MATRIX).map((p) => `${p}.${PAYOUT_SCENE}`);
