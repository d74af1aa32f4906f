// The one error type of the merchant API: a contract respCode plus a description for the merchant.
// The HTTP status is derived from the code, so the two can never disagree.

export const RESP = {
  OK: '000000',
  INVALID: '100001',
  BAD_SIGNATURE: '100002',
  MERCHANT_REFUSED: '100003',
  DUPLICATE: '100004',
  NOT_FOUND: '100005',
  UNSUPPORTED: '100006',
  STATE_CONFLICT: '100007',
  RATE_LIMITED: '100008',
  CHANNEL_REFUSED: '200001',
  CHANNEL_TIMEOUT: '200002',
  INTERNAL: '999999',
} as const;

export type RespCode = (typeof RESP)[keyof typeof RESP];

const HTTP_STATUS: Record<RespCode, number> = {
  '000000': 200,
  '100001': 400,
  '100002': 401,
  '100003': 403,
  '100004': 409,
  '100005': 404,
  '100006': 422,
  '100007': 409,
  '100008': 429,
  '200001': 502,
  '200002': 504,
  '999999': 500,
};

export const SUCCESS_DESC = '处理成功';

export function httpStatusOf(code: RespCode): number {
  return HTTP_STATUS[code];
}

export class ApiError extends Error {
  /** `status` overrides the code's usual HTTP status where the transport needs another (413, 415). */
  constructor(
    readonly respCode: RespCode,
    readonly respDesc: string,
    readonly status: number = HTTP_STATUS[respCode],
  ) {
    super(respDesc);
    this.name = 'ApiError';
  }
}

export const invalid = (desc: string, status?: number) => new ApiError(RESP.INVALID, desc, status);
