// server-api/www/src/api.ts — the dashboard's calls to mamori-server's admin
// API: same origin only, the session cookie (HttpOnly, set by the server) and
// the X-Mamori-CSRF header on every request (api_web.h).
export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) { super(message); }
}

let onUnauthenticated: () => void = () => {};
export function setOnUnauthenticated(f: () => void): void { onUnauthenticated = f; }

async function call(method: string, path: string, body?: unknown, type?: string): Promise<Response> {
  const headers: Record<string, string> = { 'X-Mamori-CSRF': '1', Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = type ?? 'application/json';
  const r = await fetch(path, {
    method, headers, credentials: 'same-origin', cache: 'no-store',
    body: body === undefined ? undefined : type ? (body as BodyInit) : JSON.stringify(body),
  });
  if (!r.ok && r.status !== 204) {
    let code = 'http_' + r.status, msg = r.statusText;
    try {
      const j = await r.json();
      code = j.error ?? code;
      msg = (document.documentElement.lang === 'en' ? j.message?.en : j.message?.ja) ?? msg;
      if (typeof j.detail === 'string') msg += ' — ' + j.detail; // e.g. the CSV row at fault
    } catch { /* not JSON */ }
    if (r.status === 401 && path !== '/admin/v1/login') onUnauthenticated();
    throw new ApiError(r.status, code, msg);
  }
  return r;
}

export async function get<T = any>(path: string): Promise<T> { return (await call('GET', path)).json(); }
export async function post<T = any>(path: string, body?: unknown): Promise<T | null> {
  const r = await call('POST', path, body ?? {});
  return r.status === 204 ? null : r.json();
}
/** POST a file as it is (the media register's CSV import: text/csv). */
export async function postRaw<T = any>(path: string, type: string, body: Blob): Promise<T> {
  return (await call('POST', path, body, type)).json();
}
export async function getBlob(path: string): Promise<Blob> { return (await call('GET', path)).blob(); }

export function qs(params: Record<string, string | number | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? '?' + s : '';
}

/** Save data as a file (blob URL: same origin, no outside address). */
export function download(name: string, blob: Blob): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}
