/* fuzz_common.h - helpers shared by the fuzz targets (header-only).
 *
 * Disk-shaped inputs use a small "sparse image" encoding so that a seed for
 * a 100 MiB BitLocker volume or a 2 MiB NTFS volume is a few dozen KiB and
 * the fuzzer mutates metadata rather than acres of zeros:
 *
 *   "LBSP"  u64 virtual size (bit 62: leave checksums alone, see below)
 *   then records until the end of the input:
 *     u64 offset, u32 len
 *       len & 0x80000000: a fill record, followed by 1 byte, repeated
 *                         (len & 0x7fffffff) times
 *       otherwise:        len bytes of data follow (cut at the input's end)
 *   (all little-endian; everything not covered reads as zeros)
 *
 * An input without the "LBSP" magic is a raw image, used as is.  The image
 * is materialised in a memfd (sparse on shmem) and handed to the code under
 * test as /proc/self/fd/N, so nothing is written to disk and parallel
 * fuzzers never collide.  tests/fuzz/lb-fuzz-pack converts both ways. */
#ifndef LB_FUZZ_COMMON_H
#define LB_FUZZ_COMMON_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define LBF_MAGIC "LBSP"
#define LBF_MAX_SIZE (1ull << 30)      /* largest virtual image: 1 GiB */
#define LBF_MAX_FILL (16u << 20)       /* at most 16 MiB of fill records per input */
#define LBF_FILL_FLAG 0x80000000u
#define LBF_NOFIX_FLAG (1ull << 62)    /* in the size field: no checksum re-sealing */
#define LBF_SIZE_MASK (LBF_NOFIX_FLAG - 1)

static inline uint32_t lbf_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t lbf_le64(const uint8_t *p)
{
	return (uint64_t)lbf_le32(p) | (uint64_t)lbf_le32(p + 4) << 32;
}

static inline int lbf_is_sparse(const uint8_t *d, size_t n)
{
	return n >= 12 && memcmp(d, LBF_MAGIC, 4) == 0;
}

static inline int lbf_pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Writes the image an input describes into fd (truncated first).  Returns
 * 0, or -1 if the input is unusable (the caller just returns). */
static inline int lbf_materialise(int fd, const uint8_t *d, size_t n)
{
	static uint8_t fill[65536];
	uint64_t size, filled = 0;
	size_t pos = 12;

	if (ftruncate(fd, 0) < 0)
		return -1;
	if (!lbf_is_sparse(d, n))
		return lbf_pwrite_all(fd, d, n, 0);
	size = lbf_le64(d + 4) & LBF_SIZE_MASK;
	if (size > LBF_MAX_SIZE)
		size = LBF_MAX_SIZE;
	if (ftruncate(fd, (off_t)size) < 0)
		return -1;
	while (pos + 12 <= n) {
		uint64_t off = lbf_le64(d + pos);
		uint32_t len = lbf_le32(d + pos + 8);

		pos += 12;
		if (len & LBF_FILL_FLAG) {
			uint64_t want;

			if (pos >= n)
				break;
			want = len & ~LBF_FILL_FLAG;
			memset(fill, d[pos++], sizeof(fill));
			if (off >= size)
				continue;
			if (want > size - off)
				want = size - off;
			if (want > LBF_MAX_FILL - filled)
				want = LBF_MAX_FILL - filled;
			filled += want;
			while (want) {
				size_t k = want > sizeof(fill) ? sizeof(fill) : (size_t)want;

				if (lbf_pwrite_all(fd, fill, k, off) < 0)
					return -1;
				off += k;
				want -= k;
			}
		} else {
			size_t k = len > n - pos ? n - pos : len;
			const uint8_t *src = d + pos;

			pos += k;
			if (off >= size)
				continue;
			if (k > size - off)
				k = (size_t)(size - off);
			if (lbf_pwrite_all(fd, src, k, off) < 0)
				return -1;
		}
	}
	return 0;
}

/* One memfd per process, reused for every input. */
static inline int lbf_memfd(char path[64])
{
	static int fd = -1;

	if (fd < 0)
		fd = memfd_create("lb-fuzz", MFD_CLOEXEC);
	if (fd >= 0 && path)
		snprintf(path, 64, "/proc/self/fd/%d", fd);
	return fd;
}

/* The input as a memfd image; path receives its name.  -1 if unusable. */
static inline int lbf_image(const uint8_t *d, size_t n, char path[64])
{
	int fd;

	/* a container's magic is refused, not served by a qemu-nbd per input
	 * (lb_source_nbd.c: an empty LB_QEMU_NBD disables it) */
	setenv("LB_QEMU_NBD", "", 0);
	fd = lbf_memfd(path);

	if (fd < 0 || lbf_materialise(fd, d, n) < 0)
		return -1;
	return fd;
}

/* ---- BitLocker: re-seal the FVE metadata blocks after mutation ----------
 * Each metadata block ends with a CRC32 (IEEE) over the block; a mutated
 * block almost never matches it, which keeps the fuzzer at the CRC check.
 * These recompute the CRC of each of the three copies the volume header
 * points at (when the block header is plausible), so the parser behind the
 * check is reached.  Nothing else is changed. */

static inline uint32_t lbf_crc32(const uint8_t *p, size_t n)
{
	static uint32_t table[256];
	uint32_t c = 0xFFFFFFFFu;

	if (!table[1])
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;

			for (int k = 0; k < 8; k++)
				v = v & 1 ? 0xEDB88320u ^ (v >> 1) : v >> 1;
			table[i] = v;
		}
	for (size_t i = 0; i < n; i++)
		c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

/* Offset of the three metadata offsets in a volume header, 0 if none. */
static inline unsigned lbf_fve_offsets_at(const uint8_t vh[512])
{
	if (memcmp(vh + 3, "-FVE-FS-", 8) == 0)
		return 0xB0;
	if (memcmp(vh + 3, "MSWIN4.1", 8) == 0)
		return 0x1B8;            /* BitLocker To Go */
	return 0;
}

static inline void lbf_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void lbf_put64(uint8_t *p, uint64_t v)
{
	lbf_put32(p, (uint32_t)v);
	lbf_put32(p + 4, (uint32_t)(v >> 32));
}

/* On a volume held in memory. */
static inline void lbf_fve_reseal_buf(uint8_t *v, size_t n)
{
	unsigned at;

	if (n < 512 || !(at = lbf_fve_offsets_at(v)))
		return;
	for (int c = 0; c < 3; c++) {
		uint64_t off = lbf_le64(v + at + 8 * c);
		uint32_t bs;

		if (off < 512 || off > n || n - off < 16 || memcmp(v + off, "-FVE-FS-", 8) != 0)
			continue;
		bs = (uint32_t)(v[off + 8] | v[off + 9] << 8) * 16u;
		if (bs < 112 || bs > 65536 || n - off < (uint64_t)bs + 8)
			continue;
		lbf_put32(v + off + bs + 4, lbf_crc32(v + off, bs));
	}
}

/* On a volume at byte base of fd (size bytes long). */
static inline void lbf_fve_reseal_fd(int fd, uint64_t base, uint64_t size)
{
	static uint8_t blk[65536 + 8];
	uint8_t vh[512];
	unsigned at;

	if (size < 512 || pread(fd, vh, 512, (off_t)base) != 512 || !(at = lbf_fve_offsets_at(vh)))
		return;
	for (int c = 0; c < 3; c++) {
		uint64_t off = lbf_le64(vh + at + 8 * c);
		uint32_t bs;
		uint8_t crc[4];

		if (off < 512 || off > size || size - off < 16 ||
		    pread(fd, blk, 16, (off_t)(base + off)) != 16 || memcmp(blk, "-FVE-FS-", 8) != 0)
			continue;
		bs = (uint32_t)(blk[8] | blk[9] << 8) * 16u;
		if (bs < 112 || bs > 65536 || size - off < (uint64_t)bs + 8 ||
		    pread(fd, blk, bs, (off_t)(base + off)) != (ssize_t)bs)
			continue;
		lbf_put32(crc, lbf_crc32(blk, bs));
		lbf_pwrite_all(fd, crc, 4, base + off + bs + 4);
	}
}

#endif
