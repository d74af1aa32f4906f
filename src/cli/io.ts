/** Where a command writes and reads, so tests can run commands in-process. */
export interface Io {
  out(s: string): void;
  err(s: string): void;
  stdin(): Promise<string>;
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

export function printJson(io: Io, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}
