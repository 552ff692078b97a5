// tests/integration/dashboard.mjs — the dashboard in a real browser (run by
// tests/integration/dashboard.sh against a real mamori-server with real
// data): Debian's Chromium (/usr/bin/chromium, never a downloaded browser)
// driven by playwright-core; axe-core judges accessibility. Asserts:
//  - viewer, approver and ciso each see only what their role may do;
//  - a policy uploaded by the ciso shows OPS-4 (not approvable by them) and
//    is approved by the approver, a second person, in the browser;
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
  check(`ciso (${lang}): ${lang === 'ja' ? 'Japanese' : 'English'} words`, lang === 'ja' ? /概要/.test(text) : /Overview/.test(text));
  await view(page, '#/report');
  const rep = await page.textContent('main');
  check(`ciso (${lang}): the report cites the city's clause 7.4(1)④ and offers the clause editor`, rep.includes('7.4(1)④') && (await page.$('#cn')) !== null);
  if (lang === 'ja') await page.pdf?.({ path: join(art, 'report-a4-ja.pdf'), format: 'A4', landscape: true }).catch(() => {});
  await view(page, '#/approvals');
  const appr = await page.textContent('main');
  check(`ciso (${lang}): own upload shows OPS-4 and no approve button`, /OPS-4/.test(appr) && (await page.$$('main table button')).length === 0);
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
  const btn = await page.$('main table button');
  check('approver: an approve button for the ciso\'s upload', btn !== null);
  if (btn) {
    await btn.click();
    await page.waitForSelector('p[role=status]');
    check('approver: approved', (await page.textContent('p[role=status]')).includes('承認しました'));
    await page.waitForFunction(() => !document.querySelector('main table button'));
  }
  await page.screenshot({ path: join(art, 'approver-approvals-after-ja.png'), fullPage: true });
  await view(page, '#/audit');
  check('approver: the audit trail shows the approval', (await page.textContent('main')).includes('policy.approve'));
  check('approver: no CSP violation or error' + (problems.length ? ': ' + problems.join(' | ') : ''), problems.length === 0);
  // the cookie is invisible to JavaScript (HttpOnly)
  check('approver: document.cookie does not hold the session', !(await page.evaluate(() => document.cookie)).includes('mamori_session'));
  await ctx.close();
}

await browser.close();
console.log(`${passes} passed, ${fails} failed`);
process.exit(fails ? 1 : 0);
