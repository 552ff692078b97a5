/* tests/unit/test_policy_reqs.c — requirement IDs (policy/policy_reqs.c) and
 * template coverage: the known-ID table equals the IDs of REQUIREMENTS.md
 * (parsed here), and every ID that an endpoint can enforce appears in at
 * least one segment template; the server-only ones are listed below with the
 * reason (same list as docs/POLICY.md). */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy-test-util.h"
#include "policy.h"
#include "policy_reqs.h"

/* Judged server-only (docs/POLICY.md "Requirements not in the endpoint policy"):
 *  MEDIA-6 sanitisation before disposal happens off the terminal (asset register on the server)
 *  CARRY-4 network admission after a trip is decided by NAC/server from the posture report
 *  MDM-3   revocation when staff leave: certificate and account revocation on the server
 *  OPS-6   the CISO's investigation reads the uploaded journal on the server */
static const char *const server_only[] = {"MEDIA-6", "CARRY-4", "MDM-3", "OPS-6"};

#define MAX_IDS 128
static char doc_ids[MAX_IDS][16];
static size_t n_doc_ids;

static char *read_requirements(void)
{
	const char *env = getenv("MAMORI_REQUIREMENTS");
	const char *src = getenv("MAMORI_SRC");
	char path[4096];
	char *buf;

	if (env && *env)
		return ptest_read_file(env, NULL);
	/* the copy shipped in the repository (and in the package) */
	snprintf(path, sizeof(path), "%s/docs/REQUIREMENTS.md", src && *src ? src : ".");
	buf = ptest_read_file(path, NULL);
	return buf;
}

static int setup(void **state)
{
	char *buf = read_requirements(), *line, *save = NULL;
	regex_t re;
	regmatch_t m[2];
	(void)state;

	if (!buf) {
		fprintf(stderr, "REQUIREMENTS.md not found: set MAMORI_REQUIREMENTS\n");
		return -1;
	}
	/* table rows: "| MEDIA-1 | ... |" */
	if (regcomp(&re, "^\\| *([A-Z]+-[0-9]+) *\\|", REG_EXTENDED) != 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (regexec(&re, line, 2, m, 0) == 0 && n_doc_ids < MAX_IDS) {
			int len = (int)(m[1].rm_eo - m[1].rm_so);
			snprintf(doc_ids[n_doc_ids++], sizeof(doc_ids[0]), "%.*s", len, line + m[1].rm_so);
		}
	regfree(&re);
	free(buf);
	return n_doc_ids > 0 ? 0 : -1;
}

static void test_table_matches_document(void **state)
{
	size_t n_table = 0;
	(void)state;

	assert_true(n_doc_ids >= 30);
	for (size_t i = 0; i < n_doc_ids; i++) {
		if (!policy_requirement_known(doc_ids[i]))
			fprintf(stderr, "REQUIREMENTS.md has %s, policy_reqs.c does not\n", doc_ids[i]);
		assert_true(policy_requirement_known(doc_ids[i]));
	}
	while (policy_requirement_at(n_table))
		n_table++;
	assert_int_equal(n_table, n_doc_ids);
	assert_false(policy_requirement_known("MEDIA-0"));
	assert_false(policy_requirement_known(""));
	assert_false(policy_requirement_known(NULL));
}

static void test_server_only_list(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_doc_ids; i++) {
		bool listed = false;
		const char *why = NULL;

		for (size_t k = 0; k < sizeof(server_only) / sizeof(server_only[0]); k++)
			if (strcmp(server_only[k], doc_ids[i]) == 0)
				listed = true;
		assert_int_equal(policy_requirement_endpoint(doc_ids[i], &why), !listed);
		if (listed)
			assert_true(why && strlen(why) > 20);
	}
}

/* Collect requirement IDs cited anywhere in the document; count rules and
 * sections without them. */
static void collect(const cJSON *node, const char *key, bool *seen, size_t *missing, int depth)
{
	const cJSON *c;

	if (cJSON_IsObject(node)) {
		const cJSON *reqs = cJSON_GetObjectItemCaseSensitive(node, "requirements");
		/* sections (depth 1) and array rules that have an "id" or "class" must cite */
		bool must = depth == 1 || cJSON_GetObjectItemCaseSensitive(node, "action") ||
		            (cJSON_GetObjectItemCaseSensitive(node, "id") && depth > 1);

		if (must && cJSON_GetArraySize(reqs) == 0) {
			fprintf(stderr, "no requirements at %s\n", key ? key : "?");
			(*missing)++;
		}
		cJSON_ArrayForEach(c, reqs)
		{
			for (size_t i = 0; i < n_doc_ids; i++)
				if (cJSON_IsString(c) && strcmp(c->valuestring, doc_ids[i]) == 0)
					seen[i] = true;
		}
		cJSON_ArrayForEach(c, node) collect(c, c->string, seen, missing, depth + 1);
	} else if (cJSON_IsArray(node)) {
		cJSON_ArrayForEach(c, node) collect(c, key, seen, missing, depth);
	}
}

static void test_templates_cover_endpoint_requirements(void **state)
{
	static const char *const segs[] = {"mynumber", "lgwan", "internet"};
	bool seen[MAX_IDS] = {false};
	size_t missing = 0;
	(void)state;

	for (size_t i = 0; i < 3; i++) {
		char rel[64];
		size_t len;
		char *buf;
		struct mamori_policy *p = NULL;

		snprintf(rel, sizeof(rel), "policy/templates/%s.json", segs[i]);
		buf = ptest_read_src(rel, &len);
		assert_int_equal(policy_parse(buf, len, &p, NULL), 0);
		collect(policy_document(p), NULL, seen, &missing, 0);
		policy_free(p);
		free(buf);
	}
	assert_int_equal(missing, 0);
	for (size_t i = 0; i < n_doc_ids; i++) {
		bool endpoint = policy_requirement_endpoint(doc_ids[i], NULL);

		if (endpoint && !seen[i])
			fprintf(stderr, "%s is enforceable on the endpoint but in no template\n", doc_ids[i]);
		assert_true(!endpoint || seen[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table_matches_document),
	        cmocka_unit_test(test_server_only_list),
	        cmocka_unit_test(test_templates_cover_endpoint_requirements),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
