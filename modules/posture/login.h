/* modules/posture/login.h — login rules: password required, failed-login
 * lockout, password quality, multi-factor authentication, session timeout;
 * LOCK-2 and LOCK-3 (mamori-worker).
 *
 * LOCK-2 (M 5.4②, M 7.2(4), T 第6 2(1)イ): login needs a password, attempts
 * are limited (pam_faillock, legacy pam_tally2), sessions time out (TMOUT or
 * logind StopIdleSessionSec=). LOCK-3 (M 6.4(3)③, M 5.4④, M 4(1)②(ア)):
 * password strength (pam_pwquality / pam_cracklib, pwquality.conf) and a
 * second factor where the segment requires it (`login.mfa_required`, set by
 * the mynumber template). The PAM stacks are followed the way libpam does
 * (@include, include, substack), with a bounded depth, under the root
 * prefix. */
#ifndef MAMORI_LOGIN_H
#define MAMORI_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "module.h"
#include "screenlock/screenlock.h"

#define LOGIN_MAX_MFA 8

/* The `login` policy section. Defaults when absent: faillock_deny 5,
 * faillock_unlock_time 900, password_minlen 12, password_minclass 3,
 * mfa_required false, mfa_modules pam_u2f pam_oath pam_sss pam_pkcs11
 * pam_google_authenticator. session_timeout_seconds is not a policy key
 * (yet): 900. */
struct login_settings {
	int64_t faillock_deny;        /* at most this many failures before lockout */
	int64_t faillock_unlock_time; /* locked for at least this long (0 in PAM = until an admin unlocks) */
	int64_t password_minlen;
	int64_t password_minclass;
	bool mfa_required;
	char mfa_modules[LOGIN_MAX_MFA][32];
	size_t n_mfa;
	int64_t session_timeout_seconds;
};

void login_settings_default(struct login_settings *ret);
int login_settings_from_json(const cJSON *section, struct login_settings *ret);

#define LOGIN_PAM_MAX_ENTRIES 256
#define LOGIN_PAM_MAX_DEPTH   8

/* libpam's return codes 0..31 (PAM_SUCCESS … PAM_INCOMPLETE) and, per code,
 * the action a control gives it: the values of libpam's _PAM_ACTION_*. */
#define LOGIN_PAM_NRET     32
#define LOGIN_PAM_IGNORE   0
#define LOGIN_PAM_OK       (-1)
#define LOGIN_PAM_DONE     (-2)
#define LOGIN_PAM_BAD      (-3)
#define LOGIN_PAM_DIE      (-4)
#define LOGIN_PAM_RESET    (-5)
#define LOGIN_PAM_UNDEF    (-6)
#define LOGIN_PAM_MAX_JUMP 64

struct login_pam_entry {
	char type[12];                 /* auth, account, password, session */
	char control[96];              /* required, sufficient, [success=1 default=ignore] … */
	int8_t action[LOGIN_PAM_NRET]; /* the control parsed: action per return code; > 0 = jump */
	uint8_t level;                 /* substack depth (0 = the service's own stack) */
	bool substack;                 /* the "TYPE substack FILE" line itself (no module) */
	char module[48];               /* basename without .so: "pam_unix" */
	char args[256];
	char file[48]; /* the pam.d file it came from, and its line */
	int line;
};

struct login_pam_stack {
	char service[32];
	bool present;
	int err; /* < 0: unreadable, malformed, or too deep; err_what says where */
	char err_what[192];
	struct login_pam_entry e[LOGIN_PAM_MAX_ENTRIES];
	size_t n;
};

/* Load /etc/pam.d/SERVICE (under the root) into a flat stack, following
 * @include, include and substack the way libpam builds its chains: include
 * splices the other file's lines of that type, substack adds one marker entry
 * and the file's lines one level deeper. Every control is parsed into its
 * per-return-code actions; an unknown keyword, return code or action is an
 * error (ret->err), never a guess. Always fills *ret; returns 0 (problems in
 * ret->err) or -ENOMEM. A missing service is ret->present = false. */
int login_pam_load(const char *service, struct login_pam_stack *ret);

#define LOGIN_MAX_SERVICES 6

struct login_facts {
	struct login_pam_stack auth[LOGIN_MAX_SERVICES]; /* login, gdm-password, sshd, lightdm, sddm, system-auth */
	size_t n_auth;
	struct login_pam_stack password; /* passwd (or common-password / system-auth) */
	/* /etc/security/faillock.conf */
	int faillock_conf_err;
	int64_t conf_deny, conf_unlock_time; /* -1 = not set */
	/* /etc/security/pwquality.conf + .d */
	int pwq_conf_err;
	int64_t conf_minlen, conf_minclass, conf_credit[4]; /* d u l o; INT64_MIN = not set */
	int64_t conf_enforcing;                             /* INT64_MIN = not set (libpwquality: 1) */
	/* /etc/shadow + /etc/passwd */
	int shadow_err;
	char empty_pw_users[256]; /* login-capable accounts with an empty hash, comma-separated */
	size_t n_empty_pw;
	/* TMOUT from /etc/profile, /etc/bash.bashrc, /etc/profile.d/ *.sh */
	int64_t tmout; /* smallest positive TMOUT found, 0 = none */
	bool tmout_readonly;
	char tmout_source[96];
	struct screenlock_logind logind;
};

int login_gather(struct login_facts *ret);

/* What pam_authenticate() can return on a stack, found by walking libpam's
 * dispatch (pam_dispatch.c: impression/status, ok/done/bad/die/ignore/reset,
 * [code=N] jumps, substack levels) over every outcome each module can give
 * in a scenario:
 *   WRONG   an account with a password, a wrong password typed, not locked;
 *   EMPTY   an account with an empty hash, an empty password typed;
 *   LOCKED  the right password, after more failures than pam_faillock allows;
 *   COUNT   WRONG where the modules that check no credential give their
 *           ordinary success or ignore (no /etc/nologin, …): every failing
 *           path must reach a failure counter.
 * pam_unix, pam_deny, pam_permit and pam_faillock are modelled exactly;
 * modules that check a credential the caller does not have (pam_sss, pam_u2f,
 * …) fail, or return ignore/user_unknown/authinfo_unavail; every other module
 * (pam_env, pam_succeed_if, pam_rootok, unknown ones) may return anything. */
enum login_pam_scenario { LOGIN_PAM_WRONG, LOGIN_PAM_EMPTY, LOGIN_PAM_LOCKED, LOGIN_PAM_COUNT };

struct login_pam_verdict {
	bool granted;     /* some path ends in PAM_SUCCESS */
	bool uncounted;   /* some failing path runs no failure counter (pam_faillock authfail, pam_tally2) */
	bool too_complex; /* the walk hit its step bound: treated as granted */
	char path[256];   /* the first granting path, "module control=code (file:line) → …" */
};

int login_pam_simulate(const struct login_pam_stack *st, enum login_pam_scenario sc, struct login_pam_verdict *ret);

/* Results: login.password_required, login.faillock, login.session_timeout
 * (LOCK-2), login.pwquality, login.mfa (LOCK-3). Pure. */
int login_evaluate(const struct login_settings *s, const struct login_facts *f, struct check_report *rep);

extern const struct mamori_module login_module;

#endif
