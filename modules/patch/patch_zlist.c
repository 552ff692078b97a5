/* modules/patch/patch_zlist.c — decompressing streams of apt lists: zlib,
 * liblzma, liblz4 behind fopencookie (mamori-worker's posture pass child,
 * mamorictl check). PATCH-1. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lz4frame.h>
#include <lzma.h>
#include <zlib.h>

#include "patch_zlist.h"

#define ZIN_BUF (64 * 1024)

bool patch_zlist_name(const char *name, enum patch_zkind *kind)
{
	static const struct {
		const char *ext;
		enum patch_zkind kind;
	} exts[] = {{"", PATCH_Z_NONE}, {".gz", PATCH_Z_GZ}, {".xz", PATCH_Z_XZ}, {".lz4", PATCH_Z_LZ4}};
	const char *p = strstr(name, "_Packages");

	/* the last "_Packages" (a mirror path could contain the word) */
	while (p && strstr(p + 1, "_Packages"))
		p = strstr(p + 1, "_Packages");
	if (!p || p == name)
		return false;
	p += strlen("_Packages");
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (!strcmp(p, exts[i].ext)) {
			*kind = exts[i].kind;
			return true;
		}
	if (*p != '.')
		return false; /* "_PackagesFoo": not a list */
	*kind = PATCH_Z_UNSUPPORTED;
	return true;
}

struct zr {
	enum patch_zkind kind;
	int fd;
	gzFile gz;
	lzma_stream xz;
	LZ4F_dctx *lz4;
	size_t lz4_hint; /* 0: a frame just ended */
	uint8_t *in;
	size_t in_pos, in_len;
	bool in_eof, done;
};

static int zr_fill(struct zr *z)
{
	ssize_t n;

	if (z->in_pos < z->in_len || z->in_eof)
		return 0;
	do
		n = read(z->fd, z->in, ZIN_BUF);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	z->in_pos = 0;
	z->in_len = (size_t)n;
	z->in_eof = n == 0;
	return 0;
}

static ssize_t zr_read_xz(struct zr *z, char *buf, size_t size)
{
	z->xz.next_out = (uint8_t *)buf;
	z->xz.avail_out = size;
	while (z->xz.avail_out == size && !z->done) {
		lzma_ret ret;
		if (zr_fill(z) < 0)
			return -1;
		z->xz.next_in = z->in + z->in_pos;
		z->xz.avail_in = z->in_len - z->in_pos;
		ret = lzma_code(&z->xz, z->in_eof ? LZMA_FINISH : LZMA_RUN);
		z->in_pos = z->in_len - z->xz.avail_in;
		if (ret == LZMA_STREAM_END)
			z->done = true;
		else if (ret != LZMA_OK || (z->in_eof && z->xz.avail_out == size)) {
			errno = EBADMSG; /* corrupt, or truncated */
			return -1;
		}
	}
	return (ssize_t)(size - z->xz.avail_out);
}

static ssize_t zr_read_lz4(struct zr *z, char *buf, size_t size)
{
	size_t out = 0;

	while (out == 0 && !z->done) {
		size_t in_sz, out_sz = size - out;
		if (zr_fill(z) < 0)
			return -1;
		if (z->in_eof) {
			if (z->lz4_hint != 0) {
				errno = EBADMSG; /* the frame never ended */
				return -1;
			}
			z->done = true;
			break;
		}
		in_sz = z->in_len - z->in_pos;
		z->lz4_hint = LZ4F_decompress(z->lz4, buf + out, &out_sz, z->in + z->in_pos, &in_sz, NULL);
		if (LZ4F_isError(z->lz4_hint)) {
			errno = EBADMSG;
			return -1;
		}
		z->in_pos += in_sz;
		out += out_sz;
	}
	return (ssize_t)out;
}

static ssize_t zr_read(void *cookie, char *buf, size_t size)
{
	struct zr *z = cookie;

	if (size > INT32_MAX)
		size = INT32_MAX;
	switch (z->kind) {
	case PATCH_Z_GZ: {
		int n = gzread(z->gz, buf, (unsigned)size);
		int zerr = Z_OK;
		if (n < 0 || (n == 0 && (gzerror(z->gz, &zerr), zerr != Z_OK))) {
			errno = EBADMSG;
			return -1;
		}
		return n;
	}
	case PATCH_Z_XZ:
		return zr_read_xz(z, buf, size);
	case PATCH_Z_LZ4:
		return zr_read_lz4(z, buf, size);
	default:
		errno = EINVAL;
		return -1;
	}
}

static int zr_close(void *cookie)
{
	struct zr *z = cookie;

	if (z->gz)
		gzclose(z->gz); /* closes the fd */
	else if (z->fd >= 0)
		close(z->fd);
	lzma_end(&z->xz);
	if (z->lz4)
		LZ4F_freeDecompressionContext(z->lz4);
	free(z->in);
	free(z);
	return 0;
}

FILE *patch_zlist_open(const char *path, enum patch_zkind kind)
{
	static const cookie_io_functions_t io = {.read = zr_read, .close = zr_close};
	struct zr *z;
	FILE *f;
	int fd;

	if (kind == PATCH_Z_NONE)
		return fopen(path, "re");
	if (kind != PATCH_Z_GZ && kind != PATCH_Z_XZ && kind != PATCH_Z_LZ4) {
		errno = ENOTSUP;
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return NULL;
	z = calloc(1, sizeof(*z));
	if (!z) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	z->kind = kind;
	z->fd = fd;
	z->xz = (lzma_stream)LZMA_STREAM_INIT;
	if (kind == PATCH_Z_GZ) {
		z->gz = gzdopen(fd, "rb");
		if (!z->gz)
			goto fail;
	} else {
		z->in = malloc(ZIN_BUF);
		if (!z->in)
			goto fail;
		if (kind == PATCH_Z_XZ && lzma_stream_decoder(&z->xz, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK)
			goto fail;
		if (kind == PATCH_Z_LZ4 && LZ4F_isError(LZ4F_createDecompressionContext(&z->lz4, LZ4F_VERSION)))
			goto fail;
		z->lz4_hint = 1;
	}
	f = fopencookie(z, "r", io);
	if (f)
		return f;
fail:
	zr_close(z);
	errno = ENOMEM;
	return NULL;
}
