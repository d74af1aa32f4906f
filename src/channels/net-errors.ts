// Sorting a failed channel call (DESIGN.md "errors sort three ways"): an error raised before a
// byte of the request could leave means the channel cannot have acted on it, so the call is
// "unreached" and safe to send again; anything else leaves the outcome unknown.

const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  // A TLS handshake that failed on the certificate: nothing was sent.
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
]);

export function neverConnected(err: unknown): boolean {
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown; name?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.name === 'AbortError') return false;
  if (typeof e.code === 'string' && NOT_CONNECTED.has(e.code)) return true;
  // Happy-eyeballs connects report one AggregateError for all the addresses tried.
  if (Array.isArray(e.errors) && e.errors.length > 0) return e.errors.every(neverConnected);
  return e.cause !== undefined && e.cause !== err && neverConnected(e.cause);
}
