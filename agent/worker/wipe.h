/* agent/worker/wipe.h — the `wipe` remote command's steps (MDM-1,
 * docs/COMMANDS.md "wipe"): crypto-erase of LUKS volumes with libcryptsetup,
 * removal of data paths without following a symlink or leaving the
 * file system, destruction of the agent's credentials. mamori-worker (root). */
#ifndef MAMORI_WIPE_H
#define MAMORI_WIPE_H

#include <stddef.h>

/* Destroy every keyslot of the LUKS1/LUKS2 volume (block device or file) at
 * path (resolved). Afterwards no keyslot is active, checked. *ret_destroyed:
 * how many were destroyed. -EINVAL: not a LUKS volume. */
int wipe_volume(const char *path, unsigned *ret_destroyed, char *err, size_t errsz);

/* Remove path (resolved, absolute) and, for a directory, everything in it.
 * No symlink is followed — the path itself must contain none
 * (RESOLVE_NO_SYMLINKS), a symlink inside is removed as a link — and no
 * other file system is entered (RESOLVE_NO_XDEV; a mount point inside is
 * left, counted in *ret_skipped). "/" and paths with "." or ".." components
 * are refused. -ENOENT: nothing there (already gone). */
int wipe_path(const char *path, unsigned *ret_removed, unsigned *ret_skipped, char *err, size_t errsz);

/* Remove the agent's credentials from state_dir: device.pem (the key),
 * enroll.json, server-ca.pem, command-key.pub. Returns how many were removed. */
int wipe_credentials(const char *state_dir);

#endif
