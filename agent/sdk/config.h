/* agent/sdk/config.h — /etc/mamori/agent.conf (mamorid, mamori-worker, mamorictl).
 *
 * Format: `key = value` lines; `#` starts a comment line; blank lines are
 * ignored. Every key is documented in docs/CONFIG.md and in config.c's table.
 * Unknown keys, duplicate keys, bad values and lines longer than
 * CONFIG_LINE_MAX are errors that name the file, the line and the key; the
 * daemon refuses to start on any of them. Paths are system paths: they are
 * resolved under the root prefix when used. */
#ifndef MAMORI_CONFIG_H
#define MAMORI_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_LINE_MAX     4096
#define CONFIG_FILE_MAX     (256 * 1024)
#define CONFIG_DEFAULT_PATH "/etc/mamori/agent.conf"

struct agent_config {
	char state_dir[PATH_MAX];   /* state_dir: journal, cached policy */
	char run_dir[PATH_MAX];     /* run_dir: control socket */
	char policy_file[PATH_MAX]; /* policy_file: signed policy (FILE + FILE.sig) */
	char policy_key[PATH_MAX];  /* policy_key: Ed25519 public key (PEM) */
	char lang[4];               /* language: ja | en */
	int log_level;              /* log_level: debug | info | notice | warning | err */
	int64_t check_interval;     /* check_interval: seconds between posture passes */
	char modules[512];          /* modules: "all" or comma-separated module names (worker modules) */
	bool usb_gate;              /* usb_gate: on | off — the only way to switch the USB gate off */
	bool audit_only;            /* audit_only: yes | no */
	int64_t journal_quota_mb;   /* journal_quota_mb: disk quota of the journal */
	char server_url[512];       /* server_url: https://… (empty: offline) */
	char terminal_id[128];      /* terminal_id: empty = from the device certificate / machine-id */
	/* the `wipe` remote command (docs/COMMANDS.md, MDM-1): comma-separated
	 * absolute paths; LUKS volumes to crypto-erase and data paths to remove */
	char wipe_volumes[1024]; /* wipe_volumes */
	char wipe_paths[2048];   /* wipe_paths */
	bool wipe_power_off;     /* wipe_power_off: yes | no (default yes; tests say no) */
	bool isolate_dhcp_dns; /* isolate_dhcp_dns: yes | no — DHCP and DNS stay open while isolated (default yes) */
};

void config_defaults(struct agent_config *cfg);

/* Parse a buffer; `name` is used in messages. On error returns -EINVAL and
 * writes one message per problem (newline-separated, "name:LINE: key 'k': …")
 * into err. The first error does not stop parsing: all are reported. */
int config_parse(struct agent_config *cfg, const char *buf, size_t len, const char *name, char *err, size_t errsz);

/* Load a file (already resolved under the root). A missing file gives the
 * defaults (returns 0) only if missing_ok. */
int config_load(struct agent_config *cfg, const char *path, bool missing_ok, char *err, size_t errsz);

/* true if module `name` is enabled: the `modules` key for the worker's
 * modules; for "usb" the `usb_gate` key alone. */
bool config_module_enabled(const struct agent_config *cfg, const char *name);

/* The module names `modules` may list (NULL-terminated), and a lookup. */
extern const char *const config_module_names[];
bool config_module_name_known(const char *name);

#endif
