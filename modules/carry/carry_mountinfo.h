/* modules/carry/carry_mountinfo.h — parsing /proc/self/mountinfo into the
 * mounts the carry module may follow (mamori-worker).
 *
 * The file is kernel-made, but mount points come from whoever mounted
 * (a medium's label becomes /media/USER/LABEL): every field is length-capped
 * and octal escapes (\040, \012, \134) are decoded to the exact bytes.
 * Utility code: never logs. */
#ifndef MAMORI_CARRY_MOUNTINFO_H
#define MAMORI_CARRY_MOUNTINFO_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define CARRY_MOUNTINFO_MAX_BYTES (4u * 1024 * 1024) /* whole file */
#define CARRY_MOUNTS_MAX          8192
#define CARRY_FSTYPE_MAX          64

struct carry_mount {
	int mnt_id;
	dev_t dev;
	char root[PATH_MAX];       /* path inside the filesystem that is mounted ("/" for the whole) */
	char mountpoint[PATH_MAX]; /* decoded, exact bytes */
	char fstype[CARRY_FSTYPE_MAX];
	char source[PATH_MAX];
	bool readonly; /* per-mount "ro" */
};

/* Parse one line (without the newline). 0, or -EINVAL for a malformed line,
 * -ENAMETOOLONG for a field beyond its cap. */
int carry_mountinfo_parse_line(const char *line, size_t len, struct carry_mount *ret);

/* Which parsed mounts to keep (NULL: all). A struct carry_mount is ~12 KiB
 * and a terminal with containers or snaps has hundreds of mounts, so the
 * caller keeps only those it can use. */
typedef bool (*carry_mount_keep_fn)(const struct carry_mount *m, void *userdata);

/* Parse a whole buffer; malformed lines are skipped and counted. *ret is a
 * new array of the kept mounts the caller frees (NULL when none). 0, or
 * -ENOMEM, or -E2BIG beyond CARRY_MOUNTS_MAX kept mounts. */
int carry_mountinfo_parse(const char *buf, size_t len, carry_mount_keep_fn keep, void *userdata,
                          struct carry_mount **ret, size_t *ret_n, size_t *ret_skipped);

/* Read fd from offset 0 (the poll fd itself may be passed: reading it is
 * what the kernel expects after POLLPRI) into a new buffer, capped at
 * CARRY_MOUNTINFO_MAX_BYTES. */
int carry_mountinfo_read_fd(int fd, char **ret, size_t *ret_len);

#endif
