import { createHmac, timingSafeEqual } from 'node:crypto';

// Order ids are a timestamp and a counter, so anyone can list them. What the payer's pages show
// (merchant, subject, amount, the channel's payment link) is only served to a link that also
// carries this token: an HMAC of the order id under a secret the gateway keeps, so it needs no
// storage and no one without the secret can make one.

/** The query parameter that carries the token on every payer link of an order. */
export const TOKEN_PARAM = 't';

// 128 bits: beyond guessing at any request rate.
const TOKEN_BYTES = 16;

export function cashierToken(secret: string, orderId: string): string {
  return createHmac('sha256', secret).update(`cashier\u0000${orderId}`).digest().subarray(0, TOKEN_BYTES).toString('base64url');
}

/** Whether `token` is the order's; compared in constant time. */
export function cashierTokenValid(secret: string, orderId: string, token: unknown): boolean {
  if (typeof token !== 'string') return false;
  const want = Buffer.from(cashierToken(secret, orderId));
  const got = Buffer.from(token);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** The payer's links of an order: the hosted cashier, what its script polls, the channel form, the QR image. */
export class CashierLinks {
  constructor(
    private readonly secret: string,
    private readonly publicBaseUrl: string,
  ) {}

  // An answer carries several links of one order (the cashier and its QR image): one HMAC for them all.
  private lastOrderId = '';
  private lastQuery = '';

  private query(orderId: string): string {
    if (orderId !== this.lastOrderId) {
      this.lastQuery = `?${TOKEN_PARAM}=${cashierToken(this.secret, orderId)}`;
      this.lastOrderId = orderId;
    }
    return this.lastQuery;
  }

  cashierPath = (orderId: string) => `/cashier/${orderId}${this.query(orderId)}`;
  statusPath = (orderId: string) => `/cashier/${orderId}/status${this.query(orderId)}`;
  formPath = (orderId: string) => `/cashier/${orderId}/form${this.query(orderId)}`;
  cashierUrl = (orderId: string) => `${this.publicBaseUrl}${this.cashierPath(orderId)}`;
  qrImageUrl = (orderId: string) => `${this.publicBaseUrl}/qr/${orderId}.png${this.query(orderId)}`;

  /** Whether a request for `orderId` carried its token (`query` is the request's parsed query string). */
  allows(orderId: string, query: unknown): boolean {
    const token = query && typeof query === 'object' ? (query as Record<string, unknown>)[TOKEN_PARAM] : undefined;
    return cashierTokenValid(this.secret, orderId, token);
  }
}
