/* common/landlock.h — hiding a few files from this process and its future
 * children with Landlock (Linux ≥ 5.13, unprivileged, irreversible): the
 * web-facing process of mamori-server hides the signing keys from itself
 * once its listeners are up (server-api/signer.h). Utility code: never
 * logs; returns negative errno. */
#ifndef MAMORI_LANDLOCK_H
#define MAMORI_LANDLOCK_H

/* After this, opening any of `hidden` (NULL-terminated; regular files) for
 * reading or writing, or truncating it, fails with EACCES, under any name
 * (a hard link in the same directory is the same inode: refused too;
 * linking or renaming into another directory is refused by Landlock itself).
 * Everything else keeps read/write access, by one rule per entry of each
 * directory on the way from / to a hidden file. The price: a file created
 * after this call directly in such a directory (/, the data directory, …)
 * cannot be opened either, nor can the other entries of a directory on
 * that way which this process may not list (a 0711 or DynamicUser's
 * /var/lib/private); descriptors already open keep working. Also
 * confines ptrace to this process's own descendants (Landlock's scope).
 * Checked afterwards: if a hidden file can still be opened, -EPERM.
 * -EOPNOTSUPP when the kernel has no Landlock (or it is disabled).
 * Needs PR_SET_NO_NEW_PRIVS (set here) or CAP_SYS_ADMIN. */
int landlock_hide_files(const char *const *hidden);

#endif
