import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { formatBeijing } from '../domain/time.js';
import { OperatorError, createOperator, enableOperatorTotp, normalEmail, resetOperatorPassword, setOperatorStatus } from '../console/operators.js';
import { notFound, openCliDatabase } from './database.js';
import { CliError, printJson, type Io } from './io.js';
import { cliSecrets } from './secrets.js';
import { subcommandsOf, usageOf } from './usage.js';

const SUBCOMMANDS = ['create', 'list', 'disable', 'reset-password', 'totp'];

/** One line of stdin; its newline (\n or \r\n) is not part of the password. */
async function passwordFrom(io: Io, command: string): Promise<string> {
  const text = await io.stdin();
  const end = text.search(/\r?\n/);
  const line = end === -1 ? text : text.slice(0, end);
  if (line === '') throw new CliError(`${command}: --password-stdin read an empty line; send the password on stdin`);
  return line;
}

export async function runOperator(config: Config, args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      email: { type: 'string' },
      role: { type: 'string' },
      'password-stdin': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  if (sub === undefined || !SUBCOMMANDS.includes(sub)) throw new CliError(`operator: expected ${subcommandsOf('operator')}`);
  const command = `operator ${sub}`;
  const d = await openCliDatabase(config, command, { create: sub === 'create' });
  try {
    const { writer } = d.storage;
    const reads = d.storage.console;
    const at = Date.now();
    const target = (): string => {
      if (positionals.length !== 1) throw new CliError(usageOf(command));
      return normalEmail(positionals[0]!);
    };
    switch (sub) {
      case 'create': {
        if (!values.email || !values.role || !values['password-stdin']) throw new CliError(usageOf(command));
        const made = await createOperator(writer, { email: values.email, role: values.role, password: await passwordFrom(io, command), at });
        if (values.json) printJson(io, made);
        else io.out(`created ${made.role} ${made.email}; log in at ${config.PUBLIC_BASE_URL}/console\n`);
        return 0;
      }
      case 'list': {
        const operators = await reads.operators();
        const rows = operators.map((o) => ({
          email: o.email,
          role: o.role,
          status: o.status,
          totp: o.totp_sealed !== null,
          createdAt: new Date(o.created_at).toISOString(),
          lastLoginAt: o.last_login_at === null ? null : new Date(o.last_login_at).toISOString(),
        }));
        if (values.json) printJson(io, rows);
        else if (rows.length === 0) io.out('no operators (dtpay operator create)\n');
        else
          operators.forEach((o, i) => {
            const r = rows[i]!;
            io.out(`${r.email.padEnd(32)} ${r.role.padEnd(8)} ${r.status.padEnd(9)} ${r.totp ? 'totp' : '    '}  ${o.last_login_at ? formatBeijing(o.last_login_at) : 'never logged in'}\n`);
          });
        return 0;
      }
      case 'disable': {
        const email = target();
        if (!(await reads.operatorByEmail(email))) throw await notFound(d, config, `no operator ${email}`);
        await setOperatorStatus(writer, { email, status: 'disabled', at });
        if (values.json) printJson(io, { email, status: 'disabled' });
        else io.out(`${email} is disabled; their sessions are over\n`);
        return 0;
      }
      case 'reset-password': {
        const email = target();
        if (!values['password-stdin']) throw new CliError(usageOf(command));
        if (!(await reads.operatorByEmail(email))) throw await notFound(d, config, `no operator ${email}`);
        await resetOperatorPassword(writer, { email, password: await passwordFrom(io, command), at });
        if (values.json) printJson(io, { email, passwordReset: true });
        else io.out(`new password set for ${email}; their sessions are over\n`);
        return 0;
      }
      default: {
        const email = target();
        if (!(await reads.operatorByEmail(email))) throw await notFound(d, config, `no operator ${email}`);
        const { masterKey } = await cliSecrets(d, config, io, command);
        const r = await enableOperatorTotp(writer, masterKey, { email, at });
        if (!r) throw await notFound(d, config, `no operator ${email}`);
        if (values.json) printJson(io, { email, otpauthUri: r.uri });
        else
          io.out(
            `TOTP is on for ${email}. Add this to an authenticator app now; it is not shown again:\n${r.uri}\n` +
              `Their sessions are over; the next login asks for the 6-digit code.\n`,
          );
        return 0;
      }
    }
  } catch (err) {
    if (err instanceof OperatorError) throw new CliError(`${command}: ${err.message}`);
    throw err;
  } finally {
    await d.close();
  }
}
