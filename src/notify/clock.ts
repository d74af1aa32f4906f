// Time as the dispatcher sees it. Production passes the real clock; tests pass a fake one and
// move it forward, so a whole retry schedule runs in milliseconds without sleeping.

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // Pending notifications must not keep a finished process (a test, a CLI) alive.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};
