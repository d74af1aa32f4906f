import { Agent, request } from 'undici';
import type { HttpRequest, HttpResponse } from '../../src/channels/types.js';
import { readBody } from '../../src/channels/http-body.js';

// A ChannelContext `http` for tests: undici, its own Agent (so closing it leaves no sockets behind
// to hold the test process open), and a deadline so a simulator that hangs ends the call.

export interface TestHttp {
  (req: HttpRequest): Promise<HttpResponse>;
  close(): Promise<void>;
}

export function createTestHttp(opts: { timeoutMs?: number } = {}): TestHttp {
  const timeoutMs = opts.timeoutMs ?? 2_000;
  const agent = new Agent({ keepAliveTimeout: 1_000, connect: { timeout: timeoutMs } });
  const fn = (async (req: HttpRequest): Promise<HttpResponse> => {
    const res = await request(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      dispatcher: agent,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    return { status: res.statusCode, headers: res.headers, ...(await readBody(res.body, req)) };
  }) as TestHttp;
  fn.close = () => agent.close();
  return fn;
}
