import t from 'tap';
import { CLI, oneJson, runNode } from '../cli-runner.js';
import { payFields, startGateway } from '../helper.js';

// `dtpay merchant payouts` and `merchant show` (CONTRACT §4), run as the compiled CLI beside a
// real gateway on the same database; then what the order commands print of a payout.

const CARD = '6222021234567890123';
const NAME = '张小明';

t.test('payouts are turned on with limits, shown, used, and turned off', async (t) => {
  const gw = await startGateway(t);
  const { mercNo } = gw.merchant;
  const run = (args: string[]) => runNode(CLI, args, gw.dir, gw.storageEnv);

  const shown = oneJson(t, await run(['merchant', 'show', mercNo, '--json']));
  t.same(shown.payouts, { enabled: false }, 'off for every merchant at first');

  const noLimit = await run(['merchant', 'payouts', mercNo, '--enable']);
  t.not(noLimit.code, 0);
  t.match(noLimit.stderr, /--enable needs --daily-limit/);
  const badLimit = await run(['merchant', 'payouts', mercNo, '--enable', '--daily-limit', '5000.001']);
  t.not(badLimit.code, 0);
  t.match(badLimit.stderr, /--daily-limit must be yuan/);

  const on = await run(['merchant', 'payouts', mercNo, '--enable', '--daily-limit', '5000', '--per-payout-limit', '500.00', '--json']);
  t.equal(on.code, 0, on.stderr);
  t.same(oneJson(t, on), { mercNo, payouts: { enabled: true, dailyLimit: '5000.00', perPayoutLimit: '500.00' } });
  t.same(oneJson(t, await run(['merchant', 'show', mercNo, '--json'])).payouts, { enabled: true, dailyLimit: '5000.00', perPayoutLimit: '500.00' });
  const text = await run(['merchant', 'show', mercNo]);
  t.match(text.stdout, /payouts\s+on, daily limit 5000\.00, per payout 500\.00/);

  const over = await gw.post('/api/pay', payFields(mercNo, { tradeType: '02', sceneCode: 'transfer', signType: 'HMAC-SHA256', tradeAmt: '500.01', payeeAccountType: 'BANK_CARD', payeeAccount: CARD, payeeName: NAME }));
  t.match(over.body, { respCode: '100007', respDesc: /per-payout limit of 500\.00/ });
  const made = await gw.post('/api/pay', payFields(mercNo, { tradeType: '02', sceneCode: 'transfer', signType: 'HMAC-SHA256', tradeAmt: '12.00', payeeAccountType: 'BANK_CARD', payeeAccount: CARD, payeeName: NAME }));
  t.equal(made.body.respCode, '000000');

  for (const args of [['order', 'show', made.body.orderId!, '--json'], ['order', 'show', made.body.orderId!], ['order', 'list', '--json'], ['order', 'list']]) {
    const r = await run(args);
    t.equal(r.code, 0, args.join(' '));
    t.notOk(r.stdout.includes(CARD) || r.stdout.includes(NAME) || r.stderr.includes(CARD), `${args.join(' ')} never prints the clear payee`);
  }

  const off = await run(['merchant', 'payouts', mercNo, '--disable', '--json']);
  t.same(oneJson(t, off), { mercNo, payouts: { enabled: false, dailyLimit: '5000.00', perPayoutLimit: '500.00' } }, 'the limits are kept');
  const refused = await gw.post('/api/pay', payFields(mercNo, { tradeType: '02', sceneCode: 'transfer', signType: 'HMAC-SHA256', payeeAccountType: 'BANK_CARD', payeeAccount: CARD, payeeName: NAME }));
  t.equal(refused.body.respCode, '100006', 'off again at once, beside the running gateway');
  const help = await run(['merchant', 'payouts', '--help']);
  t.match(help.stdout, /merchant payouts MERCNO --enable --daily-limit AMOUNT/);
});
