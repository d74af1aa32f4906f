import t from 'tap';
import { beijingDay, maskPayeeAccount, maskPayeeName } from '../../src/domain/payee.js';
import { payoutRequestSchema } from '../../src/api/payout-schema.js';
import { describeIssues, payRequestSchema } from '../../src/api/pay-schema.js';
import { ChannelRegistry } from '../../src/channels/registry.js';
import { supportedCells } from '../../src/channels/matrix.js';
import { sandboxDriver } from '../../src/channels/sandbox/driver.js';
import type { ChannelDriver } from '../../src/channels/types.js';
import { nextPayoutCheckAt } from '../../src/services/payouts.js';
import { PayeeData } from '../../src/secrets/payee-data.js';
import { UnsealError } from '../../src/secrets/sealing.js';
import { orderFields } from '../fixtures/orders.js';

// CONTRACT §4's pure rules: masking, the Beijing day of the daily limit, the payout schema, the
// registry's payout cells, the payee's seal.

t.test('masking keeps 4+4 characters of a card, 3+3 of anything else, the last character of a name', async (t) => {
  t.equal(maskPayeeAccount('BANK_CARD', '6222021234561234'), '6222********1234');
  t.equal(maskPayeeAccount('BANK_CARD', '6222021234567890123'), '6222***********0123');
  t.equal(maskPayeeAccount('ALIPAY_LOGON_ID', 'zhang.san@example.com'), 'zha***************com');
  t.equal(maskPayeeAccount('WX_OPENID', 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o'), 'oUp**********************S6o');
  t.equal(maskPayeeAccount('ALIPAY_LOGON_ID', '13812345678'), '138*****678');
  // Too short to keep 3+3 and still hide anything: at least half is hidden.
  t.equal(maskPayeeAccount('ALIPAY_USER_ID', 'abcdefg'), 'abc*efg');
  t.equal(maskPayeeAccount('ALIPAY_USER_ID', 'abcdef'), 'a****f');
  t.equal(maskPayeeAccount('ALIPAY_USER_ID', 'abc'), '***');
  t.equal(maskPayeeAccount('ALIPAY_LOGON_ID', '张三李四王五赵六@例子.中国'), '张三李********.中国');
  t.equal(maskPayeeName('张小明'), '**明');
  t.equal(maskPayeeName('王五'), '*五');
  t.equal(maskPayeeName('李'), '*');
  t.equal(maskPayeeName('John Smith'), '*********h');
  t.equal(maskPayeeName('😀😀'), '*😀', 'characters, not UTF-16 units');
});

t.test('the daily limit counts the Beijing calendar day', async (t) => {
  const at = Date.UTC(2026, 0, 1, 15, 59, 59); // 2026-01-01 23:59:59 in Beijing
  t.same(beijingDay(at), { start: Date.UTC(2025, 11, 31, 16), end: Date.UTC(2026, 0, 1, 16) });
  t.same(beijingDay(at + 1000), { start: Date.UTC(2026, 0, 1, 16), end: Date.UTC(2026, 0, 2, 16) }, 'midnight in Beijing starts a new day');
});

t.test('an open payout is asked about on the payment schedule, with no expiry to stop it', async (t) => {
  t.equal(nextPayoutCheckAt(0, 1000), 6000);
  t.equal(nextPayoutCheckAt(100, 1000), 301_000, 'every five minutes at last, for as long as it takes');
});

const payout = (over: Record<string, string> = {}) =>
  orderFields('M100000000000001', 'P1', {
    signature: 'S',
    tradeType: '02',
    sceneCode: 'transfer',
    payeeAccountType: 'BANK_CARD',
    payeeAccount: '6222021234567890123',
    payeeName: '张小明',
    ...over,
  });
const verdict = (over: Record<string, string>) => {
  const r = payoutRequestSchema.safeParse(payout(over));
  return r.success ? 'ok' : describeIssues(r.error);
};

t.test('the payout schema: the payee rules, and the payment fields it has no use for', async (t) => {
  t.equal(verdict({}), 'ok');
  t.equal(verdict({ tradeType: '03' }), 'ok');
  t.equal(verdict({ payeeAccount: '62220212345' }), 'payeeAccount: must be 12 to 19 digits for payeeAccountType BANK_CARD');
  t.equal(verdict({ payeeAccount: '62220212345678901234' }), 'payeeAccount: must be 12 to 19 digits for payeeAccountType BANK_CARD');
  t.equal(verdict({ payeeAccount: '622202123456' }), 'ok', '12 digits');
  t.match(verdict({ payeeName: '' }), /^payeeName: is required for payeeAccountType BANK_CARD/);
  t.equal(verdict({ payeeAccountType: 'ALIPAY_USER_ID', payeeAccount: '2088', payeeName: '' }), 'ok', 'an Alipay user id needs no name');
  t.equal(verdict({ payeeAccountType: 'ALIPAY_OPEN_ID', payeeAccount: '074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5' }), 'ok');
  const wx = { paywayCode: 'wxpay', payeeAccountType: 'WX_OPENID', payeeAccount: 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o', payeeName: '' };
  t.equal(verdict({ ...wx, tradeAmt: '1999.99' }), 'ok');
  t.match(verdict({ ...wx, tradeAmt: '2000' }), /^payeeName: is required for payeeAccountType WX_OPENID from 2000\.00/);
  t.equal(verdict({ ...wx, tradeAmt: '2000.00', payeeName: '张小明' }), 'ok');
  for (const f of ['openId', 'deviceInfo', 'mchAppName', 'mchAppId', 'payType', 'quickPayAttach']) {
    t.equal(verdict({ [f]: 'x' }), `${f}: is not used by payouts (tradeType 02/03); leave it out`);
  }
  t.equal(verdict({ openId: '' }), 'ok', 'an empty field is one left out');
  t.equal(verdict({ bankCode: 'ICBC' }), 'ok');
  t.equal(verdict({ bankCode: 'IC-BC' }), 'bankCode: may hold only letters, digits and _');
  t.equal(verdict({ tradeType: '01' }), 'tradeType: must be one of 02, 03');
  t.equal(verdict({ sceneCode: 'scan' }), 'sceneCode: must be one of transfer');
  t.equal(verdict({ payeeAccountType: '' }), 'payeeAccountType: is required');
  t.equal(verdict({ payeeAccount: 'x'.repeat(65), payeeAccountType: 'ALIPAY_USER_ID' }), 'payeeAccount: must be at most 64 characters');
  t.equal(verdict({ extra: '1' }), 'unknown field: extra');
  // The payment schema is as it was: it takes no payee.
  const payment = payRequestSchema.safeParse(orderFields('M100000000000001', 'P2', { signature: 'S', payeeAccount: '1' }));
  t.notOk(payment.success);
});

const withTransfer = (name: string): ChannelDriver<unknown> => ({ ...sandboxDriver, name, payeeAccountTypes: ['BANK_CARD', 'WX_OPENID'] });
const withoutTransfer = (name: string): ChannelDriver<unknown> => {
  const { transfer: _t, queryTransfer: _q, cancelTransfer: _c, payeeAccountTypes: _p, ...rest } = sandboxDriver;
  return { ...rest, name };
};

t.test('the registry offers a payway\'s transfer cell exactly when its driver has transfer', async (t) => {
  const a = withTransfer('a');
  const w = withoutTransfer('w');
  const u = withTransfer('u');
  const driverOf: Record<string, ChannelDriver<unknown>> = { alipay: a, wxpay: w, unionpay: u };
  const r = new ChannelRegistry(supportedCells().map((cell) => ({ mode: 'live' as const, cell, driver: driverOf[cell.split('.')[0]!]! })));
  const ali = r.resolve('live', 'alipay', 'transfer');
  t.ok(ali.ok && ali.driver === a);
  t.same(r.resolve('live', 'wxpay', 'transfer'), { ok: false, supported: ['alipay.transfer', 'unionpay.transfer'] });
  t.same(r.resolve('sandbox', 'alipay', 'transfer'), { ok: false, supported: [] }, 'per mode');
  t.same(
    r.supportedPayouts('live'),
    [
      { cell: 'alipay.transfer', payway: 'alipay', accountTypes: ['BANK_CARD'] },
      { cell: 'unionpay.transfer', payway: 'unionpay', accountTypes: ['BANK_CARD'] },
    ],
    'the account types are those of the contract that the driver takes (WX_OPENID is not an alipay one)',
  );
  t.notOk(r.supported('live').includes('alipay.transfer'), 'payment cells are listed apart');
  const sandbox = new ChannelRegistry(supportedCells().map((cell) => ({ mode: 'sandbox' as const, cell, driver: sandboxDriver })));
  t.same(
    sandbox.supportedPayouts('sandbox').map((p) => `${p.cell} ${p.accountTypes.join(',')}`),
    ['alipay.transfer ALIPAY_USER_ID,ALIPAY_LOGON_ID,ALIPAY_OPEN_ID,BANK_CARD', 'wxpay.transfer WX_OPENID', 'unionpay.transfer BANK_CARD'],
    'the sandbox serves every payout cell',
  );
});

t.test('the payee is sealed to its order: another order, merchant or MASTER_KEY does not open it', async (t) => {
  const p = new PayeeData(() => 'master-key-for-the-payee-test-000000');
  const sealed = p.seal('M1', '20260101000000000000001', { payeeAccount: '6222021234567890123', payeeName: '张小明' });
  t.notOk(sealed.includes(Buffer.from('6222021234567890123')), 'not in the clear');
  t.same(p.open('M1', '20260101000000000000001', sealed), { payeeAccount: '6222021234567890123', payeeName: '张小明' });
  t.throws(() => p.open('M1', '20260101000000000000002', sealed), UnsealError);
  t.throws(() => p.open('M2', '20260101000000000000001', sealed), UnsealError);
  t.throws(() => new PayeeData(() => 'another-master-key-000000000000000000').open('M1', '20260101000000000000001', sealed), UnsealError);
  t.same(p.open('M1', 'o', p.seal('M1', 'o', { payeeAccount: '2088' })), { payeeAccount: '2088' }, 'no name');
});
