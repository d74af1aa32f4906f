import t from 'tap';
import { startGateway } from '../helper.js';

t.test('/healthz answers while the process runs; /readyz says whether it can take orders', async (t) => {
  const gw = await startGateway(t);
  const health = await fetch(`${gw.url}/healthz`);
  t.equal(health.status, 200);
  t.same(await health.json(), { status: 'ok' });
  const ready = await fetch(`${gw.url}/readyz`);
  t.equal(ready.status, 200);
  t.same(await ready.json(), { status: 'ready' });

  await gw.gateway.dispatcher.stop(0);
  const notReady = await fetch(`${gw.url}/readyz`);
  t.equal(notReady.status, 503);
  t.same(await notReady.json(), { status: 'not ready', problems: ['notification dispatcher is not running'] });
  t.equal((await fetch(`${gw.url}/healthz`)).status, 200, 'still alive');
});
