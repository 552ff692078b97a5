/* common/alloc-util.h — scope-bound cleanup helpers (any process).
 *
 * `_cleanup_free_ char *p = NULL;` frees p when it leaves scope; TAKE_PTR(p)
 * hands ownership to the caller and leaves NULL behind. Every destructor
 * accepts NULL. Utility code: never logs. */
#ifndef MAMORI_ALLOC_UTIL_H
#define MAMORI_ALLOC_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

#define TAKE_PTR(p)                                                                                                    \
	({                                                                                                             \
		__typeof__(p) _ptr_ = (p);                                                                             \
		(p) = NULL;                                                                                            \
		_ptr_;                                                                                                 \
	})

#define TAKE_FD(fd)                                                                                                    \
	({                                                                                                             \
		int _fd_ = (fd);                                                                                       \
		(fd) = -1;                                                                                             \
		_fd_;                                                                                                  \
	})

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void strv_free(char **v)
{
	if (!v)
		return;
	for (char **s = v; *s; s++)
		free(*s);
	free(v);
}

static inline void strv_freep(char ***v)
{
	strv_free(*v);
}

#define _cleanup_free_      _cleanup_(freep)
#define _cleanup_close_     _cleanup_(closep)
#define _cleanup_fclose_    _cleanup_(fclosep)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Define a `_cleanup_(name##p)` helper for a library type whose destructor
 * takes the pointer (cJSON_Delete, EVP_PKEY_free, udev_unref, ...). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                                        \
	static inline void func##p(type *p)                                                                            \
	{                                                                                                              \
		if (*p)                                                                                                \
			func(*p);                                                                                      \
	}

#endif
