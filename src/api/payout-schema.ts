import { z } from 'zod';
import { yuanToFen } from '../domain/money.js';
import { PAYEE_ACCOUNT_TYPES } from '../channels/payout-types.js';
import { PAYOUT_SCENE } from '../channels/matrix.js';
import { optional, payFields, required, unknownFieldsError } from './pay-schema.js';

// CONTRACT §4: a payout (tradeType 02 代付, 03 提现) is asked for with the unified order's fields,
// sceneCode transfer and the payee's. A schema of its own, so that a payment is checked exactly as
// before; the route picks it by tradeType.

/** The payment fields a payout has no use for: refused by name rather than silently dropped. */
export const PAYMENT_ONLY_FIELDS = ['openId', 'deviceInfo', 'mchAppName', 'mchAppId', 'payType', 'quickPayAttach'] as const;

/** From 2000.00 yuan WeChat checks the payee's real name, so it must be given. */
export const WX_NAME_FROM_FEN = 200_000n;

const { openId: _o, deviceInfo: _d, mchAppName: _n, mchAppId: _i, payType: _p, quickPayAttach: _q, tradeType: _t, sceneCode: _s, ...shared } = payFields;

const enumOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z
    .string({ error: 'is required' })
    .min(1, { error: 'is required', abort: true })
    .pipe(z.enum(values, { error: `must be one of ${values.join(', ')}` }));

const notUsed = Object.fromEntries(PAYMENT_ONLY_FIELDS.map((f) => [f, z.string().optional()])) as Record<
  (typeof PAYMENT_ONLY_FIELDS)[number],
  z.ZodOptional<z.ZodString>
>;

export const payoutRequestSchema = z
  .strictObject(
    {
      ...shared,
      tradeType: enumOf(['02', '03']),
      sceneCode: enumOf([PAYOUT_SCENE]),
      payeeAccountType: enumOf(PAYEE_ACCOUNT_TYPES),
      payeeAccount: required(64),
      payeeName: optional(64),
      ...notUsed,
    },
    unknownFieldsError,
  )
  .superRefine((r, ctx) => {
    const issue = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: [field], message });
    for (const f of PAYMENT_ONLY_FIELDS) {
      if (r[f]) issue(f, 'is not used by payouts (tradeType 02/03); leave it out');
    }
    if (!r.subject && !r.body) issue('subject', 'subject or body is required (at least one of them)');
    const card = r.payeeAccountType === 'BANK_CARD';
    if (card && r.payeeAccount && !/^[0-9]{12,19}$/.test(r.payeeAccount)) {
      issue('payeeAccount', 'must be 12 to 19 digits for payeeAccountType BANK_CARD');
    }
    if (r.bankCode && !card) issue('bankCode', 'is only for payeeAccountType BANK_CARD');
    if (!r.payeeName) {
      if (card || r.payeeAccountType === 'ALIPAY_LOGON_ID') {
        issue('payeeName', `is required for payeeAccountType ${r.payeeAccountType}: the payee's real name, checked by the channel`);
      } else if (r.payeeAccountType === 'WX_OPENID' && /^[0-9.]+$/.test(r.tradeAmt ?? '') && safeFen(r.tradeAmt) >= WX_NAME_FROM_FEN) {
        issue('payeeName', "is required for payeeAccountType WX_OPENID from 2000.00: the payee's real name, checked by the channel");
      }
    }
  });

function safeFen(yuan: string): bigint {
  try {
    return yuanToFen(yuan);
  } catch {
    return 0n;
  }
}

export type PayoutRequest = z.infer<typeof payoutRequestSchema>;
