// server-api/www/src/i18n.ts — the dashboard's words in Japanese (default)
// and English, and times in Japan time (Asia/Tokyo) with the zone shown.
export type Lang = 'ja' | 'en';

const words = {
  title: ['mamori コンプライアンス ダッシュボード', 'mamori compliance dashboard'],
  overview: ['概要', 'Overview'],
  terminals: ['端末', 'Terminals'],
  approvals: ['承認待ち', 'Approvals'],
  events: ['調査 (イベント検索)', 'Investigation (event search)'],
  carry: ['持ち出し・持ち込み台帳', 'Carry register'],
  audit: ['監査ログ', 'Audit trail'],
  requirement: ['要件', 'Requirement'],
  login: ['ログイン', 'Log in'],
  logout: ['ログアウト', 'Log out'],
  username: ['ユーザー名', 'User name'],
  password: ['パスワード', 'Password'],
  language: ['English', '日本語'],
  languageLabel: ['表示言語を英語にする', 'Switch the language to Japanese'],
  timezone: ['時刻はすべて日本時間 (Asia/Tokyo, JST)', 'All times in Japan time (Asia/Tokyo, JST)'],
  loading: ['読み込み中…', 'Loading…'],
  error: ['エラー', 'Error'],
  total: ['端末数', 'Terminals'],
  active: ['稼働', 'Active'],
  compliant: ['準拠', 'Compliant'],
  stale: ['未接続 (許容時間超過)', 'Not seen (beyond allowed)'],
  revoked: ['失効', 'Revoked'],
  incidents: ['未解決のインシデント', 'Open incidents'],
  rate: ['準拠率', 'Compliance rate'],
  perRequirement: ['要件 ID ごとの準拠率', 'Compliance per requirement ID'],
  perGroup: ['グループ (ポリシー) ごとの準拠率', 'Compliance per group (policy)'],
  perDepartment: ['部署ごとの準拠率', 'Compliance per department'],
  trend: ['準拠率の推移 (90 日、日本時間の日ごと)', 'Compliance rate over 90 days (per day, Japan time)'],
  trendLabel: ['日ごとの準拠率の折れ線グラフ (下の表と同じ値)', 'Line chart of the daily compliance rate (the same values as the table below)'],
  trendTable: ['推移の表 (サーバーが動いていなかった日は値なし)', 'The trend as a table (no value for days the server did not run)'],
  day: ['日付', 'Day'],
  commands: ['コマンド', 'Commands'],
  requestedBy: ['依頼者', 'Requested by'],
  approvedBy: ['承認者', 'Approved by'],
  updated: ['更新', 'Updated'],
  certificate: ['端末証明書', 'Certificate'],
  serial: ['シリアル番号', 'Serial'],
  notBefore: ['有効期間の開始', 'Not before'],
  notAfter: ['有効期限', 'Not after'],
  certValid: ['有効', 'valid'],
  certRevoked: ['失効済み', 'revoked'],
  certExpired: ['期限切れ', 'expired'],
  noDepartment: ['(部署未設定)', '(no department)'],
  staleTitle: ['許容時間を超えて接続のない端末', 'Terminals not seen for longer than allowed'],
  staleAfter: ['許容時間', 'Allowed'],
  seconds: ['秒', 's'],
  pass: ['合格', 'pass'],
  fail: ['不合格', 'fail'],
  excepted: ['例外承認', 'excepted'],
  other: ['その他', 'other'],
  group: ['グループ', 'Group'],
  terminalId: ['端末 ID', 'Terminal ID'],
  hostname: ['ホスト名', 'Host name'],
  status: ['状態', 'Status'],
  lastSeen: ['最終接続', 'Last contact'],
  agentVersion: ['エージェント版', 'Agent version'],
  policyVersion: ['ポリシー版', 'Policy version'],
  failing: ['不合格の要件', 'Failing requirements'],
  search: ['検索', 'Search'],
  filterText: ['端末 ID・ホスト名で絞り込み', 'Filter by terminal ID or host name'],
  any: ['すべて', 'any'],
  prev: ['前へ', 'Previous'],
  next: ['次へ', 'Next'],
  of: ['件中', 'of'],
  none: ['該当なし', 'None'],
  kind: ['種類', 'Kind'],
  detail: ['詳細', 'Detail'],
  time: ['時刻', 'Time'],
  posture: ['最新の点検結果 (証跡・是正方法)', 'Latest posture results (evidence, remedy)'],
  check: ['点検項目', 'Check'],
  evidence: ['証跡', 'Evidence'],
  remedy: ['是正方法', 'Remedy'],
  usb: ['USB 機器と判定', 'USB devices and decisions'],
  eventsOf: ['イベント', 'Events'],
  type: ['種別', 'Type'],
  record: ['記録', 'Record'],
  version: ['版', 'Version'],
  uploadedBy: ['申請者', 'Requested by'],
  approve: ['承認する', 'Approve'],
  approved: ['承認しました', 'Approved'],
  ops4: ['自分の申請は承認できません (OPS-4)', 'You cannot approve your own request (OPS-4)'],
  noRole: ['この役割では承認できません', 'Your role cannot approve'],
  actor: ['実行者', 'Actor'],
  action: ['操作', 'Action'],
  target: ['対象', 'Target'],
  result: ['結果', 'Result'],
  freeText: ['本文の語句', 'Text in the record'],
  since: ['開始 (日本時間)', 'From (Japan time)'],
  until: ['終了 (日本時間)', 'Until (Japan time)'],
  exportCsv: ['CSV で書き出す', 'Export CSV'],
  exportJson: ['JSON で書き出す', 'Export JSON'],
  auditedNote: ['検索はすべて監査ログに記録されます (OPS-6)', 'Every search is recorded in the audit trail (OPS-6)'],
  matched: ['該当', 'Matched'],
  user: ['利用者', 'User'],
  path: ['パス', 'Path'],
  device: ['機器', 'Device'],
  sizeBytes: ['サイズ (バイト)', 'Size (bytes)'],
  role: ['役割', 'Role'],
  failingTerminals: ['この要件に不合格の端末', 'Terminals failing this requirement'],
  never: ['未接続', 'never'],
  pendingPolicies: ['承認待ちのポリシー', 'Policy versions waiting for approval'],
  pendingRequests: ['端末からの申請 (USB 機器・持ち出し・例外・緊急コード)', 'Requests from terminals (USB devices, carry-outs, exceptions, emergency codes)'],
  requestKind: ['種別', 'Kind'],
  requestWhat: ['内容', 'What'],
  requester: ['申請者 (端末の利用者)', 'Requested by (terminal user)'],
  approveReq: ['承認', 'Approve'],
  decideLegend: ['承認の範囲と期限、または却下の理由', 'Scope and window of the approval, or the reason for a rejection'],
  scope: ['範囲', 'Scope'],
  scopeTerminal: ['この端末', 'This terminal'],
  scopeDepartment: ['この部署の端末すべて', 'Every terminal of the department'],
  personField: ['対象者', 'Person'],
  personRequester: ['申請者本人のみ', 'The requester only'],
  personAnyone: ['この端末を使う誰でも', 'Anyone using the terminal'],
  access: ['アクセス', 'Access'],
  accessRo: ['読み取り専用', 'Read-only'],
  accessRw: ['読み書き', 'Read-write'],
  untilJst: ['期限 (日本時間 JST)', 'Until (Japan time, JST)'],
  askedUntil: ['申請された期限', 'Asked until'],
  purpose: ['目的', 'Purpose'],
  reasonOf: ['理由', 'Reason'],
  medium: ['媒体', 'Medium'],
  ackNote: ['確認のメモ (任意)', 'Note (optional)'],
  refusedBy: ['サーバーが受け付けませんでした', 'The server refused this'],
  reject: ['却下', 'Reject'],
  rejectReason: ['却下の理由', 'Reason for the rejection'],
  rejected: ['却下しました', 'Rejected'],
  acknowledge: ['確認した', 'Acknowledge'],
  acknowledged: ['確認しました', 'Acknowledged'],
  approvalsInForce: ['有効な承認 (期限前)', 'Approvals in force (before their end)'],
  revokeRule: ['紛失や担当替えのときは期限前に取り消せます。オンラインの端末はすぐに (同期コマンド)、それ以外は次のチェックインで承認を失います', 'An approval can be revoked before its end (a lost medium, a changed duty); online terminals lose it at once (a sync command is sent), the others at their next check-in'],
  revoke: ['取り消す', 'Revoke'],
  revokeReason: ['取り消しの理由', 'Reason for the revocation'],
  revokedDone: ['取り消しました', 'Revoked'],
  deptRule: ['担当部署 (アカウントの部署) の端末からの申請だけが表示されます。CISO は全部署です', 'Only requests from terminals of your account\'s department are shown; a CISO sees every department'],
  ops4Rule: ['申請者本人は承認・却下・確認できません (OPS-4)', 'The requester cannot approve, reject or acknowledge their own request (OPS-4)'],
  report: ['自己点検報告 (OPS-2)', 'Self-inspection report (OPS-2)'],
  print: ['印刷 (A4)', 'Print (A4)'],
  exportXlsx: ['XLSX で書き出す', 'Export XLSX'],
  madeAt: ['作成', 'Made'],
  clauseNo: ['条項番号', 'Clause'],
  clauseText: ['条項', 'Clause text'],
  editClause: ['市の条項番号を設定 (CISO)', "Set the city's clause number (CISO)"],
  save: ['保存', 'Save'],
  saved: ['保存しました', 'Saved'],
  chartLabel: ['要件 ID ごとの準拠率のグラフ (下の表と同じ内容)', 'Chart of the compliance rate per requirement ID (same as the table below)'],
  // the media register (台帳; MEDIA-6, issue 16.5)
  media: ['媒体台帳', 'Media register'],
  mgmtNo: ['管理番号', 'Management no.'],
  department: ['所属', 'Department'],
  owner: ['管理者', 'Owner'],
  identity: ['識別子 (ベンダー:製品 シリアル)', 'Identity (vendor:product serial)'],
  registered: ['登録日', 'Registered'],
  retired: ['廃止日', 'Retired'],
  sanitized: ['消去 (日時・方式・端末・実施者)', 'Sanitised (time, method, terminal, operator)'],
  notSanitized: ['未消去', 'not sanitised'],
  importCsv: ['CSV を取り込む (全行か、何も取り込まないか)', 'Import CSV (all rows or none)'],
  imported: ['件を取り込みました', 'media imported'],
} as const;

export type Key = keyof typeof words;
let lang: Lang = (localStorage.getItem('mamori.lang') as Lang) === 'en' ? 'en' : 'ja';

export function getLang(): Lang { return lang; }
export function setLang(l: Lang): void {
  lang = l;
  localStorage.setItem('mamori.lang', l);
  document.documentElement.lang = l;
}
export function t(k: Key): string { return words[k][lang === 'ja' ? 0 : 1]; }

const fmt = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'Asia/Tokyo', year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
});

/** An RFC 3339 time as "YYYY-MM-DD HH:MM:SS JST" (Asia/Tokyo). */
export function jst(iso: string | null | undefined): string {
  if (!iso) return t('never');
  const d = new Date(iso);
  if (isNaN(d.getTime())) return String(iso);
  const p: Record<string, string> = {};
  for (const x of fmt.formatToParts(d)) p[x.type] = x.value;
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} JST`;
}

/** Seconds since the epoch → a datetime-local value in Japan time (minutes: never later than the time given). */
export function epochToJstInput(s: number): string {
  const d = new Date(Math.floor(s / 60) * 60000 + 9 * 3600e3);
  return isNaN(d.getTime()) ? '' : d.toISOString().slice(0, 16);
}

/** A datetime-local value meant as Japan time → RFC 3339 UTC. */
export function jstInputToUtc(v: string): string {
  if (!v) return '';
  const d = new Date(v + (v.length === 16 ? ':00' : '') + '+09:00');
  return isNaN(d.getTime()) ? '' : d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
