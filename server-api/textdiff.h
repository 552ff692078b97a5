/* server-api/textdiff.h — a unified diff of two texts, line by line
 * (mamori-server, admin listener: what an approver is shown, issue 17.11). */
#ifndef MAMORI_TEXTDIFF_H
#define MAMORI_TEXTDIFF_H

#include <stddef.h>

/* A unified diff (diff -u) from a to b, labelled a_label/b_label, as one hunk
 * that holds the whole of both texts (every line, changed or not: the reader
 * sees the whole document, `patch` applies it). Lines compare with their
 * line ends; a last line without one is marked "\ No newline at end of file".
 * The smallest edit (longest common subsequence) when lines(a)·lines(b) ≤
 * TEXTDIFF_CELLS_MAX, else every line of a removed and every line of b added
 * (still exact). Identical texts: the two header lines only (no hunk, as
 * diff -u). *ret: malloc'd, NUL-terminated. 0 or -ENOMEM/-EINVAL. */
#define TEXTDIFF_CELLS_MAX (4u * 1024 * 1024)
int textdiff_unified(const char *a, size_t a_len, const char *b, size_t b_len, const char *a_label, const char *b_label,
                     char **ret);

#endif
