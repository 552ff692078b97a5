// tests/integration/dashboard.mjs — the dashboard in a real browser (run by
// tests/integration/dashboard.sh against a real mamori-server with real
// data): Debian's Chromium (/usr/bin/chromium, never a downloaded browser)
// driven by playwright-core; axe-core judges accessibility. Asserts:
//  - viewer, approver and ciso each see only what their role may do;
//  - a policy uploaded by the ciso shows OPS-4 (not approvable by them) and
//    is approved by the approver, a second person, in the browser;
//  - the approvals inbox (issue 16.2): a carry-out, an exception and a device
//    request approved with a chosen scope, person, access and until, one
//    rejected with a reason, an emergency code's use acknowledged with a
//    note; the approver's own request shows OPS-4; an until
//    beyond the request's shows the server's refusal in ja and en;
//  - the hostile corpus an agent stored (markup, RTL override, 4 KiB serial)
//    appears as text and runs nothing (no dialog, no script, no <img>);
//  - no CSP violation, no request to another origin;
//  - axe-core: no serious or critical violation on any view;
//  - screenshots of every view in ja and en into $DASH_ART.
// Chromium runs with --no-sandbox only as root (CI): its sandbox refuses root.
import { createRequire } from 'node:module';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const require = createRequire(join(process.env.NODE_PATH, 'x.js'));
const { chromium } = require('playwright-core');
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

const base = process.env.DASH_URL, password = process.env.DASH_PASSWORD, art = process.env.DASH_ART;
mkdirSync(art, { recursive: true });
let fails = 0, passes = 0;
const ok = (d) => { passes++; console.log('ok    ' + d); };
const bad = (d) => { fails++; console.log('FAIL  ' + d); };
const check = (d, c) => (c ? ok(d) : bad(d.length > 600 ? d.slice(0, 600) + '…' : d));

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: process.getuid() === 0 ? ['--no-sandbox'] : [],
});
const origin = new URL(base).origin;

async function session(user, lang) {
  // the server's certificate is from its own CA, made at run time
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, locale: lang === 'ja' ? 'ja-JP' : 'en-US', viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const problems = [];
  page.on('dialog', (d) => { problems.push('dialog: ' + d.message()); d.dismiss(); });
  page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) problems.push('csp: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('request', (r) => { const u = new URL(r.url()); if (!['data:', 'blob:'].includes(u.protocol) && u.origin !== origin) problems.push('outside request: ' + r.url()); });
  await page.goto(base + '/');
  await page.evaluate((l) => localStorage.setItem('mamori.lang', l), lang);
  await page.reload();
  await page.fill('#u', user);
  await page.fill('#p', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('nav');
  return { ctx, page, problems };
}

async function view(page, hash) {
  await page.goto(base + '/' + hash);
  await page.waitForFunction(() => !document.querySelector('main')?.textContent?.match(/読み込み中|Loading…/));
  await page.waitForTimeout(150);
}

async function axe(page, what) {
  await page.evaluate(axeSource); // DevTools evaluation: not an inline script, the CSP stays in force
  const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const serious = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  check(`axe-core: no serious/critical violation on ${what}` + (serious.length ? ': ' + serious.map((v) => v.id + ' ' + v.nodes.map((n) => n.target).join(' ')).join('; ') : ''), serious.length === 0);
}

const views = ['#/overview', '#/terminals', '#/terminal/pc-a', '#/requirement/LOCK-1', '#/approvals', '#/events', '#/carry', '#/media', '#/report', '#/audit'];

// ---- ciso: every view, ja and en, screenshots, axe ----
for (const lang of ['ja', 'en']) {
  const { ctx, page, problems } = await session('ciso', lang);
  check(`ciso (${lang}): <html lang="${lang}">`, (await page.getAttribute('html', 'lang')) === lang);
  for (const v of views) {
    await view(page, v);
    if (v === '#/events') { await page.click('form.filters button[type=submit]'); await page.waitForSelector('main table'); }
    const name = v.replace(/[#/]+/g, '-').replace(/^-/, '');
    console.log(`      screenshot ${name}-${lang}`);
    await page.screenshot({ path: join(art, `${name}-${lang}.png`), fullPage: true, timeout: 90000 });
    if (lang === 'ja') await axe(page, v);
  }
  await view(page, '#/overview');
  const text = await page.textContent('body');
  check(`ciso (${lang}): times in Japan time with the zone shown`, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d JST/.test(await (await view(page, '#/terminals'), page.textContent('main'))) && /Asia\/Tokyo/.test(text));
  check(`ciso (${lang}): the overview names LOCK-1 and both groups`, /LOCK-1/.test(text) && /kaikei/.test(text) && /soumu/.test(text));
  await view(page, '#/overview');
  const depts = await page.$$eval('table.departments tbody tr', (l) => l.map((r) => [...r.cells].map((c) => c.textContent)));
  check(`ciso (${lang}): compliance per department: 会計課 0 of 1 (0.0%), 総務課 1 of 1 (100.0%): ${JSON.stringify(depts)}`,
    JSON.stringify(depts) === JSON.stringify([['会計課', '1', '0', '0.0%', '0'], ['総務課', '1', '1', '100.0%', '0']]));
  const jstDay = (ago) => new Date(Date.now() + 9 * 3600e3 - ago * 86400e3).toISOString().slice(0, 10);
  const trend = await page.$$eval('table.trend tbody tr', (l) => l.map((r) => [...r.cells].map((c) => c.textContent)));
  check(`ciso (${lang}): the 90-day trend: ${jstDay(30)} at 90.0%, today at 50.0%, a line chart beside the table: ${JSON.stringify(trend)}`,
    JSON.stringify(trend) === JSON.stringify([[jstDay(30), '10', '9', '90.0%'], [jstDay(0), '2', '1', '50.0%']]) && (await page.$('canvas[aria-label]')) !== null);
  await view(page, '#/terminals');
  await page.fill('#fd', '会計課');
  await page.click('form.filters button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('main table tbody tr').length === 1);
  const ids = await page.$$eval('main table tbody tr td:first-child', (l) => l.map((c) => c.textContent));
  check(`ciso (${lang}): the terminal list filtered by department 会計課 shows pc-a only: ${ids}`, ids.join() === 'pc-a');
  await view(page, '#/overview');
  check(`ciso (${lang}): ${lang === 'ja' ? 'Japanese' : 'English'} words`, lang === 'ja' ? /概要/.test(text) : /Overview/.test(text));
  await view(page, '#/report');
  const rep = await page.textContent('main');
  check(`ciso (${lang}): the report cites the city's clause 7.4(1)④ and offers the clause editor`, rep.includes('7.4(1)④') && (await page.$('#cn')) !== null);
  if (lang === 'ja') await page.pdf?.({ path: join(art, 'report-a4-ja.pdf'), format: 'A4', landscape: true }).catch(() => {});
  await view(page, '#/approvals');
  const appr = await page.textContent('main');
  check(`ciso (${lang}): own upload shows OPS-4 and no approve button`, /OPS-4/.test(appr) && (await page.$$('main table.policies button')).length === 0);
  check(`ciso (${lang}): no CSP violation, dialog, error or outside request` + (problems.length ? ': ' + problems.join(' | ') : ''), problems.length === 0);
  await ctx.close();
}

// ---- the media register (MEDIA-6): the hostile owner as text, a refused CSV names its row ----
{
  const { ctx, page, problems } = await session('ciso', 'ja');
  await view(page, '#/media');
  let main = await page.textContent('main');
  check('media register: the imported medium, not sanitised, the hostile owner shown as text',
    main.includes('USB-001') && main.includes('<img src=x onerror=window.__pwned=1>') && main.includes('未消去') &&
    !(await page.evaluate(() => window.__pwned)));
  await page.setInputFiles('main input[type=file]', { name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('管理番号,所属,色\nA,B,C\n') });
  await page.waitForSelector('main .error');
  main = await page.textContent('main');
  check('media register: a refused import names the column and imported nothing', /unknown column/.test(main) && /何も取り込んでいません/.test(main));
  check('media register: no CSP violation, dialog, error or outside request' + (problems.length ? ': ' + problems.join(' | ') : ''), problems.length === 0);
  await ctx.close();
}

// ---- the hostile corpus (ciso, terminal detail, investigation, carry) ----
{
  const { ctx, page, problems } = await session('ciso', 'ja');
  for (const v of ['#/terminal/pc-a', '#/carry', '#/events']) {
    await view(page, v);
    if (v === '#/events') { await page.fill('#s-q', 'onerror'); await page.click('form.filters button[type=submit]'); await page.waitForSelector('main table tbody tr'); }
    const main = await page.textContent('main');
    check(`hostile ${v}: <script> shown as text`, main.includes("<script>window.__pwned=1;alert('x')</script>") || v === '#/events');
    check(`hostile ${v}: "><img onerror> shown as text`, main.includes('"><img src=x onerror="window.__pwned=2;alert(1)">') || main.includes('\\"><img src=x onerror'));
    const pwned = await page.evaluate(() => window.__pwned);
    const imgs = await page.$$eval('img', (l) => l.length);
    const scripts = await page.$$eval('script', (l) => l.map((s) => s.getAttribute('src')));
    check(`hostile ${v}: nothing ran (no __pwned, no <img>, only the app's script)`, pwned === undefined && imgs === 0 && scripts.length === 1 && scripts[0] === '/assets/app.js');
  }
  await view(page, '#/terminal/pc-a');
  const cmds = await page.$$eval('table.commands tbody tr', (l) => l.map((r) => [r.cells[1].textContent, r.cells[2].textContent]));
  check(`terminal detail: the commands from the queue (wipe waiting for approval, sync queued or delivered): ${JSON.stringify(cmds)}`,
    cmds.length === 2 && cmds[0][0] === 'wipe' && cmds[0][1] === 'pending_approval' && cmds[1][0] === 'sync' && ['queued', 'delivered'].includes(cmds[1][1]));
  const cert = await page.$$eval('table.certificates tbody tr', (l) => l.map((r) => [...r.cells].map((c) => c.textContent)));
  check(`terminal detail: the certificate's serial (${process.env.DASH_SERIAL}), validity in JST, valid: ${JSON.stringify(cert)}`,
    cert.length === 1 && cert[0][0].toLowerCase() === process.env.DASH_SERIAL.toLowerCase() && / JST$/.test(cert[0][1]) && / JST$/.test(cert[0][2]) && cert[0][3] === '有効');
  const main = await page.textContent('main');
  check('hostile: the RTL override is kept as text, isolated in <bdi>', main.includes('\u202efdp.exe') && (await page.$$eval('bdi', (l) => l.some((b) => b.textContent === '\u202efdp.exe'))));
  check('hostile: the 4 KiB serial is shown', main.includes('<b>' + 'A'.repeat(4093)));
  check('hostile: evidence markup from a report shown as text', main.includes('<img src=x onerror=alert(3)>'));
  await page.screenshot({ path: join(art, 'hostile-terminal-pc-a-ja.png'), timeout: 90000 });
  check('hostile: no dialog, CSP violation or error' + (problems.length ? ': ' + problems.join(' | ') : ''), problems.length === 0);
  await ctx.close();
}

// ---- viewer: reads, cannot approve, no audit ----
for (const lang of ['ja', 'en']) {
  const { ctx, page, problems } = await session('etsuran', lang);
  const nav = await page.textContent('nav');
  check(`viewer (${lang}): no audit trail in the menu`, !/監査ログ|Audit trail/.test(nav));
  await view(page, '#/report');
  check(`viewer (${lang}): the report without the clause editor`, (await page.textContent('main')).includes('LOCK-1') && (await page.$('#cn')) === null);
  await view(page, '#/approvals');
  check(`viewer (${lang}): the pending policy is listed without an approve button`, (await page.textContent('main')).includes('kaikei') && (await page.$$('main table button')).length === 0);
  await page.screenshot({ path: join(art, `viewer-approvals-${lang}.png`), fullPage: true });
  const status = await page.evaluate(async () => (await fetch('/admin/v1/audit', { headers: { 'X-Mamori-CSRF': '1' } })).status);
  check(`viewer (${lang}): the server refuses the audit trail to a viewer (403)`, status === 403);
  const st2 = await page.evaluate(async () => (await fetch('/admin/v1/groups/kaikei/policy/2/approve', { method: 'POST', headers: { 'X-Mamori-CSRF': '1' } })).status);
  check(`viewer (${lang}): the server refuses an approval by a viewer (403)`, st2 === 403);
  check(`viewer (${lang}): no CSP violation or error` + (problems.length ? ': ' + problems.join(' | ') : ''), problems.length === 0);
  await ctx.close();
}

// ---- approver: a second person approves the ciso's policy ----
{
  const { ctx, page, problems } = await session('shonin', 'ja');
  const nav = await page.textContent('nav');
  check('approver: the audit trail is in the menu', /監査ログ/.test(nav));
  await view(page, '#/approvals');
  await page.screenshot({ path: join(art, 'approver-approvals-before-ja.png'), fullPage: true });
  const btn = await page.$('main table.policies button');
  check('approver: an approve button for the ciso\'s upload', btn !== null);
  if (btn) {
    await btn.click();
    await page.waitForSelector('p[role=status]');
    check('approver: approved', (await page.textContent('p[role=status]')).includes('承認しました'));
    await page.waitForFunction(() => !document.querySelector('main table.policies button'));
  }
  await page.screenshot({ path: join(art, 'approver-approvals-after-ja.png'), fullPage: true });
  await view(page, '#/audit');
  check('approver: the audit trail shows the approval', (await page.textContent('main')).includes('policy.approve'));
  check('approver: no CSP violation or error' + (problems.length ? ': ' + problems.join(' | ') : ''), problems.length === 0);
  // the cookie is invisible to JavaScript (HttpOnly)
  check('approver: document.cookie does not hold the session', !(await page.evaluate(() => document.cookie)).includes('mamori_session'));
  await ctx.close();
}

// ---- the approvals inbox (issue 16.2): every kind, with the API's scope and window ----
// The values chosen here are checked afterwards through the admin API
// (dashboard.sh: GET /admin/v1/requests/ID). The server is the one judge: its
// refusals (OPS-4, an until beyond the request's) must be shown in the page.
const E = process.env;
const row = (id) => `main table.requests tr[data-id="${id}"]`;
async function approveIn(page, id, { scope, person, access, until }) {
  if (scope) await page.selectOption(`#scope-${id}`, scope);
  if (person) await page.selectOption(`#person-${id}`, person);
  if (access) await page.selectOption(`#access-${id}`, access);
  if (until) await page.fill(`#until-${id}`, until);
  await page.click(`${row(id)} form.approve button[type=submit]`);
}
async function gone(page, id, what) {
  const ok_ = await page.waitForSelector(row(id), { state: 'detached', timeout: 10000 }).then(() => true, () => false);
  const status = ok_ ? await page.textContent('p[role=status]') : await page.textContent(row(id));
  check(`inbox: ${what} (the row left the inbox: ${status.slice(0, 200)})`, ok_ && /承認しました|却下しました|確認しました/.test(status));
}
for (const lang of ['en', 'ja']) {
  const { ctx, page, problems } = await session('shonin', lang);
  await view(page, '#/approvals');
  const own = await page.textContent(row(E.ID_OWN)).catch(() => '');
  check(`inbox (${lang}): the approver's own request shows OPS-4 and no form`,
    (lang === 'ja' ? own.includes('自分の申請は承認できません (OPS-4)') : own.includes('You cannot approve your own request (OPS-4)')) &&
    (await page.$$(`${row(E.ID_OWN)} button, ${row(E.ID_OWN)} select`)).length === 0);
  const out = await page.textContent(row(E.ID_OUT)).catch(() => '');
  check(`inbox (${lang}): the carry-out shows its medium, purpose (as text) and the asked-for end in JST`,
    out.includes('0781:5567:CO1') && out.includes('<b>議事録</b>の持ち出し') && / JST/.test(out));
  // an until beyond the request's: the server's 409 until_beyond_request, shown by the row
  await approveIn(page, E.ID_OUT, { until: E.BEYOND_JST });
  const refusal = await page.waitForSelector(`${row(E.ID_OUT)} .error[role=alert]`, { timeout: 10000 }).then((h) => h.textContent(), () => '');
  check(`inbox (${lang}): an until beyond the request's is refused, and the page says so: ${refusal}`,
    lang === 'ja' ? refusal.includes('承認の期限 (until) は申請された期限より後にできません')
      : refusal.includes('the approval cannot last longer than the request asked for'));
  check(`inbox (${lang}): ... the carry-out is still waiting`, (await page.$(row(E.ID_OUT))) !== null);
  if (lang === 'en') await page.screenshot({ path: join(art, 'approver-inbox-refused-en.png'), fullPage: true });
  if (lang === 'ja') {
    await page.screenshot({ path: join(art, 'approver-inbox-ja.png'), fullPage: true });
    await axe(page, '#/approvals (approver, request forms)');
    await approveIn(page, E.ID_OUT, { until: E.OUT_JST });
    await gone(page, E.ID_OUT, 'the carry-out approved within its window');
    await approveIn(page, E.ID_EXC, { scope: 'department', person: 'anyone', until: E.EXC_JST });
    await gone(page, E.ID_EXC, 'the exception approved for the department, anyone');
    await approveIn(page, E.ID_DEV, { scope: 'department', access: 'rw', until: E.DEV_JST });
    await gone(page, E.ID_DEV, 'the device approved for the department, read-write, until a chosen time');
    await page.fill(`#reason-${E.ID_REJ}`, '業務に不要 <b>');
    await page.click(`${row(E.ID_REJ)} form.reject button[type=submit]`);
    await gone(page, E.ID_REJ, 'the device request rejected with a reason');
    await page.fill(`#note-${E.ID_EMG}`, '電話で確認済み');
    await page.click(`${row(E.ID_EMG)} form.acknowledge button[type=submit]`);
    await gone(page, E.ID_EMG, 'the emergency code\'s use acknowledged with a note');
    // approvals in force: the exception just approved is revoked before its
    // end with a reason (dashboard.sh checks what the API stored)
    const inForce = (id) => `main table.in-force tr[data-id="${id}"]`;
    const listed = await page.waitForSelector(inForce(E.ID_EXC), { timeout: 10000 }).then(() => true, () => false);
    check('in force: the approved exception is listed with its end in JST', listed && / JST/.test(await page.textContent(inForce(E.ID_EXC))));
    await axe(page, '#/approvals (approver, approvals in force)');
    await page.fill(`#revoke-reason-${E.ID_EXC}`, '担当替え');
    await page.click(`${inForce(E.ID_EXC)} form.revoke button[type=submit]`);
    const left = await page.waitForSelector(inForce(E.ID_EXC), { state: 'detached', timeout: 10000 }).then(() => true, () => false);
    check('in force: the exception revoked with a reason (the row left the list, the page says so)',
      left && (await page.textContent('p[role=status]')).includes('取り消しました'));
    check('in force: the other approvals stay', (await page.$(inForce(E.ID_DEV))) !== null && (await page.$(inForce(E.ID_OUT))) !== null);
  }
  check(`inbox (${lang}): no CSP violation, dialog or error` + (problems.length ? ': ' + problems.join(' | ') : ''), problems.length === 0);
  await ctx.close();
}

await browser.close();
console.log(`${passes} passed, ${fails} failed`);
process.exit(fails ? 1 : 0);
