/* agent/worker/daemon_command.h — remote commands in mamori-worker: the
 * inbox the sync's root part filled is verified again, journaled, executed
 * once and its results left for the next check-in (docs/COMMANDS.md). */
#ifndef MAMORI_DAEMON_COMMAND_H
#define MAMORI_DAEMON_COMMAND_H

#include <stdint.h>

struct mamori_ctx;
struct agent_config;

/* What executing a command needs from the daemon. */
struct daemon_command_ops {
	void (*sync_now)(void *userdata);      /* `sync`: check in and fetch the policy now */
	void (*report_now)(void *userdata);    /* results are waiting: report them soon */
	void (*sync_blocking)(void *userdata); /* `wipe`: upload the journal and the result before the credentials go */
	/* `scan`: start the av module's full scan now (AV-3); 0 started, or
	 * negative with detail saying why not */
	int (*scan_now)(void *userdata, const char *command_id, char *detail, size_t detailsz);
	/* `retire`: state_dir/retired is written; mamorid is to block every USB device from now on (MDM-3) */
	void (*usb_close)(void *userdata);
};

/* Process state_dir/commands/inbox (resolved state_dir). The number of
 * entries handled (0: none), or a negative errno. */
int daemon_commands_process(struct mamori_ctx *ctx, const struct agent_config *cfg, const char *state_dir,
                            const struct daemon_command_ops *ops, void *userdata);

/* The dead-man rule (MDM-1): with the policy's terminal_lock.offline_lock_days,
 * lock when the last successful contact with the server (state_dir/last_contact)
 * is that many days before now; journaled as terminal.locked (reason offline)
 * and uploaded with the next check-in. Nothing when already locked. */
void daemon_lock_deadman(struct mamori_ctx *ctx, const char *state_dir, int64_t now);

/* The offline unlock code (MDM-1, OPS-3; agent/worker/lock.h
 * LOCK_UNLOCK_SCOPE): an emergency code of that scope, verified and recorded
 * once by `mamorictl exception enter` (store: state_dir/exceptions.json,
 * each code usable once), ends the lock when its window holds now and it was
 * entered at or after the lock began — an old code never ends a later lock.
 * journaled as terminal.unlocked (by: the code's exception id). */
struct exception_store;
void daemon_lock_unlock_by_code(struct mamori_ctx *ctx, const char *state_dir, const struct exception_store *store,
                                int64_t now);

/* At the start of mamori-worker: re-apply a lock and an isolation not ended yet. */
void daemon_commands_start(struct mamori_ctx *ctx, const struct agent_config *cfg, const char *state_dir);

#endif
