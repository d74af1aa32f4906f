import type { MerchantRow } from '../db/rows.js';
import type { FastifyRequest } from 'fastify';
import { ApiError, RESP, invalid } from '../errors.js';
import { isSignType, verify, type SignType } from '../domain/sign.js';
import type { Reads } from '../db/reads.js';
import type { Signer } from './respond.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set as soon as the merchant is known, so that even a rejection is signed. */
    signer?: Signer;
    /** The request's fields once every one is known to be a string and the signature verified. */
    fields?: Record<string, string>;
  }
  interface FastifyContextConfig {
    interfaceCode?: string;
  }
}

const WELL_FORMED = /^[^\u0000-\u001f\u007f]*$/u;

// One read of the merchant per request, whoever asks first (the rate limit or authenticate).
const looked = new WeakMap<FastifyRequest, MerchantRow | null>();

/** The existing merchant the request body names, or undefined; read once per request. */
export function namedMerchant(request: FastifyRequest, reads: Reads): MerchantRow | undefined {
  const seen = looked.get(request);
  if (seen !== undefined) return seen ?? undefined;
  const body = request.body as Record<string, unknown> | null | undefined;
  const mercNo = body && typeof body === 'object' ? body.mercNo : undefined;
  const merchant = typeof mercNo === 'string' && mercNo.length > 0 && mercNo.length <= 32 ? reads.merchant(mercNo) : undefined;
  looked.set(request, merchant ?? null);
  return merchant;
}

/**
 * Identifies the merchant and checks the signature, in the order that lets every rejection be as
 * useful as possible: shape → merchant (unknown or disabled: 100003) → string fields → signature.
 */
export function authenticate(request: FastifyRequest, reads: Reads): void {
  const body = request.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalid('body: must be a JSON object (or a form) of string fields');
  }
  const input = body as Record<string, unknown>;
  const mercNo = input.mercNo;
  if (mercNo === undefined || mercNo === '') throw invalid('mercNo: is required');
  if (typeof mercNo !== 'string') throw invalid('mercNo: must be a string');
  const merchant = namedMerchant(request, reads);
  if (!merchant) throw new ApiError(RESP.MERCHANT_REFUSED, `mercNo: unknown merchant ${mercNo.slice(0, 32)}`);
  const signType: SignType = isSignType(input.signType) ? input.signType : 'MD5';
  request.signer = { merchant, signType };
  if (merchant.status !== 'active') throw new ApiError(RESP.MERCHANT_REFUSED, `mercNo: merchant ${mercNo} is disabled`);

  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(input)) {
    if (typeof value !== 'string') throw invalid(`${name}: must be a string`);
    if (!value.isWellFormed() || !WELL_FORMED.test(value)) {
      throw invalid(`${name}: must be text without control characters or broken Unicode`);
    }
    // defineProperty, so that a field named __proto__ stays a field (and is rejected as unknown).
    Object.defineProperty(fields, name, { value, enumerable: true, writable: true, configurable: true });
  }
  if (input.signType !== undefined && input.signType !== '' && !isSignType(input.signType)) {
    throw invalid('signType: must be one of MD5, HMAC-SHA256');
  }
  if (!fields.signature) throw invalid('signature: is required');
  if (!verify(fields, merchant.key, signType, fields.signature)) {
    throw new ApiError(RESP.BAD_SIGNATURE, `signature: does not verify (${signType} over the sorted non-empty fields and &key=)`);
  }
  request.fields = fields;
}
