import t from 'tap';
import { Readable } from 'node:stream';
import { Pool } from 'undici';
import { startGateway, payFields, responseVerifies } from '../helper.js';
import { sign } from '../../src/domain/sign.js';
import { YUAN_PATTERN, yuanToFen } from '../../src/domain/money.js';
import { SANDBOX_MAGIC_FEN } from '../../src/channels/sandbox/magic.js';
import { httpStatusOf, type RespCode } from '../../src/errors.js';

// A few thousand malformed bodies for POST /api/pay, generated from a fixed seed and sent over real
// HTTP to 127.0.0.1, 8 at a time. Whatever a client sends: never a 5xx, always the JSON envelope,
// nothing stored for a rejected request, and the server is still healthy afterwards.

const SEED = 0x00d7_ba1d;
const CASES = 3000;
const CONCURRENCY = 8;

const gw = await startGateway(t);
const M = gw.merchant;
const LIMIT = gw.config.BODY_LIMIT_BYTES;
const pool = new Pool(gw.url, { connections: CONCURRENCY });
t.teardown(() => pool.close());

const orderCount = async () => (await gw.sql.value<number>('select count(*) c from orders'))!;

// ---------------------------------------------------------------------------------------------
// Deterministic randomness (mulberry32)

let state = SEED >>> 0;
const rnd = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let x = state;
  x = Math.imul(x ^ (x >>> 15), x | 1);
  x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
};
const int = (n: number) => Math.floor(rnd() * n);
const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
const chance = (p: number) => rnd() < p;

/** A random code point from ranges that tend to break things, lone surrogates included. */
function oddChar(): string {
  switch (int(9)) {
    case 0: return String.fromCharCode(int(0x20)); // C0 controls, NUL included
    case 1: return String.fromCharCode(0xd800 + int(0x800)); // a lone surrogate
    case 2: return pick(['\u200e', '\u200f', '\u202a', '\u202b', '\u202e', '\u2066', '\u2069', '\u061c']); // bidi marks
    case 3: return String.fromCodePoint(0x1f300 + int(0x300)); // emoji
    case 4: return pick(['\ufeff', '\ufffe', '\uffff', '\u2028', '\u2029', '\u0085', '\u00a0', '\u007f', '\u0301', '\u200d']);
    case 5: return String.fromCharCode(0x4e00 + int(0x5000)); // CJK
    case 6: return String.fromCodePoint(0x10000 + int(0x100000)); // anything astral
    case 7: return String.fromCharCode(0x80 + int(0x180)); // Latin-1 and beyond
    default: return String.fromCharCode(0x20 + int(0x5f)); // printable ASCII
  }
}
const oddString = (n: number) => {
  let s = '';
  for (let i = 0; i < n; i++) s += oddChar();
  return s;
};
const asciiString = (n: number) => {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(0x20 + int(0x5f));
  return s;
};

const NASTY_STRINGS = [
  '', ' ', '0', '-1', '1e999', '0.00', '00', 'null', 'true', 'undefined', 'NaN', '[]', '{}',
  '\u0000', '\ud800', '\udfff', '\ud83d', 'a\nb', '\u200f\u202eabc', '😀', '👩‍💻', '\ufeff',
  "' OR 1=1 --", '"; DROP TABLE orders; --', '<script>alert(1)</script>', '${7*7}', '%00', '%s%n',
  '../../../etc/passwd', 'javascript:alert(1)', 'ftp://x/', 'http://', 'http://127.0.0.1:9/n',
  '2024', '20240230120000', '99999999999999999999', '1.234', '43201', 'M', 'MD5', 'HMAC-SHA256',
  'alipay', 'wxpay', 'unionpay', 'scan', 'h5', 'jspay', 'ebank', 'gateway', 'pc', '02',
];
const NON_STRINGS: unknown[] = [0, -1, 1.5, 1e308, -0, null, true, false, [], ['a'], {}, { a: 'b' }, [[[]]], { mercNo: M.mercNo }];
const ODD_KEYS = ['__proto__', 'constructor', 'prototype', '', ' ', '\u0000', '😀', 'mercno', 'MERCNO', 'sign', 'key', 'a.b', '\ud800', 'tradeAmt ', 'toString'];

/** JSON text of entries in order, duplicates allowed (JSON.stringify escapes lone surrogates as \ud800). */
const jsonOf = (entries: Array<[string, unknown]>) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;

function signedOrder(over: Record<string, string> = {}): Record<string, string> {
  const f = payFields(M.mercNo, over);
  return { ...f, signature: sign(f, M.key, 'MD5') };
}

/** Keeps the sandbox's magic amounts (which answer 502/504 by design) out of the fuzz. */
function noMagic(fields: Record<string, unknown>) {
  const a = fields.tradeAmt;
  if (typeof a === 'string' && YUAN_PATTERN.test(a)) {
    const fen = yuanToFen(a);
    if (fen === SANDBOX_MAGIC_FEN.REFUSE || fen === SANDBOX_MAGIC_FEN.TIMEOUT) fields.tradeAmt = '12.34';
  }
}

// ---------------------------------------------------------------------------------------------
// Cases

interface Case {
  kind: string;
  body: string | Buffer | (() => AsyncIterable<Buffer>);
  /** undefined: no Content-Type header at all */
  contentType: string | undefined;
  expect?: { status: number; code: RespCode };
}

const JSON_CT = 'application/json';
const FORM_CT = 'application/x-www-form-urlencoded';
const UNSUPPORTED_CT = ['text/plain', 'text/html', 'application/xml', 'multipart/form-data; boundary=zz', 'application/octet-stream', 'image/png', 'application/javascript', 'text/csv'];
const ODD_CT = [undefined, '', '*/*', 'json', 'application/jsonx', 'application/json-patch+json', 'application/x-www-form-urlencodedx', 'APPLICATION/JSON', 'application/json;charset=utf-8', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'application/x-www-form-urlencoded; charset=gbk', ' application/json', 'application/json, text/plain'];

const generators: Record<string, { weight: number; make(): Case }> = {
  garbage: {
    weight: 10,
    make: () => {
      const alphabet = '{}[]":,\\ntrufalse0123456789.-+eE \t\r\nabcxyz\'';
      let s = '';
      for (let n = 1 + int(200); n > 0; n--) s += alphabet[int(alphabet.length)];
      return { kind: 'garbage', body: s, contentType: JSON_CT };
    },
  },
  truncated: {
    weight: 10,
    make: () => {
      const full = JSON.stringify(signedOrder());
      return { kind: 'truncated', body: full.slice(0, 1 + int(full.length - 1)), contentType: JSON_CT };
    },
  },
  topLevel: {
    weight: 5,
    make: () => {
      const body = pick([
        '[]', '[1,2,3]', '0', '-1e999', '1e400', 'null', 'true', 'false', '"mercNo"', '"\\ud800"', '"\\u0000"',
        `[${JSON.stringify(signedOrder())}]`, `${JSON.stringify(signedOrder())}${JSON.stringify(signedOrder())}`,
        `${JSON.stringify(signedOrder())} trailing`, '{}', '{"":""}', ' ', '\ufeff{}',
      ]);
      return { kind: 'topLevel', body, contentType: JSON_CT };
    },
  },
  deep: {
    weight: 3,
    make: () => {
      const d = 100 + int(15_000);
      const body = pick([
        () => '['.repeat(d) + ']'.repeat(d),
        () => '{"a":'.repeat(d) + '1' + '}'.repeat(d),
        () => `{"mercNo":"${M.mercNo}","subject":${'['.repeat(d)}${']'.repeat(d)}}`,
        () => `{"mercNo":${'{"mercNo":'.repeat(d)}"x"${'}'.repeat(d)}}`,
        () => '['.repeat(d), // unterminated
        () => `{"constructor":${'{"prototype":'.repeat(Math.min(d, 2000))}{}${'}'.repeat(Math.min(d, 2000))}}`,
      ])();
      return { kind: 'deep', body, contentType: JSON_CT };
    },
  },
  huge: {
    weight: 4,
    make: () => {
      const f: Record<string, unknown> = payFields(M.mercNo);
      const field = pick(['subject', 'body', 'attach', 'remark', 'notifyUrl', 'quickPayAttach', 'mercOrderNo', 'unknownHuge', 'signature']);
      f[field] = chance(0.5) ? 'x'.repeat(1000 + int(55_000)) : oddString(500 + int(8_000));
      const entries = Object.entries(f);
      if (chance(0.7)) entries.push(['signature', sign(f as Record<string, string>, M.key, 'MD5')]);
      const body = jsonOf(entries);
      return Buffer.byteLength(body) > LIMIT
        ? { kind: 'huge', body, contentType: JSON_CT, expect: { status: 413, code: '100001' } }
        : { kind: 'huge', body, contentType: JSON_CT };
    },
  },
  unicode: {
    weight: 12,
    make: () => {
      const f: Record<string, string> = payFields(M.mercNo);
      const field = pick(Object.keys(f));
      const where = int(3);
      const odd = oddString(1 + int(12));
      f[field] = where === 0 ? odd : where === 1 ? f[field] + odd : odd + f[field];
      noMagic(f);
      const entries: Array<[string, unknown]> = Object.entries(f);
      if (chance(0.2)) entries.push([oddString(1 + int(4)), 'v']); // an odd key too
      entries.push(['signature', chance(0.8) ? sign(Object.fromEntries(entries) as Record<string, string>, M.key, 'MD5') : 'ABC']);
      if (chance(0.15)) return { kind: 'unicode', body: new URLSearchParams(entries as Array<[string, string]>).toString(), contentType: FORM_CT };
      return { kind: 'unicode', body: jsonOf(entries), contentType: JSON_CT };
    },
  },
  rawBytes: {
    weight: 3,
    make: () => {
      const good = Buffer.from(JSON.stringify(signedOrder()));
      const bytes = Buffer.from(good);
      for (let n = 1 + int(8); n > 0; n--) bytes[int(bytes.length)] = pick([0x00, 0x80, 0xbf, 0xc0, 0xc3, 0xed, 0xf4, 0xf5, 0xfe, 0xff, int(256)]);
      return { kind: 'rawBytes', body: bytes, contentType: pick([JSON_CT, FORM_CT]) };
    },
  },
  contentType: {
    weight: 8,
    make: () => {
      const body = chance(0.5) ? JSON.stringify(signedOrder()) : new URLSearchParams(signedOrder()).toString();
      if (chance(0.5)) {
        return { kind: 'contentType', body, contentType: pick(UNSUPPORTED_CT), expect: { status: 415, code: '100001' } };
      }
      return { kind: 'contentType', body, contentType: pick(ODD_CT) };
    },
  },
  mutation: {
    weight: 40,
    make: () => {
      const f: Record<string, unknown> = payFields(M.mercNo);
      const dupes: Array<[string, unknown]> = [];
      const signFirst = chance(0.2);
      let signature = signFirst ? sign(f as Record<string, string>, M.key, pick(['MD5', 'HMAC-SHA256'])) : '';
      for (let n = 1 + int(3); n > 0; n--) {
        const keys = Object.keys(f);
        switch (int(8)) {
          case 0: delete f[pick(keys)]; break;
          case 1: f[pick(keys)] = pick(NASTY_STRINGS); break;
          case 2: f[pick(keys)] = pick(NON_STRINGS); break;
          case 3: f[pick(ODD_KEYS)] = pick(NASTY_STRINGS); break;
          case 4: f[pick(keys)] = asciiString(int(300)); break;
          case 5: f[pick(['subject', 'body', 'remark', 'attach'])] = oddString(int(150)); break;
          case 6: dupes.push([pick(keys), pick(NASTY_STRINGS)]); break;
          default: f.signType = pick(['MD5', 'HMAC-SHA256', 'md5', 'SHA1', '']); break;
        }
      }
      noMagic(f);
      const allStrings = Object.values(f).every((v) => typeof v === 'string');
      if (!signFirst && allStrings && chance(0.75)) {
        const st = f.signType === 'HMAC-SHA256' ? 'HMAC-SHA256' : 'MD5';
        signature = sign(f as Record<string, string>, M.key, st);
      }
      const entries: Array<[string, unknown]> = Object.entries(f);
      if (signature) entries.push(['signature', chance(0.05) ? signature.toLowerCase() : signature]);
      entries.push(...dupes);
      if (allStrings && dupes.every(([, v]) => typeof v === 'string') && chance(0.25)) {
        return { kind: 'mutation', body: new URLSearchParams(entries as Array<[string, string]>).toString(), contentType: FORM_CT };
      }
      return { kind: 'mutation', body: jsonOf(entries), contentType: JSON_CT };
    },
  },
  tooLarge: {
    weight: 1,
    make: () => {
      const size = LIMIT + 1 + int(4 * LIMIT);
      const expect = { status: 413, code: '100001' } as const;
      switch (int(3)) {
        case 0: return { kind: 'tooLarge', body: JSON.stringify({ ...signedOrder(), subject: 'x'.repeat(size) }), contentType: JSON_CT, expect };
        case 1: return { kind: 'tooLarge', body: `mercNo=${M.mercNo}&subject=${'y'.repeat(size)}`, contentType: FORM_CT, expect };
        default: {
          // chunked: no Content-Length, so the limit is found while reading
          const chunk = Buffer.from(`{"mercNo":"${M.mercNo}","subject":"${'z'.repeat(8192)}`);
          const chunks = Math.ceil(size / chunk.length) + 1;
          return {
            kind: 'tooLarge',
            body: async function* () { for (let i = 0; i < chunks; i++) yield chunk; },
            contentType: JSON_CT,
            expect,
          };
        }
      }
    },
  },
  empty: {
    weight: 2,
    make: () => {
      const contentType = pick([JSON_CT, FORM_CT, undefined]);
      return contentType === JSON_CT
        ? { kind: 'empty', body: '', contentType, expect: { status: 400, code: '100001' } }
        : { kind: 'empty', body: '', contentType, expect: contentType === FORM_CT ? { status: 400, code: '100001' } : undefined };
    },
  },
};

const kinds = Object.keys(generators);
const totalWeight = kinds.reduce((s, k) => s + generators[k]!.weight, 0);
function nextCase(): Case {
  let r = rnd() * totalWeight;
  for (const k of kinds) {
    r -= generators[k]!.weight;
    if (r < 0) return generators[k]!.make();
  }
  return generators[kinds[0]!]!.make();
}

// ---------------------------------------------------------------------------------------------
// The run

interface Outcome {
  c: Case;
  status: number;
  contentType: string;
  text: string;
}

async function send(c: Case): Promise<Outcome> {
  const headers: Record<string, string> = {};
  if (c.contentType !== undefined) headers['content-type'] = c.contentType;
  const body = typeof c.body === 'function' ? Readable.from(c.body()) : c.body;
  const res = await pool.request({ path: '/api/pay', method: 'POST', headers, body });
  const text = await res.body.text();
  const ct = res.headers['content-type'];
  return { c, status: res.statusCode, contentType: Array.isArray(ct) ? ct.join(',') : (ct ?? ''), text };
}

/** What is wrong with one answer, or nothing. */
function problems(o: Outcome): string[] {
  const out: string[] = [];
  if (o.status >= 500) out.push(`status ${o.status}`);
  if (!/^application\/json/.test(o.contentType)) out.push(`content-type ${o.contentType}`);
  let b: Record<string, unknown>;
  try {
    b = JSON.parse(o.text);
  } catch {
    return [...out, 'body is not JSON'];
  }
  if (b === null || typeof b !== 'object' || Array.isArray(b)) return [...out, 'body is not an object'];
  for (const f of ['respCode', 'respDesc', 'interfaceCode']) if (typeof b[f] !== 'string') out.push(`no ${f}`);
  if (b.interfaceCode !== 'pay') out.push(`interfaceCode ${String(b.interfaceCode)}`);
  const code = b.respCode as RespCode;
  const statusOk = code === '100001' ? [400, 413, 415].includes(o.status) : httpStatusOf(code) === o.status;
  if (!statusOk) out.push(`respCode ${code} with HTTP ${o.status}`);
  if (o.c.expect && (o.status !== o.c.expect.status || code !== o.c.expect.code)) {
    out.push(`expected ${o.c.expect.status}/${o.c.expect.code}, got ${o.status}/${code}`);
  }
  if (b.signature !== undefined) {
    if (b.mercNo !== M.mercNo) out.push(`signed for ${String(b.mercNo)}`);
    else if (!responseVerifies(b as Record<string, string>, M.key)) out.push('signature does not verify');
  } else if (b.mercNo !== undefined) {
    out.push('names a merchant but is not signed');
  } else if (['000000', '100004', '100006'].includes(code)) {
    out.push(`${code} can only be answered to an identified merchant, but is not signed`);
  }
  // Only a request whose signature verified is answered signed: never a signature error.
  if (code === '100002' && b.signature !== undefined) out.push('a signature error is signed');
  if (code === '000000' && typeof b.orderId !== 'string') out.push('success without orderId');
  return out;
}

t.test(`${CASES} malformed bodies, ${CONCURRENCY} at a time`, async (t) => {
  const cases = Array.from({ length: CASES }, nextCase);
  const before = await orderCount();
  const outcomes: Outcome[] = new Array(cases.length);
  const errors: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < cases.length) {
        const i = next++;
        try {
          outcomes[i] = await send(cases[i]!);
        } catch (err) {
          errors.push(`#${i} ${cases[i]!.kind}: ${(err as Error).message}`);
        }
      }
    }),
  );
  t.same(errors, [], 'every request got an answer');

  const byKind = new Map<string, number>();
  const byStatus = new Map<number, number>();
  const failures: string[] = [];
  const orderIds = new Set<string>();
  outcomes.forEach((o, i) => {
    if (!o) return;
    byKind.set(o.c.kind, (byKind.get(o.c.kind) ?? 0) + 1);
    byStatus.set(o.status, (byStatus.get(o.status) ?? 0) + 1);
    const p = problems(o);
    if (p.length) {
      const sample = typeof o.c.body === 'function' ? '<stream>' : o.c.body.toString().slice(0, 160);
      failures.push(`#${i} ${o.c.kind} [${o.c.contentType}] ${p.join('; ')} :: ${o.status} ${o.text.slice(0, 200)} :: ${JSON.stringify(sample)}`);
    }
    if (o.status === 200) {
      try {
        const id = (JSON.parse(o.text) as Record<string, string>).orderId;
        if (id) orderIds.add(id);
      } catch {
        // reported above
      }
    }
  });
  t.same(failures.slice(0, 25), [], `no broken answers (${failures.length} in all)`);
  t.equal(byStatus.get(500) ?? 0, 0, 'no 500');
  for (const k of kinds) t.ok((byKind.get(k) ?? 0) > 0, `kind ${k} exercised (${byKind.get(k) ?? 0})`);
  t.ok((byStatus.get(413) ?? 0) > 0, `413s seen (${byStatus.get(413) ?? 0})`);
  t.ok((byStatus.get(415) ?? 0) > 0, `415s seen (${byStatus.get(415) ?? 0})`);
  t.ok((byStatus.get(400) ?? 0) > CASES / 2, `mostly 400s (${byStatus.get(400) ?? 0})`);
  t.equal((await orderCount()) - before, orderIds.size, `orders written only for the ${orderIds.size} accepted requests`);
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries([...byStatus].sort((a, b) => a[0] - b[0])))}`);
  t.comment(`kinds: ${JSON.stringify(Object.fromEntries(byKind))}`);
});

t.test('the server is healthy afterwards', async (t) => {
  const res = await gw.post('/api/pay', payFields(M.mercNo));
  t.equal(res.status, 200, res.text);
  t.equal(res.body.respCode, '000000');
  t.ok(responseVerifies(res.body, M.key), 'signed answer verifies');
  t.equal((await orderCount()) > 0, true);
  const health = await fetch(`${gw.url}/healthz`);
  t.equal(health.status, 200);
  t.same(await health.json(), { status: 'ok' });
});
