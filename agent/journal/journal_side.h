/* agent/journal/journal_side.h — what the journal keeps outside its database
 * file (mamori-worker writes it, mamorictl reads it): the sequence numbers
 * reserved, the head last committed, the events that could not be stored
 * (LOG-1: loss is counted durably, never silent), and the space reserve
 * that lets the journal.overflow record be written on a full disk.
 *
 * <dir>/journal.state is a 4096-byte file allocated once and then only
 * overwritten in place (pwrite, two alternating slots with a checksum): an
 * update needs no new disk block, so it works when the disk is full.
 * <dir>/journal.reserve is JOURNAL_RESERVE_BYTES of allocated space, released
 * when SQLite reports a full disk and taken again when room returns. */
#ifndef MAMORI_JOURNAL_SIDE_H
#define MAMORI_JOURNAL_SIDE_H

#include <stdbool.h>
#include <stdint.h>

#define JOURNAL_STATE_FILE    "journal.state"
#define JOURNAL_RESERVE_FILE  "journal.reserve"
#define JOURNAL_RESERVE_BYTES (512 * 1024)
#define JOURNAL_LOSS_TYPES    16 /* further types are counted as "other" */
#define JOURNAL_SEQ_STEP                                                                                               \
	16384 /* sequence numbers reserved per durable write (issue 23: one fsync of journal.state per 16384 records) */

enum journal_loss_cause {
	LOSS_QUOTA,     /* the quota was full of unacknowledged records */
	LOSS_DISK_FULL, /* the file system had no room (ENOSPC, EDQUOT) */
	LOSS_IO,        /* any other failure to commit */
	_LOSS_CAUSE_MAX,
	_LOSS_CAUSE_INVALID = -1,
};

const char *journal_loss_cause_to_string(enum journal_loss_cause c);

struct journal_loss {
	uint64_t count;
	int64_t first_us, last_us;
	uint64_t by_cause[_LOSS_CAUSE_MAX];
	struct {
		char type[65];
		uint64_t n;
	} by_type[JOURNAL_LOSS_TYPES];
	unsigned n_types;
};

struct journal_side {
	uint64_t gen;       /* write generation: the newer valid slot wins */
	char chain[33];     /* the chain this state belongs to ("" = none yet) */
	uint64_t reserved;  /* sequence numbers up to here may have been used */
	uint64_t head_seq;  /* the last committed head (written after each commit) */
	char head_hash[65]; /* its hash, hex ("" with head_seq 0) */
	uint64_t acked_seq; /* acknowledged by the server */
	uint64_t loss_gen;  /* the loss batch counted now (meta loss_flushed = the last recorded) */
	struct journal_loss loss;
};

/* Add one lost event of `type` at time t_us. */
void journal_loss_add(struct journal_loss *l, const char *type, enum journal_loss_cause c, uint64_t n, int64_t t_us);
/* l -= sub (what a journal.overflow record reported). */
void journal_loss_sub(struct journal_loss *l, const struct journal_loss *sub);
/* Add every count of `add` under cause c. */
void journal_loss_merge(struct journal_loss *l, const struct journal_loss *add, enum journal_loss_cause c);

/* Open (creating and allocating if needed) <dir>/journal.state; *ret_fd. *ret
 * gets the newest valid slot, or zeroes for a new file. -EBADMSG: the file
 * exists but neither slot is valid (kept; the caller treats it as damage). */
int journal_side_open(const char *dir, int *ret_fd, struct journal_side *ret);
/* Read-only, for readers: -ENOENT when there is none. */
int journal_side_read(const char *dir, struct journal_side *ret);
/* Map the open state file for writing (the writer): a write through the
 * mapping is a copy, not a syscall, and changes the file's mtime only when a
 * clean page is first written again, not at every commit. A pwrite after
 * each commit gave the file a new mtime at every clock tick, and on ext4
 * without a journal the commit's fdatasync of the WAL then also wrote the
 * inode table block the two files share (issue 23.3: single appends 0.74x ->
 * 0.97x raw SQLite). -EOPNOTSUPP where a mapped write could need a new block
 * (copy-on-write file systems): the caller keeps pwrite. Truncating the
 * file under a mapping makes the writer's next write fail with SIGBUS (the
 * worker is restarted; a state file cut short is then recorded as damage,
 * LOG-1 — one cut to zero bytes is taken as new, as before). */
int journal_side_map(int fd, void **ret);
void journal_side_unmap(void *map);
/* Write s (gen is incremented) into the other slot, through map when not
 * NULL, else with pwrite; fdatasync when durable. */
int journal_side_write(int fd, void *map, struct journal_side *s, bool durable);

/* Allocate the reserve (0 or -ENOSPC …) / release it (0 or -errno). */
int journal_reserve_take(const char *dir);
int journal_reserve_release(const char *dir);
bool journal_reserve_present(const char *dir);

#endif
