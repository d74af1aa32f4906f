import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { parseConfig } from '../src/config.js';
import { buildGateway } from '../src/app.js';
import { createMerchant } from '../src/services/merchants.js';
import { sign } from '../src/domain/sign.js';
import { MAX_FIELDS, jsonHasTooManyFields } from '../src/api/body-parsers.js';

// `node dist/bench/field-flood.js`: what one merchant API request of ~60 KB made of thousands of
// tiny fields costs the event loop, from the body's bytes to the answer. Runs a gateway in this
// process (fresh database, one sandbox merchant) and times app.inject, which does the whole request
// synchronously on this thread but the socket: its duration is the time the loop is held.
// Cases: form and JSON bodies naming a real merchant, with a bad signature and with a good one.
// Prints the median, p90 and max milliseconds per request for each case (and a normal request's,
// for scale), then what counting a JSON body's fields costs.

const { values: opt } = parseArgs({
  options: {
    requests: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '10' },
    bytes: { type: 'string', default: '61440' },
  },
});
const REQUESTS = Number(opt.requests);
const WARMUP = Number(opt.warmup);
const BYTES = Number(opt.bytes);

const dir = mkdtempSync(join(tmpdir(), 'dtpay-bench-fields-'));
const config = parseConfig({
  DATABASE_PATH: join(dir, 'dtpay.sqlite'),
  PUBLIC_BASE_URL: 'http://dtpay.test',
  LOG_LEVEL: 'silent',
  RATE_LIMIT_API_PER_MINUTE: '0',
  RATE_LIMIT_PAGES_PER_MINUTE: '0',
});
const gateway = await buildGateway(config, { logger: pino({ level: 'silent' }) });
try {
  const m = await createMerchant(gateway.services, 'Bench shop', 'sandbox');

  /** mercNo plus as many short junk fields as fit in BYTES once encoded. */
  function manyFields(encodedSize: (fields: Record<string, string>) => number): Record<string, string> {
    const fields: Record<string, string> = { mercNo: m.mercNo, mercOrderNo: 'FLOOD1' };
    for (let i = 0; ; i++) {
      fields[`f${i}`] = '1';
      if (i % 100 === 0 && encodedSize(fields) > BYTES - 200) break;
    }
    return fields;
  }
  const formOf = (f: Record<string, string>) => new URLSearchParams(f).toString();
  const jsonOf = (f: Record<string, string>) => JSON.stringify(f);

  const formFields = manyFields((f) => formOf(f).length);
  const jsonFields = manyFields((f) => jsonOf(f).length);
  const cases = [
    { name: 'normal, bad signature', type: 'application/json', body: jsonOf({ mercNo: m.mercNo, mercOrderNo: 'FLOOD1', signature: 'X'.repeat(32) }), n: 2 },
    { name: 'form, bad signature', type: 'application/x-www-form-urlencoded', body: formOf({ ...formFields, signature: 'X'.repeat(32) }), n: Object.keys(formFields).length },
    { name: 'form, signed', type: 'application/x-www-form-urlencoded', body: formOf({ ...formFields, signature: sign(formFields, m.key, 'MD5') }), n: Object.keys(formFields).length },
    { name: 'JSON, bad signature', type: 'application/json', body: jsonOf({ ...jsonFields, signature: 'X'.repeat(32) }), n: Object.keys(jsonFields).length },
    { name: 'JSON, signed', type: 'application/json', body: jsonOf({ ...jsonFields, signature: sign(jsonFields, m.key, 'MD5') }), n: Object.keys(jsonFields).length },
  ];

  const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  for (const c of cases) {
    const times: number[] = [];
    let answer = '';
    for (let i = 0; i < WARMUP + REQUESTS; i++) {
      const t0 = performance.now();
      const res = await gateway.app.inject({ method: 'POST', url: '/api/query', headers: { 'content-type': c.type }, payload: c.body });
      const ms = performance.now() - t0;
      if (i >= WARMUP) times.push(ms);
      answer = `${res.statusCode} ${res.body.slice(0, 110)}`;
    }
    times.sort((a, b) => a - b);
    const f = (x: number) => x.toFixed(2).padStart(7);
    console.log(
      `${c.name.padEnd(20)} ${String(c.n).padStart(5)} fields ${String(c.body.length).padStart(6)} B  median ${f(percentile(times, 0.5))} ms  p90 ${f(percentile(times, 0.9))} ms  max ${f(times.at(-1)!)} ms  → ${answer}`,
    );
  }

  // What counting a JSON body's fields costs, against JSON.parse of the same text: the flood
  // (settled at the 64th comma), a string full of commas (one jump over it), and the worst case,
  // thousands of short strings to jump between (not JSON, so the parser refuses it at once).
  const time = (fn: () => unknown) => {
    for (let i = 0; i < 20; i++) fn();
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) fn();
    return ((performance.now() - t0) / 200) * 1000;
  };
  const texts: Array<[string, string]> = [
    [`the ${Object.keys(jsonFields).length}-field flood`, jsonOf({ ...jsonFields, signature: 'X' })],
    ['one string of commas', JSON.stringify({ mercNo: m.mercNo, subject: ','.repeat(BYTES - 100) })],
    ['20,000 strings, then 64 commas', `[${'"" '.repeat(20_000)}${','.repeat(MAX_FIELDS)}]`],
  ];
  for (const [name, text] of texts) {
    let parse = 'refuses it';
    try {
      parse = `${time(() => JSON.parse(text)).toFixed(1)} µs`;
    } catch {
      // not JSON
    }
    console.log(`field count of ${name} (${text.length} B): ${time(() => jsonHasTooManyFields(text)).toFixed(1)} µs; JSON.parse: ${parse}`);
  }
} finally {
  await gateway.close();
  rmSync(dir, { recursive: true, force: true });
}
