import type { ServerResponse } from 'node:http';

// The faults every channel simulator can play below its own protocol: no answer at all, a proxy's
// error page, or a page that is not the channel's answer.
export type TransportFault = { kind: 'hang' } | { kind: 'http500' } | { kind: 'garbage' };

/** Takes the first scripted fault for `key` (or for every request, `*`) off the list. */
export function takeFault<F>(faults: { key: string; fault: F }[], key: string): F | undefined {
  const idx = faults.findIndex((f) => f.key === key || f.key === '*');
  return idx >= 0 ? faults.splice(idx, 1)[0]!.fault : undefined;
}

/** Plays a transport fault on `res`; false when `fault` is none (the simulator answers as usual). */
export function playTransportFault(res: ServerResponse, fault: { kind: string } | undefined, garbage: string): boolean {
  if (fault?.kind === 'hang') return true; // the socket stays open until the simulator closes
  if (fault?.kind === 'http500') {
    res.writeHead(500, { 'content-type': 'text/html' }).end('<html>500 Internal Server Error</html>');
    return true;
  }
  if (fault?.kind === 'garbage') {
    res.writeHead(200, { 'content-type': 'text/html;charset=utf-8' }).end(garbage);
    return true;
  }
  return false;
}
