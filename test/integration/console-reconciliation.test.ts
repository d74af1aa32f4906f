import t from 'tap';
import { reconcileDay } from '../../src/services/reconciliation.js';
import { FakeClock } from '../fake-clock.js';
import { createOrder, sandboxPay, startGateway, type TestGateway } from '../helper.js';
import { ConsoleClient, PASSWORD, TEST_MASTER_KEY, auditRows, makeOperators } from '../console-client.js';

// The console's reconciliation pages (CONTRACT §5, §6) over HTTP: a sandbox day reconciled with
// reconcileDay, its days, runs and items read from what the runs stored (no bill downloaded on a
// page view), and the re-run of a day by support, confirmed first, audited, refused to a viewer.

const DAY = '2026-01-01'; // the fake clock starts at 12:00 Beijing that day

async function paid(gw: TestGateway, amount: string, payway = 'wxpay'): Promise<string> {
  const orderId = await createOrder(gw, { tradeAmt: amount, paywayCode: payway });
  await sandboxPay(gw, orderId);
  return orderId;
}

type Teardown = { teardown(fn: () => unknown): void };

async function setup(t: Teardown) {
  const clock = new FakeClock();
  const gw = await startGateway(t, { MASTER_KEY: TEST_MASTER_KEY }, { clock, merchantName: '<b>商户</b>' });
  await makeOperators(gw.gateway.writer, clock.now());
  const client = async (email: string) => {
    const c = new ConsoleClient(gw.url);
    await c.login(email, PASSWORD);
    return c;
  };
  return { gw, clock, client };
}

/** Counts the bill downloads the sandbox driver makes, so that a page view is seen to make none. */
async function countDownloads(t: Teardown, gw: TestGateway, orderId: string): Promise<() => number> {
  let n = 0;
  const driver = gw.gateway.services.registry.resolve('sandbox', 'wxpay', (await gw.gateway.services.reads.order(orderId))!.scene);
  if (!driver.ok) throw new Error('no sandbox driver');
  const d = driver.driver as { downloadTradeBill?: (...a: unknown[]) => Promise<unknown> };
  const original = d.downloadTradeBill!.bind(d);
  d.downloadTradeBill = (...a: unknown[]) => {
    n += 1;
    return original(...a);
  };
  t.teardown(() => {
    d.downloadTradeBill = original;
  });
  return () => n;
}

t.test('days, a day\'s runs and a run\'s items, from the stored runs', async (t) => {
  const { gw, client } = await setup(t);
  const mercNo = gw.merchant.mercNo;
  const ok = await paid(gw, '12.34');
  const missing = await paid(gw, '0.95');
  const mismatch = await paid(gw, '0.96');
  await paid(gw, '1.00', 'alipay');
  await reconcileDay(gw.gateway.services, { date: DAY });
  const downloads = await countDownloads(t, gw, ok);

  const c = await client('viewer@shop.test');
  const days = await c.get('/console/reconciliation');
  t.equal(days.status, 200);
  t.match(days.text, new RegExp(`href="/console/reconciliation/${DAY}"`), 'the day with runs');
  t.match(days.text, /id="nav"[^]*href="\/console\/reconciliation"/, 'in the navigation');
  t.notMatch(days.text, /rerun-form/, 'a viewer is offered no re-run');

  const day = await c.get(`/console/reconciliation/${DAY}`);
  t.equal(day.status, 200);
  const rows = day.text.split('<tr>').filter((r) => r.includes(`/console/reconciliation/runs/`));
  t.equal(rows.length, 2, 'one run per payway with lines');
  const wx = rows.find((r) => r.includes('wxpay'))!;
  t.match(wx, /<td><span class="num">1<\/span><\/td><td><span class="num">0<\/span><\/td><td><span class="num">1<\/span><\/td><td><span class="num">1<\/span><\/td>/, 'matched 1, healed 0, missing 1, mismatch 1');
  t.match(wx, /13\.31/, 'the bill\'s trade total as yuan (12.34 + 0.97: 0.95 left out, 0.96 one fen more)');
  t.notOk(day.text.includes('<b>商户</b>'), 'the merchant name is escaped');
  t.ok(day.text.includes('&lt;b&gt;商户&lt;/b&gt;'));

  const runId = /href="\/console\/reconciliation\/runs\/(\d+)">[^<]*<\/a>[^<]*<\/td><td>wxpay/.exec(day.text)?.[1];
  t.ok(runId, 'a link to the wxpay run');
  const run = await c.get(`/console/reconciliation/runs/${runId}`);
  t.equal(run.status, 200);
  const items = run.text.split('<tr>').slice(2);
  t.equal(items.length, 2, 'the two lines that did not match');
  const missingRow = items.find((r) => r.includes(missing))!;
  t.match(missingRow, /missing_at_channel/);
  t.match(missingRow, /0\.95/);
  const mismatchRow = items.find((r) => r.includes(mismatch))!;
  t.match(mismatchRow, /amount_mismatch/);
  t.match(mismatchRow, /0\.96[^]*0\.97/, 'dtpay\'s amount and the bill\'s');
  t.notOk(run.text.includes(ok), 'a matched line is not an item');
  t.equal(downloads(), 0, 'no page view downloaded a bill');

  t.equal((await c.get('/console/reconciliation/runs/999999')).status, 404);
  t.equal((await c.get('/console/reconciliation/2026-02-30')).status, 400);
  t.match((await c.get('/console/reconciliation?before=junk')).text, /before: must be a date/);
  const empty = await c.get('/console/reconciliation/2025-12-31');
  t.equal(empty.status, 200, 'a day without runs says so');
  t.match(empty.text, /还没有对账记录/);
});

t.test('days are paged newest first', async (t) => {
  const { gw, client } = await setup(t);
  const mercNo = gw.merchant.mercNo;
  // 31 stored days, as the writer stores a run, so that the page size is passed.
  for (let d = 0; d < 31; d++) {
    const date = new Date(Date.UTC(2025, 10, 1 + d)).toISOString().slice(0, 10);
    await gw.sql.run(`INSERT INTO reconciliation_runs (bill_date, merc_no, payway, status, started_at, finished_at) VALUES (?, ?, 'wxpay', 'ok', 1, 1)`, date, mercNo);
  }
  const c = await client('viewer@shop.test');
  const first = await c.get('/console/reconciliation');
  const days = [...first.text.matchAll(/href="\/console\/reconciliation\/(\d{4}-\d{2}-\d{2})"/g)].map((m) => m[1]);
  t.equal(days.length, 30);
  t.equal(days[0], '2025-12-01', 'newest first');
  const next = /id="next-page" href="([^"]+)"/.exec(first.text)![1]!;
  const second = await c.get(next);
  t.same([...second.text.matchAll(/href="\/console\/reconciliation\/(\d{4}-\d{2}-\d{2})"/g)].map((m) => m[1]), ['2025-11-01']);
});

t.test('a day run again by support through reconcileDay: confirmed first, audited; a viewer is refused and nothing changes', async (t) => {
  const { gw, client } = await setup(t);
  const mercNo = gw.merchant.mercNo;
  await paid(gw, '2.00');
  const runs = async () => JSON.stringify(await gw.sql.all('SELECT * FROM reconciliation_runs ORDER BY id'));

  const viewer = await client('viewer@shop.test');
  const before = await runs();
  for (const path of ['/console/reconciliation/rerun/confirm', '/console/reconciliation/rerun']) {
    await viewer.get('/console/reconciliation');
    const r = await viewer.post(path, { date: DAY });
    t.equal(r.status, 403, `viewer: ${path}`);
  }
  t.equal(await runs(), before, 'nothing changed');
  t.equal((await auditRows(gw)).filter((a) => a.action.startsWith('reconciliation/') && a.outcome === 'denied').length, 2, 'each refusal audited');

  const support = await client('support@shop.test');
  const page = await support.get('/console/reconciliation');
  t.match(page.text, /id="rerun-form"/, 'support is offered a re-run');
  const confirm = await support.post('/console/reconciliation/rerun/confirm', { date: DAY, merc: mercNo, payway: 'wxpay' });
  t.equal(confirm.status, 200);
  t.match(confirm.text, /id="confirm-rerun"/);
  t.equal(await runs(), before, 'the confirmation step runs nothing');
  for (const [body, field] of [[{ date: '2026-13-01' }, 'date'], [{ date: '2030-01-01' }, 'date'], [{ date: DAY, merc: 'M999' }, 'merc'], [{ date: DAY, payway: 'paypal' }, 'payway']] as const) {
    await support.get('/console/reconciliation');
    const r = await support.post('/console/reconciliation/rerun', body);
    t.equal(r.status, 400, JSON.stringify(body));
    t.match(r.text, new RegExp(`${field}: must`));
  }
  t.equal(await runs(), before, 'a refused re-run runs nothing');

  await support.get('/console/reconciliation');
  const done = await support.post('/console/reconciliation/rerun', { date: DAY, merc: mercNo, payway: 'wxpay' });
  t.equal(done.status, 303);
  t.equal(done.location, `/console/reconciliation/${DAY}`);
  const stored = await gw.sql.all('SELECT merc_no, payway, status, matched FROM reconciliation_runs');
  t.same(stored, [{ merc_no: mercNo, payway: 'wxpay', status: 'ok', matched: 1 }], 'one merchant and payway reconciled, as asked');
  const after = await support.get(`/console/reconciliation/${DAY}`);
  t.match(after.text, /已重新对账/);
  const audited = (await auditRows(gw)).filter((a) => a.action === 'reconciliation/rerun' && a.operator === 'support@shop.test');
  t.same(audited.map((a) => a.outcome), ['refused', 'refused', 'refused', 'refused', 'ok']);
  t.equal(audited.at(-1)!.target, `${DAY} ${mercNo} wxpay`);

  // The whole day, by admin: the alipay payway had no lines and keeps no run.
  const admin = await client('admin@shop.test');
  await admin.get('/console/reconciliation');
  t.equal((await admin.post('/console/reconciliation/rerun', { date: DAY })).status, 303);
  t.equal(await gw.sql.value('SELECT count(*) FROM reconciliation_runs'), 1);
});
