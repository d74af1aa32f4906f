import t from 'tap';
import { createHmac } from 'node:crypto';
import { verifyWebhook, webhookHeaders } from '../../src/notify/webhook-signature.js';

const key = 'k3y-For-Tests-0123456789abcdefXYZ';
const id = 'ntf_01J0ZK3QF6R8W1V2X3Y4Z5A6B7';
const timestampSec = 1_718_686_706;
const body = '{"mercNo":"M100000000000001","orderId":"P1","payStatus":"p0000","tradeAmt":"0.01","subject":"测试"}';
const now = timestampSec * 1000;

// Computed here straight from node:crypto, independently of the module under test.
const vector = `v1,${createHmac('sha256', Buffer.from(key, 'utf8'))
  .update(Buffer.from(`${id}.${timestampSec}.${body}`, 'utf8'))
  .digest('base64')}`;

t.test('headers', async (t) => {
  const h = webhookHeaders({ id, timestampSec, body, key });
  t.same(h, {
    'webhook-id': id,
    'webhook-timestamp': '1718686706',
    'webhook-signature': vector,
  });
  t.match(h['webhook-signature'], /^v1,[A-Za-z0-9+/]{43}=$/);
  t.throws(() => webhookHeaders({ id, timestampSec: 1.5, body, key }), RangeError);
});

t.test('round trip and header spelling', async (t) => {
  const h = webhookHeaders({ id, timestampSec, body, key });
  t.ok(verifyWebhook({ ...h }, body, key, { now }));
  t.ok(
    verifyWebhook(
      { 'Webhook-Id': id, 'WEBHOOK-TIMESTAMP': h['webhook-timestamp'], 'Webhook-Signature': [vector] },
      body,
      key,
      { now },
    ),
    'header names in any case, single-valued arrays',
  );
});

t.test('several signatures', async (t) => {
  const other = `v1,${createHmac('sha256', 'old-key').update(`${id}.${timestampSec}.${body}`).digest('base64')}`;
  const base = { 'webhook-id': id, 'webhook-timestamp': String(timestampSec) };
  t.ok(verifyWebhook({ ...base, 'webhook-signature': `${other} ${vector}` }, body, key, { now }), 'match second');
  t.ok(verifyWebhook({ ...base, 'webhook-signature': `${vector} ${other}` }, body, key, { now }), 'match first');
  t.ok(verifyWebhook({ ...base, 'webhook-signature': `v1a,abc ${vector}` }, body, key, { now }), 'other schemes skipped');
  t.notOk(verifyWebhook({ ...base, 'webhook-signature': other }, body, key, { now }), 'only a foreign key');
  t.notOk(
    verifyWebhook({ ...base, 'webhook-signature': vector.replace('v1,', 'v2,') }, body, key, { now }),
    'right MAC under another version',
  );
  t.notOk(
    verifyWebhook({ ...base, 'webhook-signature': vector.slice(3) }, body, key, { now }),
    'bare MAC without version',
  );
});

t.test('tampering', async (t) => {
  const h = webhookHeaders({ id, timestampSec, body, key });
  t.notOk(verifyWebhook(h, body.replace('0.01', '0.02'), key, { now }), 'body');
  t.notOk(verifyWebhook(h, `${body} `, key, { now }), 'trailing space in body');
  t.notOk(verifyWebhook(h, body, `${key}x`, { now }), 'key');
  t.notOk(verifyWebhook({ ...h, 'webhook-id': `${id}x` }, body, key, { now }), 'id');
  t.notOk(verifyWebhook({ ...h, 'webhook-timestamp': String(timestampSec + 1) }, body, key, { now }), 'timestamp');
  const sig = h['webhook-signature'];
  const flipped = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11);
  t.notOk(verifyWebhook({ ...h, 'webhook-signature': flipped }, body, key, { now }), 'one character');
  t.notOk(verifyWebhook({ ...h, 'webhook-signature': `${sig}x` }, body, key, { now }), 'junk appended');
  t.notOk(verifyWebhook({ ...h, 'webhook-signature': sig.slice(0, -1) }, body, key, { now }), 'padding dropped');
  t.notOk(verifyWebhook({ ...h, 'webhook-signature': 'v1,' }, body, key, { now }), 'empty');
  t.notOk(verifyWebhook({ ...h, 'webhook-signature': '' }, body, key, { now }), 'blank');
  t.notOk(verifyWebhook({ ...h, 'webhook-signature': [sig, sig] }, body, key, { now }), 'repeated header');
  const { 'webhook-id': _i, ...noId } = h;
  t.notOk(verifyWebhook(noId, body, key, { now }), 'missing id');
  const { 'webhook-timestamp': _t, ...noTs } = h;
  t.notOk(verifyWebhook(noTs, body, key, { now }), 'missing timestamp');
  const { 'webhook-signature': _s, ...noSig } = h;
  t.notOk(verifyWebhook(noSig, body, key, { now }), 'missing signature');
  t.notOk(verifyWebhook({ ...h, 'webhook-timestamp': '1718686706.0' }, body, key, { now }), 'odd timestamp');
});

t.test('timestamp tolerance', async (t) => {
  const h = webhookHeaders({ id, timestampSec, body, key });
  t.ok(verifyWebhook(h, body, key, { now: now + 300_000 }), '300 s late is still fine');
  t.notOk(verifyWebhook(h, body, key, { now: now + 301_000 }), 'stale');
  t.ok(verifyWebhook(h, body, key, { now: now - 300_000 }), '300 s early is fine');
  t.notOk(verifyWebhook(h, body, key, { now: now - 301_000 }), 'from the future');
  t.notOk(verifyWebhook(h, body, key, { now: now + 61_000, toleranceSec: 60 }), 'custom tolerance');
  t.ok(verifyWebhook(h, body, key, { now: now + 59_000, toleranceSec: 60 }));
});
