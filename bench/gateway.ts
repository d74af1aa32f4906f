import { monitorEventLoopDelay } from 'node:perf_hooks';
import pino from 'pino';
import { loadConfig } from '../src/config.js';
import { buildGateway } from '../src/app.js';

// The gateway as the benches run it: buildGateway with the configuration from the environment,
// as src/server.ts starts it, and two things only a bench needs:
//   --no-fsync          commits do not wait for the disk, to measure what durability costs: on
//                       SQLite the writer thread commits without fsync, on PostgreSQL the
//                       connections commit with synchronous_commit=off; nothing in the product's
//                       configuration can ask for this
//   GET /__bench/loop   the longest event-loop delay (ms) since the last call, and memory (MB)
// Prints {"readyMs":N} (time since the process started) once it listens; exits on SIGTERM.

const config = loadConfig();
const log = pino({ level: config.LOG_LEVEL });
const gateway = await buildGateway(config, {
  logger: log,
  durableWriter: !process.argv.includes('--no-fsync'),
  onFatal: (err) => {
    log.fatal({ err }, 'database writer failed; exiting');
    process.exit(1);
  },
});

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
gateway.app.get('/__bench/loop', async () => {
  const mb = (n: number) => Math.round(n / 2 ** 20);
  const m = process.memoryUsage();
  const out = { maxMs: delay.max / 1e6, p99Ms: delay.percentile(99) / 1e6, rssMb: mb(m.rss), heapMb: mb(m.heapTotal), externalMb: mb(m.external) };
  delay.reset();
  return out;
});

await gateway.app.listen({ port: config.PORT, host: config.HOST });
process.stdout.write(`${JSON.stringify({ readyMs: Math.round(performance.now()) })}\n`);

let closing = false;
const stop = () => {
  if (closing) return;
  closing = true;
  gateway.close().then(
    () => process.exit(0),
    (err) => {
      log.error({ err }, 'error while shutting down');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
