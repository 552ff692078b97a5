/* agent/sdk/module.h — the interface every mamori module implements (mamori-worker
 * and mamorid run modules; mamorictl for in-process checks).
 *
 * A module is one `const struct mamori_module` with designated initializers,
 * listed in the static registry in agent/worker/module.c. The daemon's loop drives
 * modules only through these operations, so adding a concern never touches
 * the loop. Modules never talk to the network or the journal directly: they
 * emit events and results through the context. */
#ifndef MAMORI_MODULE_H
#define MAMORI_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "result.h"

struct mamori_policy; /* policy/policy.h */

enum mamori_cap {
	MAMORI_CAP_CHECK = 1u << 0,   /* evaluates posture: has check() */
	MAMORI_CAP_ENFORCE = 1u << 1, /* changes the system to match the policy: enforce() */
	MAMORI_CAP_WATCH = 1u << 2,   /* watches file descriptors: fds() + on_ready() */
	/* The events one on_ready() call emits may share one fsync: the daemon
	 * commits them together when on_ready() returns, before anything else
	 * runs. Only for modules that record observations and do not act, inside
	 * on_ready(), on an event being durable (e.g. carry: a file was written). */
	MAMORI_CAP_EVENT_BATCH = 1u << 3,
};

/* What the daemon gives a module. Owned by the daemon; valid from open() to close(). */
struct mamori_ctx {
	const struct mamori_policy *policy; /* current policy, NULL when none is loaded */
	const struct agent_config *config;  /* agent.conf (agent/sdk/config.h) */
	const char *lang;                   /* "ja" or "en": language for people at the terminal */
	bool audit_only;                    /* report, never change the system */
	/* carry-out approvals of the signed approval data (issue 16, CARRY-2),
	 * shaped like the policy's carry.approvals; NULL: none (mamori-worker) */
	const cJSON *approved_carry;
	/* Make an event durable (journal). Returns 0 or negative errno; seq may be NULL. */
	int (*emit)(struct mamori_ctx *ctx, const struct mamori_event *ev, uint64_t *ret_seq);
	/* Called by mamori_module_start/_reload once a module's settings are
	 * loaded from the policy, before it opens or applies them. A process
	 * that keeps the document only for what modules read later may put a
	 * smaller policy in ctx->policy here (mamorid: the city's allowlist is
	 * compiled, its JSON tree need not outlive the load; issue 23, the
	 * gate's memory peak). NULL: nothing. */
	void (*settings_loaded)(struct mamori_ctx *ctx);
	void *daemon; /* opaque to modules */
};

/* Convenience wrapper around ctx->emit. */
int mamori_emit(struct mamori_ctx *ctx, const char *type, enum event_severity sev, const char *reqs,
                const cJSON *payload);

/* The module's section of the current policy, already validated against
 * policy/schema.json; NULL when no policy is loaded or the section is absent
 * (the module then uses the defaults documented in docs/POLICY.md). */
const cJSON *mamori_policy_section(const struct mamori_ctx *ctx, const char *name);

#define MAMORI_MODULE_MAX_FDS      8
#define MAMORI_MODULE_MAX_SECTIONS 4 /* section + more_sections */

struct mamori_module {
	const char *name; /* short, lower case: "timesync", "usb", ... */
	unsigned caps;    /* MAMORI_CAP_* */

	/* The core owns every module's state (issue 19.5); a module never
	 * allocates or frees it. A module with neither settings nor state (only
	 * check(), say) gets state NULL.
	 *
	 * Core-owned settings: a module whose state is its policy section
	 * converted names the section, the size of its settings struct and the
	 * conversion. The core
	 * (mamori_module_start/_reload/_stop below) allocates a zeroed
	 * settings_size buffer, calls settings_load(section or NULL, buf) at
	 * start and on every policy change into a fresh buffer, swaps it in only
	 * when that succeeded (the old settings stay in force on error) and
	 * frees it; the module's operations get it as `state`. */
	const char *section;
	size_t settings_size;
	int (*settings_load)(const cJSON *section, void *settings);
	/* Settings that span more than one section (usb: its rules and
	 * carry.approvals) name the further sections here, NULL-terminated,
	 * and set settings_load_sections instead of settings_load: it gets
	 * sections[0] for `section`, then one per name, each NULL when absent. */
	const char *const *more_sections;
	int (*settings_load_sections)(const cJSON *const *sections, void *settings);
	/* At start only: settings that do not load are replaced by the loader's
	 * defaults (every section NULL) and the module starts on them — the usb
	 * gate's built-in fail-closed rules, so a rejected policy never leaves
	 * the gate unstarted. On a policy change the old settings stay, as for
	 * every module. */
	bool defaults_on_reject;
	/* Optional: releases what settings_load allocated inside the buffer
	 * (the core calls it before it frees or replaces settings). A loader
	 * that fails leaves nothing allocated. */
	void (*settings_done)(void *settings);

	/* Core-owned state: a module that keeps more than its settings (its
	 * context, a state directory, descriptors, a running scan) also names
	 * the size of its state struct and where the settings sit in it
	 * (offsetof). The core allocates the state zeroed, loads the settings
	 * in place and calls open(ctx, state); on a policy change it loads the
	 * new settings aside, moves them in and calls apply(state) — when either
	 * fails the old settings are moved back (they stay in force) and the
	 * new ones released; at stop it calls close(state), releases the
	 * settings and frees the state. A failing open() is followed by close(),
	 * which therefore accepts a state that open() left part way. A module
	 * with state but no policy section names state_size and no loader: the
	 * core allocates, open()s, apply()s on a policy change, close()s and
	 * frees it the same way. open() runs once at start, as root, before
	 * the loop, and must not block for long (no network); a negative
	 * return disables the module and reports it as error. */
	size_t state_size;
	size_t settings_offset;
	int (*open)(struct mamori_ctx *ctx, void *state); /* optional */
	int (*apply)(void *state);                        /* optional */
	void (*close)(void *state);                       /* optional */

	/* Optional (WATCH). Fill up to max fds the loop should poll for EPOLLIN;
	 * return the count or negative errno. Called after start and after every
	 * policy change. The module keeps ownership of the fds. */
	int (*fds)(void *state, int *ret_fds, size_t max);

	/* Optional (WATCH). One of the module's fds is readable. Must not block;
	 * read what is there and return. A negative return is logged; the module
	 * stays registered. */
	int (*on_ready)(void *state, int fd, uint32_t events);

	/* Optional (CHECK). Evaluate posture and append one or more results to
	 * rep, each citing requirement IDs. Never modifies the system. A negative
	 * return makes the daemon add an error result for the module. */
	int (*check)(void *state, struct check_report *rep);

	/* Optional (ENFORCE). Bring the system in line with the current policy.
	 * Called at start, after a policy change and before every posture pass (so a
	 * setting changed by hand comes back): must be idempotent and cheap when
	 * nothing drifted. Not called in audit mode. The daemon re-reads fds()
	 * afterwards, so enforce() may start work that has a descriptor. */
	int (*enforce)(void *state);
};

/* How every caller (worker, gate, mamorictl check, tests) drives a module:
 * through the core-owned settings and state above, the only way. A module
 * that names a loader without section and settings_size, or settings
 * outside its state, is refused (-EINVAL). */
int mamori_module_start(const struct mamori_module *m, struct mamori_ctx *ctx, void **ret_state);
/* The policy changed: a new state may replace *state (0), or *state stays
 * as it was (negative errno: the module keeps its previous settings). */
int mamori_module_reload(const struct mamori_module *m, struct mamori_ctx *ctx, void **state);
void mamori_module_stop(const struct mamori_module *m, void *state);

/* The module's state folder (agent.conf state_dir, default /var/lib/mamori)
 * under the test root (common/rootpath.h): where modules keep baselines. */
int mamori_state_dir(const struct mamori_ctx *ctx, char *buf, size_t bufsz);

/* Tests only: answer mamori_policy_section() from fn instead of ctx->policy
 * (sections without a whole signed policy); NULL restores the policy. */
typedef const cJSON *(*mamori_section_source_fn)(const struct mamori_ctx *ctx, const char *name);
void mamori_set_section_source(mamori_section_source_fn fn);

/* The static registry, in start order, NULL-terminated. */
extern const struct mamori_module *const mamori_modules[];

/* Modules that run in mamorid, the USB gate (agent/gate/gate.c), by name. */
extern const char *const mamori_gate_modules[];

const struct mamori_module *module_find(const char *name);
/* A name the `modules` key of agent.conf may use (worker or gate module). */
bool module_name_known(const char *name);
size_t module_count(void);

#endif
