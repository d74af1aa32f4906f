import t from 'tap';
import { ChannelRegistry } from '../../src/channels/registry.js';
import { supportedCells } from '../../src/channels/matrix.js';
import { sandboxDriver } from '../../src/channels/sandbox/driver.js';

t.test('a cell outside the scene matrix fails when the registry is built', async (t) => {
  t.throws(() => new ChannelRegistry([{ mode: 'sandbox', cell: 'wxpay.gateway', driver: sandboxDriver }]), /not a cell/);
  t.throws(() => new ChannelRegistry([{ mode: 'live', cell: 'paypal.scan', driver: sandboxDriver }]), /not a cell/);
  t.throws(
    () =>
      new ChannelRegistry([
        { mode: 'sandbox', cell: 'alipay.scan', driver: sandboxDriver },
        { mode: 'sandbox', cell: 'alipay.scan', driver: sandboxDriver },
      ]),
    /registered twice/,
  );
});

t.test('resolution is per mode and lists what is supported', async (t) => {
  const r = new ChannelRegistry(supportedCells().map((cell) => ({ mode: 'sandbox' as const, cell, driver: sandboxDriver })));
  t.equal(supportedCells().length, 14, 'the contract matrix has 14 cells');
  const ok = r.resolve('sandbox', 'unionpay', 'ebank');
  t.ok(ok.ok && ok.driver === sandboxDriver);
  const live = r.resolve('live', 'alipay', 'scan');
  t.same(live, { ok: false, supported: [] }, 'a sandbox driver never serves a live merchant');
  const missing = r.resolve('sandbox', 'wxpay', 'ebank');
  t.notOk(missing.ok);
  if (!missing.ok) t.same(missing.supported.sort(), supportedCells().sort());
  t.equal(r.driverNamed('sandbox', 'sandbox'), sandboxDriver);
  t.equal(r.driverNamed('sandbox', 'live'), undefined, 'callbacks of the sandbox are never taken for a live merchant');
  t.equal(r.driverNamed('alipay', 'sandbox'), undefined);
});
