// server-api/www/src/main.tsx — the compliance dashboard (browser, served by
// mamori-server on the admin listener): overview, terminals, terminal detail,
// requirement view, approvals (OPS-4), investigation (OPS-6), carry register,
// media register (MEDIA-6), audit trail. Every string that came from a terminal is rendered as a text
// node by Preact (never as markup: no dangerouslySetInnerHTML anywhere), and
// wrapped in <bdi> so that a right-to-left override cannot reorder the page.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';
import { ApiError, download, get, getBlob, post, postRaw, qs, setOnUnauthenticated } from './api';
import { epochToJstInput, getLang, jst, jstInputToUtc, setLang, t } from './i18n';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Tooltip, Legend);

type Me = { user: string; role: string; may: { approve: boolean; audit: boolean; accounts: boolean } };

/** Text from a terminal or a person: a text node, isolated for bidi. */
function Tx({ v }: { v: unknown }) {
  return <bdi>{v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v)}</bdi>;
}
const pct = (x: number) => (x * 100).toFixed(1) + '%';

function useHash(): string {
  const [h, setH] = useState(location.hash || '#/overview');
  useEffect(() => {
    const f = () => setH(location.hash || '#/overview');
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return h;
}

function useLoad<T>(f: () => Promise<T>, deps: unknown[]): [T | null, string | null, () => void] {
  const [data, setData] = useState<T | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setErr(null);
    f().then((d) => live && setData(d)).catch((e) => live && setErr(e instanceof ApiError ? e.message : String(e)));
    return () => { live = false; };
  }, [...deps, n]);
  return [data, err, () => setN(n + 1)];
}

function Status({ data, err }: { data: unknown; err: string | null }) {
  if (err) return <p class="error" role="alert">{t('error')}: <Tx v={err} /></p>;
  if (!data) return <p aria-live="polite">{t('loading')}</p>;
  return null;
}

function Login({ onDone }: { onDone: (m: Me) => void }) {
  const [user, setUser] = useState('');
  const [pw, setPw] = useState('');
  const [err, setErr] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setErr(null);
    try {
      await post('/admin/v1/login', { username: user, password: pw });
      onDone(await get<Me>('/admin/v1/dashboard/me'));
    } catch (x) { setErr(x instanceof ApiError ? x.message : String(x)); }
  };
  return (
    <main id="main" class="login">
      <h1>{t('title')}</h1>
      <form onSubmit={submit}>
        <label for="u">{t('username')}</label>
        <input id="u" name="username" autocomplete="username" value={user} onInput={(e) => setUser((e.target as HTMLInputElement).value)} />
        <label for="p">{t('password')}</label>
        <input id="p" name="password" type="password" autocomplete="current-password" value={pw} onInput={(e) => setPw((e.target as HTMLInputElement).value)} />
        <button type="submit">{t('login')}</button>
        {err && <p class="error" role="alert"><Tx v={err} /></p>}
      </form>
    </main>
  );
}

function RateChart({ rows }: { rows: { id: string; rate: number }[] }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!ref.current) return;
    const c = new Chart(ref.current, {
      type: 'bar',
      data: { labels: rows.map((r) => r.id), datasets: [{ label: t('rate'), data: rows.map((r) => Math.round(r.rate * 1000) / 10), backgroundColor: '#1f5f99' }] },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { min: 0, max: 100 } } },
    });
    return () => c.destroy();
  }, [rows, getLang()]);
  return <div class="chart"><canvas ref={ref} role="img" aria-label={t('chartLabel')} /></div>;
}

type Day = { day: string; terminals: number; compliant: number; rate: number };

/** Every day from the first to the last figure; a day the server did not run is null (a gap, not a value). */
function trendDays(rows: Day[]): [string, Day | null][] {
  if (rows.length === 0) return [];
  const by = new Map(rows.map((r) => [r.day, r]));
  const out: [string, Day | null][] = [];
  for (let d = Date.parse(rows[0].day + 'T00:00:00Z'), end = Date.parse(rows[rows.length - 1].day + 'T00:00:00Z'); d <= end; d += 86400000) {
    const k = new Date(d).toISOString().slice(0, 10);
    out.push([k, by.get(k) ?? null]);
  }
  return out;
}

function TrendChart({ rows }: { rows: Day[] }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!ref.current) return;
    const days = trendDays(rows);
    const c = new Chart(ref.current, {
      type: 'line',
      data: { labels: days.map(([k]) => k), datasets: [{ label: t('rate'), data: days.map(([, r]) => (r ? Math.round(r.rate * 1000) / 10 : null)), borderColor: '#1f5f99', backgroundColor: '#1f5f99', spanGaps: false }] },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { min: 0, max: 100 } } },
    });
    return () => c.destroy();
  }, [rows, getLang()]);
  return <div class="chart"><canvas ref={ref} role="img" aria-label={t('trendLabel')} /></div>;
}

function Overview() {
  const [d, err] = useLoad(() => get('/admin/v1/dashboard/overview'), []);
  if (!d) return <Status data={d} err={err} />;
  return (
    <section>
      <h2>{t('overview')}</h2>
      <ul class="tiles">
        <li><span>{t('total')}</span><strong>{d.terminals.total}</strong></li>
        <li><span>{t('active')}</span><strong>{d.terminals.active}</strong></li>
        <li><span>{t('compliant')}</span><strong>{d.terminals.compliant}</strong></li>
        <li><span>{t('stale')}</span><strong>{d.terminals.stale}</strong></li>
        <li><span>{t('incidents')}</span><strong>{d.incidents.length}</strong></li>
      </ul>
      <h3>{t('trend')}</h3>
      {d.trend.length === 0 ? <p>{t('none')}</p> : (<>
        <TrendChart rows={d.trend} />
        <details>
          <summary>{t('trendTable')}</summary>
          <table class="trend">
            <thead><tr><th scope="col">{t('day')}</th><th scope="col">{t('active')}</th><th scope="col">{t('compliant')}</th><th scope="col">{t('rate')}</th></tr></thead>
            <tbody>{d.trend.map((r: Day) => <tr key={r.day}><td>{r.day}</td><td>{r.terminals}</td><td>{r.compliant}</td><td>{pct(r.rate)}</td></tr>)}</tbody>
          </table>
        </details>
      </>)}
      <h3>{t('perRequirement')}</h3>
      {d.requirements.length > 0 && <RateChart rows={d.requirements} />}
      <table>
        <thead><tr><th scope="col">{t('requirement')}</th><th scope="col">{t('rate')}</th><th scope="col">{t('pass')}</th><th scope="col">{t('fail')}</th><th scope="col">{t('excepted')}</th><th scope="col">{t('other')}</th></tr></thead>
        <tbody>{d.requirements.map((r: any) => (
          <tr key={r.id}><td><a href={'#/requirement/' + encodeURIComponent(r.id)}><Tx v={r.id} /></a></td><td>{pct(r.rate)}</td><td>{r.pass}</td><td>{r.fail}</td><td>{r.excepted}</td><td>{r.other}</td></tr>))}
        </tbody>
      </table>
      <h3>{t('perGroup')}</h3>
      <table>
        <thead><tr><th scope="col">{t('group')}</th><th scope="col">{t('total')}</th><th scope="col">{t('compliant')}</th><th scope="col">{t('rate')}</th><th scope="col">{t('stale')}</th></tr></thead>
        <tbody>{d.groups.map((g: any) => (
          <tr key={g.group}><td><a href={'#/terminals?group=' + encodeURIComponent(g.group)}><Tx v={g.group} /></a></td><td>{g.terminals}</td><td>{g.compliant}</td><td>{pct(g.rate)}</td><td>{g.stale}</td></tr>))}
        </tbody>
      </table>
      <h3>{t('perDepartment')}</h3>
      <table class="departments">
        <thead><tr><th scope="col">{t('department')}</th><th scope="col">{t('total')}</th><th scope="col">{t('compliant')}</th><th scope="col">{t('rate')}</th><th scope="col">{t('stale')}</th></tr></thead>
        <tbody>{d.departments.map((g: any) => (
          <tr key={g.department}><td>{g.department ? <a href={'#/terminals?department=' + encodeURIComponent(g.department)}><Tx v={g.department} /></a> : t('noDepartment')}</td><td>{g.terminals}</td><td>{g.compliant}</td><td>{pct(g.rate)}</td><td>{g.stale}</td></tr>))}
        </tbody>
      </table>
      <h3>{t('staleTitle')} ({t('staleAfter')}: {d.stale_after_seconds} {t('seconds')})</h3>
      {d.stale.length === 0 ? <p>{t('none')}</p> : (
        <table>
          <thead><tr><th scope="col">{t('terminalId')}</th><th scope="col">{t('hostname')}</th><th scope="col">{t('group')}</th><th scope="col">{t('lastSeen')}</th></tr></thead>
          <tbody>{d.stale.map((s: any) => (
            <tr key={s.terminal_id}><td><a href={'#/terminal/' + encodeURIComponent(s.terminal_id)}><Tx v={s.terminal_id} /></a></td><td><Tx v={s.hostname} /></td><td><Tx v={s.group} /></td><td>{jst(s.last_seen)}</td></tr>))}
          </tbody>
        </table>)}
      <h3>{t('incidents')}</h3>
      {d.incidents.length === 0 ? <p>{t('none')}</p> : (
        <table>
          <thead><tr><th scope="col">{t('time')}</th><th scope="col">{t('terminalId')}</th><th scope="col">{t('kind')}</th><th scope="col">{t('detail')}</th></tr></thead>
          <tbody>{d.incidents.map((f: any, i: number) => (
            <tr key={i}><td>{jst(f.time)}</td><td><a href={'#/terminal/' + encodeURIComponent(f.terminal_id)}><Tx v={f.terminal_id} /></a></td><td><Tx v={f.kind} /></td><td><Tx v={f.detail} /></td></tr>))}
          </tbody>
        </table>)}
    </section>
  );
}

function TerminalTable({ rows }: { rows: any[] }) {
  return (
    <tbody>{rows.map((r) => (
      <tr key={r.terminal_id}>
        <td><a href={'#/terminal/' + encodeURIComponent(r.terminal_id)}><Tx v={r.terminal_id} /></a></td>
        <td><Tx v={r.hostname} /></td><td><Tx v={r.department} /></td><td><Tx v={r.group} /></td><td>{r.status}</td><td>{jst(r.last_seen)}</td>
        <td><Tx v={r.agent_version} /></td><td>{r.policy_version}</td>
        <td>{r.failing_requirements.map((id: string) => <a class="req" key={id} href={'#/requirement/' + encodeURIComponent(id)}><Tx v={id} /></a>)}</td>
      </tr>))}
    </tbody>
  );
}

const SORTS = ['terminal_id', 'hostname', 'department', 'group', 'status', 'last_seen', 'agent_version', 'policy_version', 'failing'] as const;
const HEAD: Record<string, Parameters<typeof t>[0]> = {
  terminal_id: 'terminalId', hostname: 'hostname', department: 'department', group: 'group', status: 'status', last_seen: 'lastSeen',
  agent_version: 'agentVersion', policy_version: 'policyVersion', failing: 'failing',
};

function Terminals({ query }: { query: URLSearchParams }) {
  const [q, setQ] = useState(query.get('q') ?? '');
  const [group, setGroup] = useState(query.get('group') ?? '');
  const [department, setDepartment] = useState(query.get('department') ?? '');
  const [status, setStatus] = useState(query.get('status') ?? 'any');
  const [sort, setSort] = useState('terminal_id');
  const [order, setOrder] = useState('asc');
  const [offset, setOffset] = useState(0);
  const [applied, setApplied] = useState({ q, group, department, status });
  const limit = 50;
  const [d, err] = useLoad(() => get('/admin/v1/dashboard/terminals' + qs({ ...applied, sort, order, offset, limit })), [applied, sort, order, offset]);
  const head = (k: string) => k === 'status' ? <th scope="col" key={k}>{t('status')}</th> : (
    <th scope="col" key={k} aria-sort={sort === k ? (order === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button class="linklike" onClick={() => { if (sort === k) setOrder(order === 'asc' ? 'desc' : 'asc'); else { setSort(k); setOrder('asc'); } setOffset(0); }}>{t(HEAD[k])}</button>
    </th>);
  return (
    <section>
      <h2>{t('terminals')}</h2>
      <form class="filters" onSubmit={(e) => { e.preventDefault(); setOffset(0); setApplied({ q, group, department, status }); }}>
        <label for="fq">{t('filterText')}</label><input id="fq" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
        <label for="fd">{t('department')}</label><input id="fd" value={department} onInput={(e) => setDepartment((e.target as HTMLInputElement).value)} />
        <label for="fg">{t('group')}</label><input id="fg" value={group} onInput={(e) => setGroup((e.target as HTMLInputElement).value)} />
        <label for="fs">{t('status')}</label>
        <select id="fs" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
          {['any', 'active', 'stale', 'failing', 'compliant', 'revoked'].map((s) => <option key={s} value={s}>{s === 'any' ? t('any') : s}</option>)}
        </select>
        <button type="submit">{t('search')}</button>
      </form>
      <Status data={d} err={err} />
      {d && (<>
        <p aria-live="polite">{d.total} {t('of')} {d.total ? offset + 1 : 0}–{Math.min(offset + limit, d.total)}</p>
        <table><thead><tr>{SORTS.map(head)}</tr></thead><TerminalTable rows={d.terminals} /></table>
        <p class="pager">
          <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - limit))}>{t('prev')}</button>
          <button disabled={offset + limit >= d.total} onClick={() => setOffset(offset + limit)}>{t('next')}</button>
        </p>
      </>)}
    </section>
  );
}

function Requirement({ id }: { id: string }) {
  const [d, err] = useLoad(() => get('/admin/v1/dashboard/terminals' + qs({ requirement: id, limit: 500 })), [id]);
  return (
    <section>
      <h2>{t('requirement')} <Tx v={id} /></h2>
      <h3>{t('failingTerminals')}</h3>
      <Status data={d} err={err} />
      {d && (d.terminals.length === 0 ? <p>{t('none')}</p> : (
        <table><thead><tr>{SORTS.map((k) => <th scope="col" key={k}>{t(HEAD[k])}</th>)}</tr></thead><TerminalTable rows={d.terminals} /></table>))}
    </section>
  );
}

function EventRows({ rows, cols }: { rows: any[]; cols: string[] }) {
  return (
    <table>
      <thead><tr><th scope="col">{t('time')}</th><th scope="col">{t('type')}</th>{cols.map((c) => <th scope="col" key={c}>{c}</th>)}</tr></thead>
      <tbody>{rows.map((e) => (
        <tr key={e.id}><td>{jst(e.record?.time ?? e.received_at)}</td><td><Tx v={e.record?.type} /></td>
          {cols.map((c) => <td key={c}><Tx v={e.record?.payload?.[c]} /></td>)}</tr>))}
      </tbody>
    </table>
  );
}

function TerminalDetail({ id }: { id: string }) {
  const [d, err] = useLoad(() => get('/admin/v1/terminals/' + encodeURIComponent(id)), [id]);
  const [ev] = useLoad(() => get('/admin/v1/events' + qs({ terminal: id, limit: 1000 })), [id]);
  const [cmds] = useLoad(() => get<any[]>('/admin/v1/commands' + qs({ terminal: id })), [id]);
  const [certs] = useLoad(() => get('/admin/v1/dashboard/terminals/' + encodeURIComponent(id) + '/certificates'), [id]);
  const events: any[] = ev?.events ?? [];
  const results: any[] = d?.report?.results ?? [];
  return (
    <section>
      <h2>{t('terminals')}: <Tx v={id} /></h2>
      <Status data={d} err={err} />
      {d && (
        <dl class="facts">
          <dt>{t('hostname')}</dt><dd><Tx v={d.hostname} /></dd>
          <dt>{t('department')}</dt><dd>{d.department ? <Tx v={d.department} /> : t('noDepartment')}</dd>
          <dt>{t('group')}</dt><dd><Tx v={d.group} /></dd>
          <dt>{t('status')}</dt><dd>{d.status}</dd>
          <dt>{t('lastSeen')}</dt><dd>{jst(d.last_seen)}</dd>
          <dt>{t('agentVersion')}</dt><dd><Tx v={d.agent_version} /></dd>
          <dt>{t('policyVersion')}</dt><dd>{d.policy_version}</dd>
        </dl>)}
      <h3>{t('posture')}</h3>
      {results.length === 0 ? <p>{t('none')}</p> : (
        <table>
          <thead><tr><th scope="col">{t('check')}</th><th scope="col">{t('status')}</th><th scope="col">{t('requirement')}</th><th scope="col">{t('evidence')}</th><th scope="col">{t('remedy')}</th></tr></thead>
          <tbody>{results.map((r, i) => (
            <tr key={i} class={r.status === 'fail' ? 'bad' : ''}><td><Tx v={r.id} /></td><td><Tx v={r.status} /></td>
              <td>{(r.requirements ?? []).map((x: string) => <a class="req" key={x} href={'#/requirement/' + encodeURIComponent(x)}><Tx v={x} /></a>)}</td>
              <td><pre><Tx v={r.evidence === undefined ? '' : JSON.stringify(r.evidence, null, 1)} /></pre></td>
              <td><Tx v={typeof r.remedy === 'object' && r.remedy ? (r.remedy[getLang()] ?? JSON.stringify(r.remedy)) : r.remedy} /></td></tr>))}
          </tbody>
        </table>)}
      <h3>{t('usb')}</h3>
      <EventRows rows={events.filter((e) => e.record?.type?.startsWith('usb.'))} cols={['device', 'rule', 'mode', 'reason']} />
      <h3>{t('carry')}</h3>
      <EventRows rows={events.filter((e) => e.record?.type?.startsWith('carry.'))} cols={['user', 'path', 'size', 'sha256']} />
      <h3>{t('commands')}</h3>
      {!cmds ? <p>{t('loading')}</p> : cmds.length === 0 ? <p>{t('none')}</p> : (
        <table class="commands">
          <thead><tr><th scope="col">{t('time')}</th><th scope="col">{t('type')}</th><th scope="col">{t('status')}</th><th scope="col">{t('requestedBy')}</th><th scope="col">{t('approvedBy')}</th><th scope="col">{t('updated')}</th><th scope="col">{t('result')}</th></tr></thead>
          <tbody>{cmds.map((c: any) => (
            <tr key={c.id}><td>{jst(c.created)}</td><td><Tx v={c.type} /></td><td><Tx v={c.status} /></td><td><Tx v={c.requested_by} /></td><td><Tx v={c.approved_by ?? ''} /></td><td>{jst(c.updated)}</td><td><Tx v={c.result} /></td></tr>))}
          </tbody>
        </table>)}
      <h3>{t('certificate')}</h3>
      {!certs ? <p>{t('loading')}</p> : certs.certificates.length === 0 ? <p>{t('none')}</p> : (
        <table class="certificates">
          <thead><tr><th scope="col">{t('serial')}</th><th scope="col">{t('notBefore')}</th><th scope="col">{t('notAfter')}</th><th scope="col">{t('status')}</th></tr></thead>
          <tbody>{certs.certificates.map((c: any) => (
            <tr key={c.serial} class={c.revoked || c.expired ? 'bad' : ''}><td><code>{c.serial}</code></td><td>{c.not_before ? jst(c.not_before) : '—'}</td><td>{jst(c.not_after)}</td>
              <td>{c.revoked ? t('certRevoked') : c.expired ? t('certExpired') : t('certValid')}</td></tr>))}
          </tbody>
        </table>)}
      <h3>{t('eventsOf')}</h3>
      <table>
        <thead><tr><th scope="col">{t('time')}</th><th scope="col">{t('type')}</th><th scope="col">{t('record')}</th></tr></thead>
        <tbody>{events.slice(-200).reverse().map((e) => (
          <tr key={e.id}><td>{jst(e.record?.time ?? e.received_at)}</td><td><Tx v={e.record?.type} /></td><td><code><Tx v={JSON.stringify(e.record?.payload ?? {})} /></code></td></tr>))}
        </tbody>
      </table>
    </section>
  );
}

function Approvals({ me }: { me: Me }) {
  const [d, err, reloadInbox] = useLoad(() => get('/admin/v1/dashboard/approvals'), []);
  const [inForce, errInForce, reloadInForce] = useLoad(() => get('/admin/v1/requests?status=approved'), []);
  const reload = () => { reloadInbox(); reloadInForce(); };
  const [msg, setMsg] = useState<string | null>(null);
  const approve = async (g: string, v: number) => {
    setMsg(null);
    try { await post(`/admin/v1/groups/${encodeURIComponent(g)}/policy/${v}/approve`); setMsg(t('approved')); reload(); }
    catch (x) { setMsg(x instanceof ApiError ? x.message : String(x)); }
  };
  return (
    <section>
      <h2>{t('approvals')}</h2>
      <p>{t('user')}: <Tx v={me.user} /> ({t('role')}: {me.role})</p>
      {msg && <p role="status"><Tx v={msg} /></p>}
      <h3>{t('pendingPolicies')}</h3>
      <Status data={d} err={err} />
      {d && (d.pending.length === 0 ? <p>{t('none')}</p> : (
        <table class="policies">
          <thead><tr><th scope="col">{t('group')}</th><th scope="col">{t('version')}</th><th scope="col">SHA-256</th><th scope="col">{t('uploadedBy')}</th><th scope="col">{t('action')}</th></tr></thead>
          <tbody>{d.pending.map((p: any) => (
            <tr key={p.group + p.version}><td><Tx v={p.group} /></td><td>{p.version}</td><td><code>{p.sha256.slice(0, 16)}…</code></td><td><Tx v={p.uploaded_by} /></td>
              <td>{p.can_approve ? <button onClick={() => approve(p.group, p.version)}>{t('approve')}</button>
                : <span class="refused">{p.reason === 'role' ? t('noRole') : t('ops4')}</span>}</td></tr>))}
          </tbody>
        </table>))}
      <h3>{t('pendingRequests')}</h3>
      <p>{t('ops4Rule')}</p>
      <p>{t('deptRule')}</p>
      {d && (!d.requests || d.requests.length === 0 ? <p>{t('none')}</p> : (
        <table class="requests">
          <thead><tr><th scope="col">{t('time')}</th><th scope="col">{t('requestKind')}</th><th scope="col">{t('terminalId')}</th><th scope="col">{t('department')}</th><th scope="col">{t('group')}</th><th scope="col">{t('requester')}</th><th scope="col">{t('requestWhat')}</th><th scope="col">{t('action')}</th></tr></thead>
          <tbody>{d.requests.map((q: any) => (
            <tr key={q.id} data-id={q.id}><td>{jst(q.created)}</td><td><Tx v={q.kind} /></td><td><Tx v={q.terminal_id} /></td><td><Tx v={q.terminal_department || t('noDepartment')} /></td><td><Tx v={q.department} /></td><td><Tx v={q.person} /></td>
              <td><RequestWhat q={q} /></td>
              <td>{!q.can_decide ? <span class="refused">{q.reason === 'role' ? t('noRole') : t('ops4')}</span>
                : <Decide q={q} onDone={(m) => { setMsg(m); reload(); }} />}</td></tr>))}
          </tbody>
        </table>))}
      <h3>{t('approvalsInForce')}</h3>
      <p>{t('revokeRule')}</p>
      <Status data={inForce} err={errInForce} />
      <InForce list={inForce as any[] | null} may={me.may.approve} onDone={(m) => { setMsg(m); reload(); }} />
    </section>
  );
}

/** The approvals still in force (until ahead), each revocable with a
 *  reason by an approver or a CISO: POST /admin/v1/requests/{id}/revoke.
 *  The server is the judge; its refusal is shown by the row. */
function InForce({ list, may, onDone }: { list: any[] | null; may: boolean; onDone: (m: string) => void }) {
  const now = Date.now();
  const rows = (list ?? []).filter((q) => typeof q.decision?.until === 'string' && Date.parse(q.decision.until) > now);
  if (!list) return null;
  if (rows.length === 0) return <p>{t('none')}</p>;
  return (
    <table class="in-force">
      <thead><tr><th scope="col">{t('requestKind')}</th><th scope="col">{t('terminalId')}</th><th scope="col">{t('requester')}</th><th scope="col">{t('requestWhat')}</th><th scope="col">{t('scope')}</th><th scope="col">{t('untilJst')}</th><th scope="col">{t('approvedBy')}</th>{may && <th scope="col">{t('action')}</th>}</tr></thead>
      <tbody>{rows.map((q) => (
        <tr key={q.id} data-id={q.id}><td><Tx v={q.kind} /></td><td><Tx v={q.terminal_id} /></td><td><Tx v={q.person} /></td>
          <td><RequestWhat q={q} /></td><td><Tx v={q.decision.scope} /> / <Tx v={q.decision.access} /></td>
          <td>{jst(q.decision.until)}</td><td><Tx v={q.decided_by} /></td>
          {may && <td><Revoke q={q} onDone={onDone} /></td>}</tr>))}
      </tbody>
    </table>
  );
}

function Revoke({ q, onDone }: { q: any; onDone: (m: string) => void }) {
  const [reason, setReason] = useState('');
  const [err, setErr] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setErr(null);
    try {
      await post(`/admin/v1/requests/${encodeURIComponent(q.id)}/revoke`, { reason });
      onDone(t('revokedDone'));
    } catch (x) { setErr(x instanceof ApiError ? x.message : String(x)); }
  };
  return (
    <form class="revoke" onSubmit={submit}>
      {err && <p class="error" role="alert">{t('refusedBy')}: <Tx v={err} /></p>}
      <label for={`revoke-reason-${q.id}`}>{t('revokeReason')}</label>
      <input id={`revoke-reason-${q.id}`} name="reason" value={reason} maxLength={1024} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
      <button type="submit">{t('revoke')}</button>
    </form>
  );
}

/** What a request asks for: the terminal's own words, as text. */
function RequestWhat({ q }: { q: any }) {
  const r = q.request ?? {};
  const until = typeof r.until === 'number' ? new Date(r.until * 1000).toISOString() : null;
  const m = r.medium ?? {};
  return (
    <div>
      {q.kind === 'carry-out' && <p>{t('medium')}: <code><Tx v={`${m.vendor ?? ''}:${m.product ?? ''}:${m.serial ?? ''}`} /></code><br />{t('purpose')}: <Tx v={r.purpose} /></p>}
      {q.kind === 'exception' && <p>{t('requirement')}: <Tx v={r.requirement} /><br />{t('reasonOf')}: <Tx v={r.reason} /></p>}
      {until && <p class="asked-until">{t('askedUntil')}: {jst(until)}</p>}
      <code><Tx v={JSON.stringify(q.kind === 'device' ? r.device ?? {} : r)} /></code>
    </div>
  );
}

/** The decision on one request (issue 16.2): approve with the scope and the
 *  window the admin API takes (scope, person, access, until), reject with a
 *  reason, or acknowledge an emergency code's use. Exactly the API's fields
 *  go to the server, which is the one judge: its refusal (OPS-4, an until
 *  beyond the request's, ...) is shown here, by the request it concerns. */
function Decide({ q, onDone }: { q: any; onDone: (m: string) => void }) {
  const asked = q.request?.until;
  const [f, setF] = useState({
    scope: 'terminal', person: q.kind === 'carry-out' ? 'requester' : 'anyone', access: q.kind === 'carry-out' ? 'rw' : 'ro',
    until: epochToJstInput(typeof asked === 'number' ? asked : Date.now() / 1000 + 8 * 3600),
    reason: '', note: '',
  });
  const [err, setErr] = useState<string | null>(null);
  const id = (k: string) => `${k}-${q.id}`;
  const step = async (s: 'approve' | 'reject' | 'acknowledge') => {
    setErr(null);
    const body = s === 'approve' ? { scope: f.scope, person: f.person, access: f.access, until: jstInputToUtc(f.until) }
      : s === 'reject' ? { reason: f.reason } : f.note ? { note: f.note } : {};
    try {
      await post(`/admin/v1/requests/${encodeURIComponent(q.id)}/${s}`, body);
      onDone(t(s === 'approve' ? 'approved' : s === 'reject' ? 'rejected' : 'acknowledged'));
    } catch (x) { setErr(x instanceof ApiError ? x.message : String(x)); }
  };
  const sel = (k: 'scope' | 'person' | 'access', label: Parameters<typeof t>[0], opts: [string, Parameters<typeof t>[0]][]) => (
    <><label for={id(k)}>{t(label)}</label>
      <select id={id(k)} name={k} value={f[k]} onChange={(e) => setF({ ...f, [k]: (e.target as HTMLSelectElement).value })}>
        {opts.map(([v, l]) => <option value={v}>{t(l)} ({v})</option>)}
      </select></>);
  const text = (k: 'reason' | 'note', label: Parameters<typeof t>[0]) => (
    <><label for={id(k)}>{t(label)}</label>
      <input id={id(k)} name={k} value={f[k]} maxLength={1024} onInput={(e) => setF({ ...f, [k]: (e.target as HTMLInputElement).value })} /></>);
  const submit = (s: 'approve' | 'reject' | 'acknowledge') => (e: Event) => { e.preventDefault(); step(s); };
  return (
    <div class="decide">
      {err && <p class="error" role="alert">{t('refusedBy')}: <Tx v={err} /></p>}
      {q.kind === 'emergency' ? (
        <form class="acknowledge" onSubmit={submit('acknowledge')}>
          {text('note', 'ackNote')}
          <button type="submit">{t('acknowledge')}</button>
        </form>
      ) : (<>
        <form class="approve" onSubmit={submit('approve')} aria-label={t('decideLegend')}>
          {sel('scope', 'scope', [['terminal', 'scopeTerminal'], ['department', 'scopeDepartment']])}
          {/* the one the API takes for the kind: a carry-out is the requester's;
              a device or an exception holds for the terminal, whoever uses it */}
          {sel('person', 'personField', q.kind === 'carry-out' ? [['requester', 'personRequester']] : [['anyone', 'personAnyone']])}
          {sel('access', 'access', [['ro', 'accessRo'], ['rw', 'accessRw']])}
          <label for={id('until')}>{t('untilJst')}</label>
          <input id={id('until')} name="until" type="datetime-local" value={f.until} onInput={(e) => setF({ ...f, until: (e.target as HTMLInputElement).value })} />
          <button type="submit">{t('approveReq')}</button>
        </form>
        <form class="reject" onSubmit={submit('reject')}>
          {text('reason', 'rejectReason')}
          <button type="submit">{t('reject')}</button>
        </form></>)}
    </div>
  );
}

function Audit() {
  const [d, err] = useLoad(() => get('/admin/v1/audit?limit=200'), []);
  return (
    <section>
      <h2>{t('audit')}</h2>
      <Status data={d} err={err} />
      {d && (
        <table>
          <thead><tr><th scope="col">{t('time')}</th><th scope="col">{t('actor')}</th><th scope="col">{t('action')}</th><th scope="col">{t('target')}</th><th scope="col">{t('result')}</th><th scope="col">{t('detail')}</th></tr></thead>
          <tbody>{d.audit.map((a: any) => (
            <tr key={a.id}><td>{jst(a.time)}</td><td><Tx v={a.actor} /></td><td><Tx v={a.action} /></td><td><Tx v={a.target} /></td><td><Tx v={a.result} /></td><td><Tx v={a.detail} /></td></tr>))}
          </tbody>
        </table>)}
    </section>
  );
}

function Search({ carry }: { carry: boolean }) {
  const [f, setF] = useState({ terminal: '', type: carry ? 'carry.' : '', q: '', since: '', until: '' });
  const [params, setParams] = useState<string | null>(carry ? qs({ type: 'carry.' }) : null);
  const [d, err] = useLoad(() => (params === null ? Promise.resolve(null) : get('/admin/v1/dashboard/events' + params)), [params]);
  const build = () => qs({ terminal: f.terminal, type: f.type, q: f.q, since: jstInputToUtc(f.since), until: jstInputToUtc(f.until) });
  const field = (k: keyof typeof f, label: Parameters<typeof t>[0], type = 'text') => (
    <><label for={'s-' + k}>{t(label)}</label>
      <input id={'s-' + k} type={type} value={f[k]} onInput={(e) => setF({ ...f, [k]: (e.target as HTMLInputElement).value })} /></>);
  const exp = async (format: 'csv' | 'json') => {
    const p = build();
    if (format === 'csv') download('mamori-events.csv', await getBlob('/admin/v1/dashboard/events' + p + (p ? '&' : '?') + 'format=csv'));
    else download('mamori-events.json', new Blob([JSON.stringify(await get('/admin/v1/dashboard/events' + p), null, 1)], { type: 'application/json' }));
  };
  const rows: any[] = d?.events ?? [];
  return (
    <section>
      <h2>{carry ? t('carry') : t('events')}</h2>
      <p class="note">{t('auditedNote')}</p>
      <form class="filters" onSubmit={(e) => { e.preventDefault(); setParams(build()); }}>
        {field('terminal', 'terminalId')}{field('type', 'type')}{field('q', 'freeText')}
        {field('since', 'since', 'datetime-local')}{field('until', 'until', 'datetime-local')}
        <button type="submit">{t('search')}</button>
        <button type="button" onClick={() => exp('csv')}>{t('exportCsv')}</button>
        <button type="button" onClick={() => exp('json')}>{t('exportJson')}</button>
      </form>
      {params !== null && <Status data={d} err={err} />}
      {d && (<>
        <p aria-live="polite">{t('matched')}: {d.matched}</p>
        <table>
          <thead><tr><th scope="col">{t('time')}</th><th scope="col">{t('terminalId')}</th><th scope="col">{t('type')}</th>
            {carry ? <><th scope="col">{t('user')}</th><th scope="col">{t('device')}</th><th scope="col">{t('path')}</th><th scope="col">{t('sizeBytes')}</th></> : <th scope="col">{t('record')}</th>}</tr></thead>
          <tbody>{rows.map((e) => (
            <tr key={e.id}><td>{jst(e.record?.time ?? e.received_at)}</td>
              <td><a href={'#/terminal/' + encodeURIComponent(e.terminal_id)}><Tx v={e.terminal_id} /></a></td><td><Tx v={e.record?.type} /></td>
              {carry ? <><td><Tx v={e.record?.payload?.user} /></td><td><Tx v={e.record?.payload?.device} /></td><td><Tx v={e.record?.payload?.path} /></td><td><Tx v={e.record?.payload?.size} /></td></>
                : <td><code><Tx v={JSON.stringify(e.record?.payload ?? {})} /></code></td>}</tr>))}
          </tbody>
        </table>
      </>)}
    </section>
  );
}

function Report({ me }: { me: Me }) {
  const [f, setF] = useState({ group: '', department: '' });
  const [applied, setApplied] = useState({ group: '', department: '' });
  const [d, err, reload] = useLoad(() => get('/admin/v1/dashboard/report' + qs(applied)), [applied]);
  const [edit, setEdit] = useState({ id: 'LOCK-1', clause: '', text: '' });
  const [msg, setMsg] = useState<string | null>(null);
  const file = async (format: 'csv' | 'xlsx') =>
    download(`mamori-self-inspection.${format}`, await getBlob('/admin/v1/dashboard/report' + qs({ ...applied, format })));
  const save = async (e: Event) => {
    e.preventDefault();
    setMsg(null);
    try {
      const r = await fetch('/admin/v1/dashboard/clauses/' + encodeURIComponent(edit.id), {
        method: 'PUT', credentials: 'same-origin', headers: { 'X-Mamori-CSRF': '1', 'Content-Type': 'application/json' },
        body: JSON.stringify({ clause: edit.clause, text: edit.text }),
      });
      setMsg(r.ok ? t('saved') : `${t('error')}: ${r.status}`);
      reload();
    } catch (x) { setMsg(String(x)); }
  };
  return (
    <section class="report">
      <h2>{t('report')}</h2>
      <form class="filters noprint" onSubmit={(e) => { e.preventDefault(); setApplied(f); }}>
        <label for="rd">{t('department')}</label><input id="rd" value={f.department} onInput={(e) => setF({ ...f, department: (e.target as HTMLInputElement).value })} />
        <label for="rg">{t('group')}</label><input id="rg" value={f.group} onInput={(e) => setF({ ...f, group: (e.target as HTMLInputElement).value })} />
        <button type="submit">{t('search')}</button>
        <button type="button" onClick={() => print()}>{t('print')}</button>
        <button type="button" onClick={() => file('csv')}>{t('exportCsv')}</button>
        <button type="button" onClick={() => file('xlsx')}>{t('exportXlsx')}</button>
      </form>
      <Status data={d} err={err} />
      {d && (<>
        <p><Tx v={d.scope} /> — {t('madeAt')}: <Tx v={d.made_at} /> — {t('total')}: {d.terminals}</p>
        <table>
          <thead><tr><th scope="col">{t('requirement')}</th><th scope="col">{t('clauseNo')}</th><th scope="col">{t('clauseText')}</th><th scope="col">{t('status')}</th><th scope="col">{t('pass')}</th><th scope="col">{t('fail')}</th><th scope="col">{t('excepted')}</th><th scope="col">{t('other')}</th></tr></thead>
          <tbody>{d.rows.map((r: any) => (
            <tr key={r.id} class={r.fail ? 'bad' : ''}><td><Tx v={r.id} /></td><td><Tx v={r.clause} /></td><td><Tx v={r.text} /></td>
              <td>{getLang() === 'ja' ? r.status_ja : r.status}</td><td>{r.pass}</td><td>{r.fail}</td><td>{r.excepted}</td><td>{r.other}</td></tr>))}
          </tbody>
        </table>
      </>)}
      {me.may.accounts && d && (
        <form class="filters noprint" onSubmit={save}>
          <h3>{t('editClause')}</h3>
          <label for="ci">{t('requirement')}</label>
          <select id="ci" value={edit.id} onChange={(e) => setEdit({ ...edit, id: (e.target as HTMLSelectElement).value })}>
            {d.rows.map((r: any) => <option key={r.id} value={r.id}>{r.id}</option>)}
          </select>
          <label for="cn">{t('clauseNo')}</label><input id="cn" value={edit.clause} onInput={(e) => setEdit({ ...edit, clause: (e.target as HTMLInputElement).value })} />
          <label for="ct">{t('clauseText')}</label><input id="ct" value={edit.text} onInput={(e) => setEdit({ ...edit, text: (e.target as HTMLInputElement).value })} />
          <button type="submit">{t('save')}</button>
          {msg && <p role="status"><Tx v={msg} /></p>}
        </form>)}
    </section>
  );
}

/** The media register (台帳; MEDIA-6): the list, CSV import (the server takes
 *  all rows or none and names the row at fault) and export. */
function Media() {
  const [d, err, reload] = useLoad(() => get('/admin/v1/media'), []);
  const [msg, setMsg] = useState<string | null>(null);
  const [bad, setBad] = useState<string | null>(null);
  const upload = async (e: Event) => {
    const input = e.currentTarget as HTMLInputElement;
    const f = input.files?.[0];
    setMsg(null); setBad(null);
    if (!f) return;
    try {
      const r = await postRaw('/admin/v1/media/import', 'text/csv', f);
      setMsg(`${r.imported} ${t('imported')}`);
      reload();
    } catch (x) {
      setBad(x instanceof ApiError ? x.message : String(x));
    }
    input.value = '';
  };
  const exp = async () => {
    try { download('mamori-media.csv', await getBlob('/admin/v1/media/export')); } catch (x) { setBad(String(x)); }
  };
  return (
    <section>
      <h2>{t('media')}</h2>
      <p>
        <label>{t('importCsv')} <input type="file" accept=".csv,text/csv" onChange={upload} /></label>{' '}
        <button type="button" onClick={exp}>{t('exportCsv')}</button>
      </p>
      {msg && <p role="status">{msg}</p>}
      {bad && <p class="error" role="alert">{t('error')}: <Tx v={bad} /></p>}
      <Status data={d} err={err} />
      {d && (d.media.length === 0 ? <p>{t('none')}</p> : (
        <table>
          <thead><tr>{(['mgmtNo', 'department', 'owner', 'identity', 'registered', 'retired', 'sanitized'] as const).map((k) => <th scope="col" key={k}>{t(k)}</th>)}</tr></thead>
          <tbody>{d.media.map((m: any) => (
            <tr key={m.management_no}>
              <td><Tx v={m.management_no} /></td><td><Tx v={m.department} /></td><td><Tx v={m.owner} /></td>
              <td><Tx v={`${m.identity.vendor}:${m.identity.product} ${m.identity.serial}`} /></td>
              <td><Tx v={m.registered} /></td><td><Tx v={m.retired ?? ''} /></td>
              <td>{m.sanitized ? <>{jst(m.sanitized.time)} <Tx v={m.sanitized.method} /> <Tx v={m.sanitized.terminal_id} /> <Tx v={m.sanitized.operator} /></> : t('notSanitized')}</td>
            </tr>))}
          </tbody>
        </table>))}
    </section>
  );
}

function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [, setLangTick] = useState(0);
  const hash = useHash();
  useEffect(() => {
    setLang(getLang());
    setOnUnauthenticated(() => setMe(null));
    get<Me>('/admin/v1/dashboard/me').then(setMe).catch(() => setMe(null));
  }, []);
  useEffect(() => { document.title = t('title'); });
  const switchLang = () => { setLang(getLang() === 'ja' ? 'en' : 'ja'); setLangTick((n) => n + 1); };
  const langButton = <button class="lang" onClick={switchLang} lang={getLang() === 'ja' ? 'en' : 'ja'}>{t('language')}</button>;
  if (me === undefined) return <main id="main"><p>{t('loading')}</p></main>;
  if (me === null) return <><header>{langButton}</header><Login onDone={setMe} /></>;
  const [path, query] = hash.slice(1).split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const nav: [string, Parameters<typeof t>[0]][] = [['overview', 'overview'], ['terminals', 'terminals'], ['approvals', 'approvals'], ['events', 'events'], ['carry', 'carry'], ['media', 'media'], ['report', 'report']];
  if (me.may.audit) nav.push(['audit', 'audit']);
  let view;
  switch (parts[0]) {
    case 'terminals': view = <Terminals key={query} query={new URLSearchParams(query ?? '')} />; break;
    case 'terminal': view = <TerminalDetail id={parts[1] ?? ''} />; break;
    case 'requirement': view = <Requirement id={parts[1] ?? ''} />; break;
    case 'approvals': view = <Approvals me={me} />; break;
    case 'events': view = <Search key="events" carry={false} />; break;
    case 'carry': view = <Search key="carry" carry={true} />; break;
    case 'media': view = <Media />; break;
    case 'report': view = <Report me={me} />; break;
    case 'audit': view = me.may.audit ? <Audit /> : <p>403</p>; break;
    default: view = <Overview />;
  }
  const logout = async () => { try { await post('/admin/v1/web/logout'); } catch { /* gone already */ } setMe(null); };
  return (
    <>
      <header>
        <h1>{t('title')}</h1>
        <nav aria-label="menu"><ul>{nav.map(([k, w]) => <li key={k}><a href={'#/' + k} aria-current={parts[0] === k ? 'page' : undefined}>{t(w)}</a></li>)}</ul></nav>
        <p class="who"><Tx v={me.user} /> ({me.role}) <button onClick={logout}>{t('logout')}</button> {langButton}</p>
        <p class="tz">{t('timezone')}</p>
      </header>
      <main id="main" key={getLang()}>{view}</main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
