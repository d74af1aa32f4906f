// Standard Webhooks headers for merchant notifications (CONTRACT §2.5).
//
// Unlike the Standard Webhooks reference libraries, the secret is NOT a `whsec_`-prefixed base64
// string that gets decoded: the contract keys the HMAC with the merchant key itself, taken as
// its UTF-8 bytes, so merchants verify with the one key they already hold. Off-the-shelf
// verifiers therefore need the key passed as raw bytes, not as a whsec_ secret.

import { createHmac, timingSafeEqual } from 'node:crypto';

export type WebhookHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

export interface WebhookInput {
  /** Stable across every retry of one notification, so receivers can deduplicate. */
  id: string;
  /** Unix seconds of this attempt. */
  timestampSec: number;
  /** The exact bytes sent; signing a re-serialization would break verification. */
  body: string;
  /** Merchant key. */
  key: string;
}

function hmac(key: string, id: string, timestamp: string, body: string): Buffer {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(`${id}.${timestamp}.${body}`, 'utf8').digest();
}

export function webhookHeaders({ id, timestampSec, body, key }: WebhookInput): WebhookHeaders {
  if (!Number.isInteger(timestampSec) || timestampSec < 0) throw new RangeError('timestampSec must be whole unix seconds');
  const timestamp = String(timestampSec);
  return {
    'webhook-id': id,
    'webhook-timestamp': timestamp,
    'webhook-signature': `v1,${hmac(key, id, timestamp, body).toString('base64')}`,
  };
}

export interface VerifyOptions {
  /** Current time in ms (Date.now-like), injected so tests need no real clock. */
  now: number;
  /** Largest accepted distance between now and webhook-timestamp, either way; replay window. */
  toleranceSec?: number;
}

type HeaderBag = Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | undefined {
  // Node lower-cases incoming header names, but callers may hand over a hand-built object.
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== name) continue;
    if (Array.isArray(v)) return v.length === 1 ? v[0] : undefined; // a repeated header is ambiguous
    return v;
  }
  return undefined;
}

/**
 * True when webhook-signature carries at least one `v1,` signature matching the body under `key`
 * and webhook-timestamp is within the tolerance. Several space-separated signatures are allowed
 * so a sender can sign with an old and a new key during rotation.
 */
export function verifyWebhook(headers: HeaderBag, body: string, key: string, opts: VerifyOptions): boolean {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) return false;
  if (!/^\d{1,15}$/.test(timestamp)) return false;
  const toleranceSec = opts.toleranceSec ?? 300;
  if (Math.abs(opts.now / 1000 - Number(timestamp)) > toleranceSec) return false;

  // Compared as base64 text, not decoded bytes: Node's base64 decoder skips junk characters, and a
  // signature that only decodes to the right MAC should not pass.
  const expected = Buffer.from(hmac(key, id, timestamp, body).toString('base64'), 'utf8');
  let ok = false;
  for (const part of signatures.split(' ')) {
    const comma = part.indexOf(',');
    if (comma < 0 || part.slice(0, comma) !== 'v1') continue; // other schemes (v1a, …) are not ours
    const given = Buffer.from(part.slice(comma + 1), 'utf8');
    // Length is public (always 44 characters); only equal-length buffers reach the timed compare.
    // No early exit, so timing does not reveal which of several signatures matched.
    if (given.length === expected.length && timingSafeEqual(given, expected)) ok = true;
  }
  return ok;
}
