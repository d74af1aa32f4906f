// DATABASE_URL (CONTRACT §7): a postgres:// or postgresql:// URL selects PostgreSQL. The URL
// carries the password, so it is never printed as given: only with the password hidden.

export const isPostgresUrl = (url: string): boolean => {
  if (!/^postgres(ql)?:\/\//i.test(url)) return false;
  try {
    return new URL(url).hostname !== '' || new URL(url).searchParams.has('host');
  } catch {
    return false;
  }
};

/** The URL with its password replaced by `***`, for messages and logs. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const k of [...u.searchParams.keys()]) if (/^password$/i.test(k)) u.searchParams.set(k, '***');
    return u.toString();
  } catch {
    return 'postgres://(unreadable URL)';
  }
}
