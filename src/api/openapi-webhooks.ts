import { z } from 'zod';
import { parseConfig } from '../config.js';
import { beijingTime, payStatus, signType, text, yuan } from './openapi-fields.js';

// The notifications the gateway POSTs to merchants (CONTRACT §2.5), as OpenAPI 3.1 `webhooks`:
// the body of src/notify/notification-body.ts, the Standard Webhooks headers of
// src/notify/webhook-signature.ts, the acknowledgement of src/notify/retry-policy.ts.

type Json = Record<string, unknown>;

export interface WebhookOperation {
  operationId: string;
  summary: string;
  description: string;
  parameters: { name: string; in: 'header'; required: true; description: string; schema: Json }[];
  requestBody: { required: true; description: string; content: Record<string, { schema: Json }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Json }> }>;
}

const envelope = {
  charset: text.describe('the request’s charset (UTF-8 if it had none)'),
  locale: z.literal('CN'),
  version: text.describe('the request’s version (1.0 if it had none)'),
};

/** An order's notification (notificationFields): empty fields are left out. */
export const orderNotificationFields = z.object({
  mercNo: text,
  mercOrderNo: text,
  orderId: text.describe('the gateway’s order number'),
  tradeType: text,
  tradeAmt: yuan,
  feeType: text,
  tradeTime: text.describe('your tradeTime, as sent'),
  tradeEndTime: beijingTime.optional().describe('when the order was paid, failed or expired; absent while it is open (a resend of p0001 or p0002)'),
  termType: text,
  payStatus: payStatus.describe('the order’s state: p0000, p0004 or p0006 on a state change; a resend sends the current state, whatever it is'),
  bankType: text.optional().describe('the payer’s bank or wallet, as the channel names it'),
  attach: text.optional().describe('your attach, as sent'),
  payeeAccountType: text.optional().describe('a payout (tradeType 02/03): the payee account type, as sent'),
  payeeAccount: text.optional().describe('a payout: the payee account, masked (first and last 4 characters of a card, else 3)'),
  payeeName: text.optional().describe('a payout: the payee name, masked (its last character only)'),
  ...envelope,
  signType: signType.describe('the signType of the order’s /api/pay request (MD5 if it had none)'),
  signature: text.describe('over the other fields with your merchant key, as every answer is signed'),
});

/** A refund's notification (refundNotificationFields), sent once the refund ends, to its notifyUrl. */
export const refundNotificationFields = z.object({
  mercNo: text,
  mercOrderNo: text,
  orderId: text,
  mercRefundNo: text,
  refundId: text.describe('the gateway’s refund number'),
  tradeAmt: yuan.describe('the order’s amount, yuan with two decimals'),
  refundAmt: yuan,
  refundStatus: z.enum(['r0000', 'r0004']).describe('how it ended: r0000 success, r0004 failed'),
  refundEndTime: beijingTime.describe('when it ended, Beijing time (UTC+8), yyyyMMddHHmmss'),
  ...envelope,
  signType: signType.describe('the signType of the /api/refund request (MD5 if it had none)'),
  signature: text.describe('over the other fields with your merchant key, as every answer is signed'),
});

const HEADERS: WebhookOperation['parameters'] = [
  {
    name: 'webhook-id',
    in: 'header',
    required: true,
    description: 'the notification’s id, `msg_…`: the same on every retry of one notification (a resend or a new state gets a new one); deduplicate by it',
    schema: { type: 'string', pattern: '^msg_[A-Za-z0-9_-]+$' },
  },
  {
    name: 'webhook-timestamp',
    in: 'header',
    required: true,
    description: 'unix seconds of this attempt; refuse one more than five minutes away from your clock',
    schema: { type: 'string', pattern: '^[0-9]+$' },
  },
  {
    name: 'webhook-signature',
    in: 'header',
    required: true,
    description:
      '`v1,` and the base64 HMAC-SHA256, keyed with your merchant key (its UTF-8 bytes, not base64-decoded), of `webhook-id + "." + webhook-timestamp + "." + the raw body`; check it over the raw bytes before parsing',
    schema: { type: 'string', pattern: '^v1,[A-Za-z0-9+/]+=*$' },
  },
];

/** The retry schedule in words, from the defaults config.ts gives NOTIFY_RETRY_SCHEDULE and NOTIFY_TIMEOUT_MS. */
function retryText(): string {
  const { NOTIFY_RETRY_SCHEDULE: schedule, NOTIFY_TIMEOUT_MS: timeoutMs } = parseConfig({});
  const at: number[] = [0];
  for (const d of schedule) at.push(at.at(-1)! + d);
  return (
    `The first attempt leaves as soon as the state change commits. After a failed attempt the gateway tries again after each delay of NOTIFY_RETRY_SCHEDULE ` +
    `(default \`${schedule.join(',')}\` seconds: attempts at ${at.join(', ')} s, ${at.length} in all), then gives up (notifyStatus \`failed\`). ` +
    `An attempt fails unless your endpoint answers within NOTIFY_TIMEOUT_MS (default ${timeoutMs} ms, the whole exchange) with a 2xx status and a body that, trimmed, is exactly \`success\`; redirects are not followed. ` +
    'Delivery is at least once: handle duplicates (the same webhook-id, or the same orderId and state).'
  );
}

const ACK: WebhookOperation['responses'] = {
  '200': {
    description:
      'Delivered: any 2xx status whose body, trimmed of white space, is exactly `success` (not `SUCCESS`, not `"success"`). Only the first 1 KiB of the answer is read; a longer one is a failure.',
    content: { 'text/plain': { schema: { type: 'string', const: 'success' } } },
  },
  default: { description: 'Anything else — another body or status, a redirect, no answer in time — is a failed attempt, retried on the schedule above.' },
};

const BOTH_SIGNATURES =
  'Verify both signatures before trusting it: the body’s `signature` (computed like every answer’s, with your merchant key) and the `webhook-signature` header. ';

function webhook(operationId: string, summary: string, description: string, schemaName: string): WebhookOperation {
  return {
    operationId,
    summary,
    description: `${description} ${BOTH_SIGNATURES}\n\n${retryText()}`,
    parameters: HEADERS,
    requestBody: {
      required: true,
      description: 'JSON (`application/json; charset=utf-8`); fields with an empty value are left out',
      content: { 'application/json': { schema: { $ref: `#/components/schemas/${schemaName}` } } },
    },
    responses: ACK,
  };
}

const toSchema = (schema: z.ZodType): Json => {
  const json = z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }) as Json;
  delete json.$schema;
  return json;
};

/** The `webhooks` of the document and the payload schemas they refer to. */
export function notificationWebhooks(): { webhooks: Record<string, { post: WebhookOperation }>; schemas: Record<string, Json> } {
  return {
    webhooks: {
      orderNotification: {
        post: webhook(
          'orderNotification',
          'Order notification, POSTed to the order’s notifyUrl',
          'Sent when an order becomes paid (p0000), failed (p0004) or expired (p0006) — not when you close it — and again on a resend (POST /api/notify/resend). ' +
            'A newer state replaces an older notification still undelivered, so an old state is never sent after a new one.',
          'OrderNotification',
        ),
      },
      refundNotification: {
        post: webhook(
          'refundNotification',
          'Refund notification, POSTed to the refund’s notifyUrl',
          'Sent once when a refund that was given a notifyUrl ends, as success (r0000) or failure (r0004).',
          'RefundNotification',
        ),
      },
    },
    schemas: { OrderNotification: toSchema(orderNotificationFields), RefundNotification: toSchema(refundNotificationFields) },
  };
}

export const WEBHOOKS_TEXT = `## Notifications

The gateway POSTs an order's new state to its \`notifyUrl\`, and a refund's end to the refund's \`notifyUrl\`: see \`webhooks\` (orderNotification, refundNotification). Each carries the Standard Webhooks headers \`webhook-id\`, \`webhook-timestamp\` and \`webhook-signature\`, and is delivered when your endpoint answers a 2xx status with the body \`success\`.`;
