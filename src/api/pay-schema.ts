import { isIP } from 'node:net';
import { z } from 'zod';
import { YUAN_PATTERN } from '../domain/money.js';
import { isCompactDateTime } from '../domain/time.js';
import { PAYWAYS, SCENES } from '../channels/types.js';
import { callerList, callerText } from '../domain/caller-text.js';

// Seed §4.1.2 plus CONTRACT §2.3, field by field. Lengths count characters (code points).

/**
 * Whether `s` holds at most `max` code points. A string of n UTF-16 units holds between n/2 and n
 * code points, so only one longer than `max` and at most twice as long needs counting: every
 * surrogate pair in it is one code point for two units (a lone surrogate counts as one, as the
 * string iterator has it).
 */
export function withinChars(s: string, max: number): boolean {
  const units = s.length;
  if (units <= max) return true;
  if (units > 2 * max) return false;
  let n = units;
  for (let i = 0; i < units - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n <= max;
}

export const required = (max: number) =>
  z
    .string({ error: 'is required' })
    .min(1, { error: 'is required', abort: true })
    .refine((s) => withinChars(s, max), `must be at most ${max} characters`);

export const optional = (max: number) =>
  z
    .string()
    .refine((s) => withinChars(s, max), `must be at most ${max} characters`)
    .optional();

const enumError = (values: readonly string[]) => ({ error: `must be one of ${values.join(', ')}` });

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.string({ error: 'is required' }).min(1, { error: 'is required', abort: true }).pipe(z.enum(values, enumError(values)));

const optionalOneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.union([z.literal(''), z.enum(values, enumError(values))], enumError(values)).optional();

const isHttpUrl = (s: string) => {
  if (!/^https?:\/\//i.test(s)) return false;
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
};

const HTTP_URL_RULE = 'must be an http:// or https:// URL';
const requiredUrl = (max: number) => required(max).refine(isHttpUrl, HTTP_URL_RULE);
export const optionalUrl = (max: number) =>
  z
    .string()
    .refine((s) => withinChars(s, max), `must be at most ${max} characters`)
    .refine((s) => s === '' || isHttpUrl(s), HTTP_URL_RULE)
    .optional();

/** A positive amount of yuan as the contract writes it: up to 16 integer digits and 2 decimals. */
export const yuanAmount = () =>
  required(19)
    .regex(YUAN_PATTERN, 'must be yuan with at most 16 integer digits and 2 decimals, e.g. 1.23')
    .refine((s) => /[1-9]/.test(s), 'must be greater than zero');

export const commonFields = {
  mercNo: required(32),
  signature: required(64),
  signType: optionalOneOf(['MD5', 'HMAC-SHA256']),
  version: optionalOneOf(['1.0']),
  charset: optionalOneOf(['UTF-8']),
};

/** The unified order's fields (seed §4.1.2); payouts (payout-schema.ts) take most of them as they are. */
export const payFields = {
      ...commonFields,
      mercOrderNo: required(32).regex(/^[0-9A-Za-z_\-|*]+$/, 'may hold only letters, digits and _ - | *'),
      subject: optional(100),
      body: optional(200),
      tradeType: oneOf(['01', '02', '03']),
      tradeAmt: yuanAmount(),
      feeType: optionalOneOf(['CNY']),
      tradeTime: required(14).refine(isCompactDateTime, 'must be a real date-time as yyyyMMddHHmmss'),
      orderPeriod: z
        .string({ error: 'is required' })
        .min(1, { error: 'is required', abort: true })
        .refine((s) => /^[1-9][0-9]{0,4}$/.test(s) && Number(s) <= 43_200, 'must be whole minutes from 1 to 43200'),
      notifyUrl: requiredUrl(200),
      returnUrl: optionalUrl(200),
      refererUrl: optionalUrl(200),
      termType: oneOf(['wap', 'pc', 'app']),
      paywayCode: oneOf(PAYWAYS),
      sceneCode: oneOf(SCENES),
      ip: required(39).refine((s) => isIP(s) !== 0, 'must be an IPv4 or IPv6 address'),
      merchantId: optional(8),
      storeId: optional(8),
      payeeId: optional(8),
      remark: optional(100),
      attach: optional(128),
      deviceInfo: optionalOneOf(['IOS_SDK', 'AND_SDK', 'WAP_SDK']),
      mchAppName: optional(256),
      mchAppId: optional(128),
      bankCode: optional(20).refine((s) => !s || /^[0-9A-Za-z_]+$/.test(s), 'may hold only letters, digits and _'),
      payType: optionalOneOf(['1', '2', '3']),
      quickPayAttach: optional(1024),
      openId: optional(128),
};

/** Unknown fields are refused, naming them (describeIssues lists the names). */
export const unknownFieldsError = {
  error: (iss: { code?: string; keys?: string[] }) =>
    iss.code === 'unrecognized_keys' ? `unknown field${(iss.keys?.length ?? 0) > 1 ? 's' : ''}` : undefined,
};

export const payRequestSchema = z
  .strictObject(payFields, unknownFieldsError)
  .superRefine((r, ctx) => {
    const need = (field: keyof typeof r, why: string) => {
      if (!r[field]) ctx.addIssue({ code: 'custom', path: [field], message: `is required ${why}` });
    };
    if (!r.subject && !r.body) {
      ctx.addIssue({ code: 'custom', path: ['subject'], message: 'subject or body is required (at least one of them)' });
    }
    if (r.paywayCode === 'wxpay' && r.sceneCode === 'h5') {
      for (const f of ['deviceInfo', 'mchAppName', 'mchAppId'] as const) need(f, 'for WeChat H5 (paywayCode wxpay, sceneCode h5)');
    }
    if (r.sceneCode === 'ebank') need('bankCode', 'for online banking (sceneCode ebank)');
    if (r.sceneCode === 'jspay') need('openId', "for jspay: the payer's openid or Alipay buyer id");
  });

export type PayRequest = z.infer<typeof payRequestSchema>;

/**
 * Turns Zod's issues into one respDesc that names each field and the rule it broke. A field the
 * schema knows is named as the schema spells it; the names of unknown fields are the caller's
 * own text, so they go through callerText().
 */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((iss) => {
      if (iss.code === 'unrecognized_keys') return `${iss.message}: ${callerList(iss.keys)}`;
      const field = iss.path.map((p) => callerText(String(p))).join('.') || 'body';
      return `${field}: ${iss.message}`;
    })
    .join('; ');
}
