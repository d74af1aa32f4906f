import { sqliteBinding, unpackSqliteBinding } from './resources.js';

// The single executable's entry point (dist/dtpay, built by scripts/build-binary.ts): the gateway
// and its CLI in one file. `dtpay <command>` is `npx dtpay <command>`; with no command it serves.

// Node makes argv[1] the main script's absolute path; in a single executable it is the name the
// program was started by, perhaps a bare name found on PATH. The entry checks in cli/main.ts and
// server.ts resolve it, so it is made the executable's own path, which is what the script is here.
process.argv[1] = process.execPath;

// The binding is loaded now rather than at the first connection, so that a temporary folder that
// cannot hold it (missing, full, mounted noexec) is reported as what it is before any command starts.
let binding: ReturnType<typeof unpackSqliteBinding>;
try {
  binding = unpackSqliteBinding();
  // process.exit() (the gateway's shutdown, the end of a command) and an uncaught error pass here.
  process.on('exit', binding.remove);
  sqliteBinding();
} catch (err) {
  process.stderr.write(`dtpay: ${(err as Error).message}\n`);
  process.exit(1);
}

// A signal that nothing else handles would end the process without 'exit': remove the folder, then
// die of the signal as the process would have. When the gateway serves, its own handlers close it
// and exit, and 'exit' removes the folder.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  const onSignal = () => {
    if (process.listenerCount(signal) > 1) return;
    binding.remove();
    process.off(signal, onSignal);
    process.kill(process.pid, signal);
  };
  process.on(signal, onSignal);
}

const args = process.argv.slice(2);
// Loaded only now, so that its entry check sees the path set above.
void import('../cli/main.js').then(({ runMain }) => runMain(args.length > 0 ? args : ['serve']));
