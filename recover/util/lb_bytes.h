/* lb_bytes.h - on-disk integers and hex, one copy for every layer.
 *
 * On-disk structures (NTFS, regf, BitLocker FVE, GPT, VHD) are read from
 * byte buffers at any alignment: lb_le16/32/64 load little-endian values
 * with memcpy and <endian.h> (one instruction on x86), lb_be32/64 the
 * big-endian ones (VHD footers); lb_put_* store them.
 *
 * Hex goes through libsodium (constant-time, so it is also the one to use
 * on key material): lb_hex writes 2n lower-case digits and a NUL into out
 * (2n+1 bytes); lb_unhex parses exactly 2*n hex digits into n bytes and
 * returns 0, or -1 on any other input. */
#ifndef LB_BYTES_H
#define LB_BYTES_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t lb_le16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline uint32_t lb_le32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t lb_le64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline uint32_t lb_be32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return be32toh(v);
}

static inline uint64_t lb_be64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

static inline void lb_put_le16(void *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void lb_put_le32(void *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static inline void lb_put_le64(void *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

/* 2n hex digits and a NUL into out (2n+1 bytes); returns out. */
char *lb_hex(const void *bin, size_t n, char *out);
/* Exactly 2n hex digits (either case) in hex -> n bytes: 0, or -1. */
int lb_unhex(const char *hex, void *bin, size_t n);
/* CRC-32 (IEEE 802.3, as zlib and BitLocker's metadata use it). */
uint32_t lb_crc32(const void *p, size_t n);

#endif
