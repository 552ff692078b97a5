/* agent/ctl/ctl.h — mamorictl subcommands (mamorictl).
 *
 * Each subcommand group lives in its own ctl_<group>.c and exposes one entry
 * point with main()'s contract: it gets argv starting at the group name and
 * returns the exit status (0 ok, 1 the thing checked is bad, 2 usage error). */
#ifndef MAMORI_CTL_H
#define MAMORI_CTL_H

#include <stdbool.h>

#include "config.h"

struct ctl_env {
	const char *root;           /* --root DIR, "" for / */
	const char *config_path;    /* --config FILE (system path, under root) */
	struct agent_config config; /* loaded agent.conf */
	const char *lang;           /* ja | en for messages to staff */
	bool json;                  /* --json */
};

int ctl_check(struct ctl_env *env, int argc, char **argv);          /* ctl_check.c */
int ctl_status(struct ctl_env *env, int argc, char **argv);         /* ctl_check.c: asks the daemon */
int ctl_policy(struct ctl_env *env, int argc, char **argv);         /* ctl_policy.c */
int ctl_exception(struct ctl_env *env, int argc, char **argv);      /* ctl_policy.c */
int ctl_journal(struct ctl_env *env, int argc, char **argv);        /* ctl_journal.c */
int ctl_carry(struct ctl_env *env, int argc, char **argv);          /* ctl_carry.c: the carry-out/in register */
int ctl_enroll(struct ctl_env *env, int argc, char **argv);         /* ctl_enroll.c */
int ctl_server(struct ctl_env *env, int argc, char **argv);         /* ctl_enroll.c: sync, status */
int ctl_usb(struct ctl_env *env, int argc, char **argv);            /* ctl_usb.c: list, generate-policy */
int ctl_commands(struct ctl_env *env, int argc, char **argv);       /* ctl_commands.c: remote commands received */
int ctl_request(struct ctl_env *env, int argc, char **argv);        /* ctl_request.c: requests to the approver */
int ctl_notify_request(struct ctl_env *env, int argc, char **argv); /* ctl_notify.c: the notification's action */

/* ctl_usb.c, shared: one control request and its parsed answer (NULL and a
 * message on stderr when none); an RFC 3339 time as seconds (-1 if not one);
 * seconds printed in Japan time with the zone. */
#include <stdint.h>
#include <cjson/cJSON.h>
cJSON *ctl_control_call(struct ctl_env *env, cJSON *req);
int64_t ctl_parse_time(const char *s);
/* t (seconds since 1970) as "YYYY-MM-DD HH:MM:SS JST" into buf (the
 * number itself when it cannot be formatted); ctl_print_time prints it. */
void ctl_format_time(int64_t t, char *buf, size_t bufsz);
void ctl_print_time(int64_t t);
int ctl_media(struct ctl_env *env, int argc, char **argv); /* ctl_media.c: sanitize (MEDIA-6) */

/* Pick the message for the language: ja or en. */
#define L(env, ja, en) ((env)->lang && (env)->lang[0] == 'e' ? (en) : (ja))

#endif
