/* server-api/api_report.c — the city's clause numbers and the 自己点検
 * (self-inspection) report of OPS-2 (mamori-server, admin listener, loop
 * thread):
 *   GET /admin/v1/dashboard/clauses          requirement ID → the city's clause
 *       number and text (default: the references of docs/REQUIREMENTS.md, in
 *       the 総務省 guideline's structure: M = 宮崎市, T = 豊橋市, B = 基本方針)
 *   PUT /admin/v1/dashboard/clauses/{ID}     set one (ciso only; audited)
 *   GET /admin/v1/dashboard/report?group=&department=&terminal=&format=json|csv|xlsx
 *       every requirement with the city's clause, its status, the count of
 *       terminals per result and the exceptions in force (OPS-3); CSV is
 *       UTF-8 with a BOM (Excel), XLSX is written by libxlsxwriter.
 * The report is the state the server holds now (each terminal's latest
 * check-in), dated with the time it was made, in Japan time. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xlsxwriter.h>

#include "alloc-util.h"
#include "api_admin.h"
#include "api_device.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "server.h"
#include "strutil.h"

#define CLAUSES_META   "dashboard.clauses"
#define CLAUSES_BUF    (96 * 1024)
#define CLAUSE_NUM_MAX 128
#define CLAUSE_TXT_MAX 1000

/* Every requirement ID (docs/REQUIREMENTS.md) with its default clauses. */
static const struct {
	const char *id, *clause;
} requirements[] = {
        {"MEDIA-1", "M 4(1)②(イ), M 6.1(1)④, M 7.4(2)④, M 5.2(2)④"},
        {"MEDIA-2", "T 第3 1(2)イ, B 6(3)①"},
        {"MEDIA-3", "M 4(1)②(イ), M 3(1) 機密性3, M 3(2)⑧"},
        {"MEDIA-4", "M 3(2)⑥(イ)"},
        {"MEDIA-5", "M 7.1(18), T 第6 1(12)"},
        {"MEDIA-6", "M 3(2)⑩, T 第2 2(3)"},
        {"CARRY-1", "M 6.1(1)⑤, T 第2 2(2)"},
        {"CARRY-2", "M 6.1(1)③(イ), M 3(2)⑧(イ), T 第5 1(2)"},
        {"CARRY-3", "M 7.4(3)②, M 7.4(2)④"},
        {"CARRY-4", "M 7.2(2)⑥"},
        {"AV-1", "M 7.4(1)④, M 7.4(2)①, T 第6 4(2)ア"},
        {"AV-2", "M 7.4(1)⑤⑥, M 7.4(2)②③"},
        {"AV-3", "M 7.4(3)④, T 第6 4(1)イ"},
        {"AV-4", "M 7.4(3)①, M 7.4(2)⑤"},
        {"AV-5", "M 7.4(3)⑦, T 第6 4(2)エ"},
        {"LOCK-1", "M 6.1(1)⑦, T 第5 2(3)"},
        {"LOCK-2", "M 5.4②, M 7.2(4), T 第6 2(1)イ"},
        {"LOCK-3", "M 6.4(3)③, M 5.4④, M 4(1)②(ア)"},
        {"PATCH-1", "M 7.6(1)①, T 第6 5(4)"},
        {"PATCH-2", "M 7.4(1)⑦"},
        {"SOFT-1", "M 7.1(17), M 7.3(2)③(イ)"},
        {"CONF-1", "M 6.1(1)⑥, M 7.5(1)④, T 第6 5(1)"},
        {"NET-1", "M 7.5(1)①②, T 第6 1(13)"},
        {"NET-2", "M 7.1(19), M 7.1(13), T 第6 1(8)"},
        {"LOG-1", "M 7.1(6), T 第6 1(5)"},
        {"LOG-2", "M 8.1②, T 第7 2(3)"},
        {"MDM-1", "M 5.4⑤"},
        {"MDM-2", "M 7.4(3)⑦(イ), M 7.5(2)"},
        {"MDM-3", "M 6.1(1)⑧, M 8.6(2)③"},
        {"OPS-1", "M 8.2(1), T 第7 3"},
        {"OPS-2", "M 10.2"},
        {"OPS-3", "M 8.4"},
        {"OPS-4", "M 2(8), M 7.1(4)③"},
        {"OPS-5", "M 6.3, M 7.5(3), T 第1 8"},
        {"OPS-6", "M 8.2(2)"},
};

static int requirement_index(const char *id)
{
	for (size_t i = 0; i < ELEMENTSOF(requirements); i++)
		if (strcmp(requirements[i].id, id) == 0)
			return (int)i;
	return -1;
}

/* The city's mapping as stored ({} if none). */
static int clauses_load(struct server *srv, cJSON **ret)
{
	_cleanup_free_ char *buf = malloc(CLAUSES_BUF);
	int r;

	if (!buf)
		return -ENOMEM;
	r = STORE_CALL(srv->store, meta_get, CLAUSES_META, buf, CLAUSES_BUF);
	if (r == -ENOENT)
		return (*ret = cJSON_CreateObject()) ? 0 : -ENOMEM;
	if (r < 0)
		return r;
	*ret = cJSON_Parse(buf);
	return *ret && cJSON_IsObject(*ret) ? 0 : -EBADMSG;
}

/* [{"id","clause","text","default"}] for every requirement. */
static cJSON *clauses_list(const cJSON *map)
{
	_cleanup_json_ cJSON *arr = cJSON_CreateArray();

	if (!arr)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(requirements); i++) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(map, requirements[i].id);
		const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "clause")),
		           *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "text"));
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(arr, o) || !cJSON_AddStringToObject(o, "id", requirements[i].id) ||
		    !cJSON_AddStringToObject(o, "clause", c ?: requirements[i].clause) ||
		    !cJSON_AddStringToObject(o, "text", t ?: "") ||
		    !cJSON_AddStringToObject(o, "default", requirements[i].clause))
			return NULL;
	}
	return TAKE_PTR(arr);
}

static void handle_clauses(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *map = NULL, *out = cJSON_CreateObject();
	char actor[API_ACTOR_MAX];
	enum store_role role;
	cJSON *list;
	int r;

	if (api_admin_auth(srv, req, API_PERM_READ, actor, &role) < 0)
		return;
	if ((r = clauses_load(srv, &map)) < 0)
		return r == -ENOMEM ? api_admin_no_memory(req) : api_admin_store_failed(req, r);
	if (!out || !(list = clauses_list(map)) || !cJSON_AddItemToObject(out, "clauses", list))
		return api_admin_no_memory(req);
	http_reply_json(req, 200, out);
}

/* PUT /admin/v1/dashboard/clauses/{ID} {"clause": "...", "text": "..."} — ciso. */
static void handle_clause_put(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *map = NULL, *body = NULL;
	_cleanup_free_ char *s = NULL;
	const char *id = http_req_param(req, 0), *clause, *text;
	char actor[API_ACTOR_MAX];
	enum store_role role;
	cJSON *e;
	int r;

	if (api_admin_auth(srv, req, API_PERM_ACCOUNTS, actor, &role) < 0)
		return;
	if (requirement_index(id) < 0)
		return http_reply_error(req, 404, "not_found", "その要件 ID はありません", "no such requirement ID",
		                        NULL);
	r = http_req_json(req, 16 * 1024, &body);
	if (r < 0)
		return http_reply_body_error(req, r);
	clause = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "clause"));
	text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "text"));
	if (!cJSON_IsObject(body) || cJSON_GetArraySize(body) != 2 || !clause || !text || !*clause ||
	    strlen(clause) > CLAUSE_NUM_MAX || strlen(text) > CLAUSE_TXT_MAX || !utf8_valid(clause, strlen(clause)) ||
	    !utf8_valid(text, strlen(text)))
		return http_reply_error(req, 400, "invalid",
		                        "clause (1〜128 バイト) と text (1000 バイトまで) だけを指定してください",
		                        "give exactly clause (1..128 bytes) and text (up to 1000 bytes)", NULL);
	if ((r = clauses_load(srv, &map)) < 0)
		return r == -ENOMEM ? api_admin_no_memory(req) : api_admin_store_failed(req, r);
	cJSON_DeleteItemFromObjectCaseSensitive(map, id);
	if (!(e = cJSON_AddObjectToObject(map, id)) || !cJSON_AddStringToObject(e, "clause", clause) ||
	    !cJSON_AddStringToObject(e, "text", text) || !(s = cJSON_PrintUnformatted(map)))
		return api_admin_no_memory(req);
	if (strlen(s) >= CLAUSES_BUF)
		return http_reply_error(req, 413, "too_large", "条項の対応表が大きすぎます",
		                        "the clause table is too large", NULL);
	if ((r = STORE_CALL(srv->store, meta_set, CLAUSES_META, s)) < 0)
		return api_admin_store_failed(req, r);
	server_audit(srv, actor, "clause.set", id, "ok", clause);
	handle_clauses(userdata, req);
}

/* ---- the report ---- */

struct tally {
	const char *terminal;   /* NULL: all (of the group) */
	const char *department; /* NULL: all (of the group); 部署 (issue 15) */
	unsigned pass[ELEMENTSOF(requirements)], fail[ELEMENTSOF(requirements)], exc[ELEMENTSOF(requirements)],
	        other[ELEMENTSOF(requirements)];
	unsigned terminals;
};

static int tally_cb(const struct store_device *d, const char *compliance, void *userdata)
{
	struct tally *t = userdata;
	_cleanup_json_ cJSON *c = NULL;
	const cJSON *it;

	if (d->revoked || (t->terminal && strcmp(t->terminal, d->terminal_id) != 0) ||
	    (t->department && strcmp(t->department, d->department) != 0))
		return 0;
	t->terminals++;
	c = compliance ? cJSON_Parse(compliance) : cJSON_CreateObject();
	if (!c)
		return -ENOMEM;
	if (d->findings) { /* LOG-1: a broken chain fails the log's protection */
		cJSON_DeleteItemFromObjectCaseSensitive(c, "LOG-1");
		cJSON_AddStringToObject(c, "LOG-1", "fail");
	}
	cJSON_ArrayForEach(it, c)
	{
		int i = requirement_index(it->string);

		if (i < 0 || !cJSON_IsString(it))
			continue; /* not a requirement of REQUIREMENTS.md: not in the report */
		if (strcmp(it->valuestring, "pass") == 0)
			t->pass[i]++;
		else if (strcmp(it->valuestring, "fail") == 0)
			t->fail[i]++;
		else if (strcmp(it->valuestring, "excepted") == 0)
			t->exc[i]++;
		else
			t->other[i]++;
	}
	return 0;
}

static const char *status_of(const struct tally *t, size_t i, bool en)
{
	if (t->fail[i])
		return en ? "noncompliant" : "不準拠";
	if (t->exc[i])
		return en ? "excepted" : "例外承認中";
	if (t->pass[i])
		return en ? "compliant" : "準拠";
	return en ? "no data" : "データなし";
}

static void jst_now(char buf[40])
{
	time_t now = time(NULL) + 9 * 3600;
	struct tm tm;

	gmtime_r(&now, &tm);
	if (strftime(buf, 40, "%Y-%m-%d %H:%M:%S JST", &tm) == 0)
		buf[0] = 0;
}

static const char *const columns[][2] = {
        {"要件 ID", "requirement"},
        {"条項番号", "clause"},
        {"条項", "clause text"},
        {"状態", "status"},
        {"準拠端末数", "pass"},
        {"不準拠端末数", "fail"},
        {"例外承認中 (OPS-3)", "excepted"},
        {"その他", "other"},
        {"対象端末数", "terminals"},
};

static int csv_cell(FILE *f, const char *v, bool last)
{
	fputc('"', f);
	if (*v && strchr("=+-@\t\r", *v))
		fputc('\'', f);
	for (; *v; v++)
		fputs(*v == '"' ? "\"\"" : (char[]){*v, 0}, f);
	fputs(last ? "\"\r\n" : "\",", f);
	return ferror(f) ? -EIO : 0;
}

static int write_csv(const struct tally *t, const cJSON *list, const char *scope, char **ret, size_t *ret_len)
{
	FILE *f = open_memstream(ret, ret_len);
	char made[40], num[16];
	const cJSON *row;
	size_t i = 0;

	if (!f)
		return -ENOMEM;
	jst_now(made);
	fputs("\xEF\xBB\xBF", f);
	csv_cell(f, "自己点検報告 (OPS-2)", false), csv_cell(f, scope, false), csv_cell(f, made, true);
	for (size_t c = 0; c < ELEMENTSOF(columns); c++)
		csv_cell(f, columns[c][0], c + 1 == ELEMENTSOF(columns));
	cJSON_ArrayForEach(row, list)
	{
		const unsigned v[] = {t->pass[i], t->fail[i], t->exc[i], t->other[i], t->terminals};

		csv_cell(f, cJSON_GetStringValue(cJSON_GetObjectItem(row, "id")), false);
		csv_cell(f, cJSON_GetStringValue(cJSON_GetObjectItem(row, "clause")), false);
		csv_cell(f, cJSON_GetStringValue(cJSON_GetObjectItem(row, "text")), false);
		csv_cell(f, status_of(t, i, false), false);
		for (size_t k = 0; k < ELEMENTSOF(v); k++) {
			(void)xsnprintf(num, sizeof(num), "%u", v[k]);
			csv_cell(f, num, k + 1 == ELEMENTSOF(v));
		}
		i++;
	}
	return fclose(f) == 0 ? 0 : -EIO;
}

static int write_xlsx(struct server *srv, const struct tally *t, const cJSON *list, const char *scope, char **ret,
                      size_t *ret_len)
{
	char path[PATH_MAX], made[40];
	lxw_workbook_options opt = {.constant_memory = LXW_FALSE, .tmpdir = srv->paths.tmp_dir};
	lxw_workbook *wb;
	lxw_worksheet *ws;
	lxw_format *head, *wrap;
	const cJSON *row;
	int fd, r;
	uint32_t i = 0;

	if (xsnprintf(path, sizeof(path), "%s/report-XXXXXX.xlsx", srv->paths.tmp_dir) < 0 ||
	    (fd = mkstemps(path, 5)) < 0)
		return -errno;
	close(fd);
	wb = workbook_new_opt(path, &opt);
	if (!wb) {
		unlink(path);
		return -ENOMEM;
	}
	ws = workbook_add_worksheet(wb, "自己点検");
	head = workbook_add_format(wb);
	format_set_bold(head);
	format_set_font_name(head, "Noto Sans CJK JP");
	wrap = workbook_add_format(wb);
	format_set_text_wrap(wrap);
	format_set_font_name(wrap, "Noto Sans CJK JP");
	jst_now(made);
	worksheet_write_string(ws, 0, 0, "自己点検報告 (OPS-2)", head);
	worksheet_write_string(ws, 0, 1, scope, NULL);
	worksheet_write_string(ws, 0, 2, made, NULL);
	for (lxw_col_t c = 0; c < ELEMENTSOF(columns); c++)
		worksheet_write_string(ws, 1, c, columns[c][0], head);
	worksheet_set_column(ws, 0, 1, 14, NULL);
	worksheet_set_column(ws, 2, 2, 50, wrap);
	worksheet_set_column(ws, 3, 8, 12, NULL);
	cJSON_ArrayForEach(row, list)
	{
		const unsigned v[] = {t->pass[i], t->fail[i], t->exc[i], t->other[i], t->terminals};
		lxw_row_t y = 2 + i;

		worksheet_write_string(ws, y, 0, cJSON_GetStringValue(cJSON_GetObjectItem(row, "id")), NULL);
		worksheet_write_string(ws, y, 1, cJSON_GetStringValue(cJSON_GetObjectItem(row, "clause")), NULL);
		worksheet_write_string(ws, y, 2, cJSON_GetStringValue(cJSON_GetObjectItem(row, "text")), wrap);
		worksheet_write_string(ws, y, 3, status_of(t, i, false), NULL);
		for (size_t k = 0; k < ELEMENTSOF(v); k++)
			worksheet_write_number(ws, y, (lxw_col_t)(4 + k), v[k], NULL);
		i++;
	}
	worksheet_set_paper(ws, 9); /* A4 */
	worksheet_set_landscape(ws);
	worksheet_repeat_rows(ws, 1, 1);
	r = workbook_close(wb) == LXW_NO_ERROR ? read_file_capped(path, 16 * 1024 * 1024, ret, ret_len) : -EIO;
	unlink(path);
	return r;
}

static void handle_report(void *userdata, struct http_req *req)
{
	struct server *srv = userdata;
	_cleanup_json_ cJSON *map = NULL, *out = cJSON_CreateObject(), *list = NULL;
	_cleanup_free_ struct tally *t = calloc(1, sizeof(*t));
	_cleanup_free_ char *data = NULL;
	const char *group = http_req_query(req, "group"), *format = http_req_query(req, "format");
	char actor[API_ACTOR_MAX], scope[480], made[40];
	enum store_role role;
	size_t len = 0, i = 0;
	cJSON *rows, *row;
	int r;

	if (api_admin_auth(srv, req, API_PERM_READ, actor, &role) < 0)
		return;
	if (format && strcmp(format, "json") != 0 && strcmp(format, "csv") != 0 && strcmp(format, "xlsx") != 0)
		return http_reply_error(req, 400, "invalid", "format は json、csv、xlsx のいずれかです",
		                        "format is json, csv or xlsx", NULL);
	if (!t)
		return api_admin_no_memory(req);
	t->terminal = http_req_query(req, "terminal");
	t->department = http_req_query(req, "department");
	if (group && !*group)
		group = NULL;
	if (t->department && !*t->department)
		t->department = NULL;
	if (t->terminal && !*t->terminal)
		t->terminal = NULL;
	(void)api_device_flush(srv);
	if ((r = clauses_load(srv, &map)) < 0 || (r = STORE_CALL(srv->store, device_list, group, tally_cb, t)) < 0)
		return r == -ENOMEM ? api_admin_no_memory(req) : api_admin_store_failed(req, r);
	if (!(list = clauses_list(map)))
		return api_admin_no_memory(req);
	(void)xsnprintf(scope, sizeof(scope), "%s%s%s%s%s%s%s", !group && !t->department && !t->terminal ? "全庁" : "",
	                t->department ? "部署: " : "", t->department ?: "", group ? " グループ: " : "", group ?: "",
	                t->terminal ? " 端末: " : "", t->terminal ?: "");
	server_audit(srv, actor, "report.self_inspection", t->department ?: group ?: "*", "ok", scope);
	if (format && strcmp(format, "csv") == 0) {
		if ((r = write_csv(t, list, scope, &data, &len)) < 0)
			return api_admin_no_memory(req);
		http_add_header(req, "Content-Disposition", "attachment; filename=\"mamori-self-inspection.csv\"");
		return http_reply_data(req, 200, "text/csv; charset=utf-8", data, len);
	}
	if (format && strcmp(format, "xlsx") == 0) {
		if ((r = write_xlsx(srv, t, list, scope, &data, &len)) < 0) {
			log_error_errno(r, "self-inspection XLSX: %m");
			return http_reply_error(req, 500, "internal", "XLSX を作れません", "cannot write the XLSX",
			                        NULL);
		}
		http_add_header(req, "Content-Disposition", "attachment; filename=\"mamori-self-inspection.xlsx\"");
		return http_reply_data(req, 200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		                       data, len);
	}
	jst_now(made);
	if (!out || !cJSON_AddStringToObject(out, "scope", scope) || !cJSON_AddStringToObject(out, "made_at", made) ||
	    !cJSON_AddNumberToObject(out, "terminals", t->terminals) || !(rows = cJSON_AddArrayToObject(out, "rows")))
		return api_admin_no_memory(req);
	cJSON_ArrayForEach(row, list)
	{
		cJSON *o = cJSON_Duplicate(row, true);

		if (!o || !cJSON_AddItemToArray(rows, o) ||
		    !cJSON_AddStringToObject(o, "status", status_of(t, i, true)) ||
		    !cJSON_AddStringToObject(o, "status_ja", status_of(t, i, false)) ||
		    !cJSON_AddNumberToObject(o, "pass", t->pass[i]) ||
		    !cJSON_AddNumberToObject(o, "fail", t->fail[i]) ||
		    !cJSON_AddNumberToObject(o, "excepted", t->exc[i]) ||
		    !cJSON_AddNumberToObject(o, "other", t->other[i]))
			return api_admin_no_memory(req);
		i++;
	}
	http_reply_json(req, 200, out);
}

const struct http_route api_report_routes[] = {
        {HTTP_GET, "/admin/v1/dashboard/clauses", handle_clauses},
        {HTTP_PUT, "/admin/v1/dashboard/clauses/*", handle_clause_put},
        {HTTP_GET, "/admin/v1/dashboard/report", handle_report},
};
const size_t api_report_routes_n = ELEMENTSOF(api_report_routes);
