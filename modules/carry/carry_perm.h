/* modules/carry/carry_perm.h — the thread that reads the carry module's
 * fanotify content group and answers FAN_OPEN_PERM events it can answer from
 * what the loop already decided (mamori-worker: one thread; issue 23.3).
 *
 * A copier waits for every permission event on a marked medium. The loop
 * that used to read them also appends records to the journal and waits for
 * its fsync, so a copy to an approval medium waited for the journal. Here
 * one thread reads every event of the group: an open permission event whose
 * answer is "allow" by the loop's own rules — the medium needs nothing (not
 * being scanned, not blocked, no approval rule), or an approval the loop
 * checked for this thread on this medium is still in the cache — is
 * answered at once. Every other event (the first open of a thread, a
 * refusal, a scan in progress, a close to record, a queue overflow) is
 * handed to the loop in the order read, never dropped: when the queue is
 * full, the thread waits for the loop (and so, as before, the copier
 * does). The loop publishes what the thread may answer (set_volumes, the
 * cache); the thread never allows what the loop would refuse: a medium it
 * does not know yet, or a thread it has no verdict for, goes to the loop. */
#ifndef MAMORI_CARRY_PERM_H
#define MAMORI_CARRY_PERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CARRY_PERM_CACHE    256  /* verdicts kept, by thread id */
#define CARRY_PERM_CACHE_MS 1000 /* how long one is trusted (an approval's window ends, a tid is reused) */
#define CARRY_PERM_QUEUE    4096 /* events waiting for the loop (each holds an fd) */

/* What the thread may do with an open on a followed medium. */
enum carry_perm_mode {
	CARRY_PERM_LOOP,     /* the loop decides (scan in progress, blocked) */
	CARRY_PERM_ALLOW,    /* nothing to decide: allowed */
	CARRY_PERM_APPROVAL, /* allowed for a thread with a cached approval on this medium */
};

struct carry_perm_volume {
	dev_t dev;
	enum carry_perm_mode mode;
};

/* One verdict of the loop, by thread id. */
struct carry_perm_entry {
	pid_t tid, tgid; /* tgid 0: not known */
	int64_t until_ms;
	dev_t approved_dev; /* 0: none */
	uint64_t rules_gen;
	/* the person the loop found approved for approved_dev ("": the answer
	 * came without an approval check); judges the names the thread's
	 * process made after it exited (govern_name) */
	char user[64];
};

/* An event for the loop, in the order the thread read it. fd (owned by the
 * receiver) is -1 for an overflow. */
struct carry_perm_event {
	int fd;
	pid_t pid;
	uint64_t mask;
};

struct carry_perm;

/* Start the thread on fan_fd (non-blocking, not owned) and close_fd (a
 * group of closes only, read in batches; -1: the closes come on fan_fd).
 * self: the worker's pid (its own opens are always allowed). 0 or -errno. */
int carry_perm_new(int fan_fd, int close_fd, pid_t self, struct carry_perm **ret);

/* Stop the thread; every event still queued, then every event the thread
 * had read but not queued yet, is passed to drop (which owns its fd), e.g.
 * to deny it; without drop an open is denied, a close's fd closed. What
 * the thread had not read stays in the kernel's queue of fan_fd. */
void carry_perm_free(struct carry_perm *p, void (*drop)(const struct carry_perm_event *e, void *ud), void *ud);

/* Readable while events wait for the loop. */
int carry_perm_fd(const struct carry_perm *p);

/* The next event for the loop: true and *ret, or false when none waits. */
bool carry_perm_next(struct carry_perm *p, struct carry_perm_event *ret);

/* Replace the followed media the thread knows (n <= 64). A medium missing
 * here is the loop's to decide. */
void carry_perm_set_volumes(struct carry_perm *p, const struct carry_perm_volume *v, size_t n);

/* The current rules generation: cached approvals of another one are void. */
void carry_perm_set_rules_gen(struct carry_perm *p, uint64_t gen);

/* The cache entry of tid's slot (whatever thread it holds now). */
struct carry_perm_entry carry_perm_cache_get(struct carry_perm *p, pid_t tid);
void carry_perm_cache_put(struct carry_perm *p, const struct carry_perm_entry *e);

/* Opens the thread answered from the cache. */
uint64_t carry_perm_fast(struct carry_perm *p);

/* Answer a permission event and close its fd. */
void carry_perm_respond(int fan_fd, int fd, bool allow);

int64_t carry_perm_now_ms(void);

#endif
