/* lb_bytes.c - hex through libsodium, CRC-32 through zlib. */
#include "lb_bytes.h"

#include <sodium.h>
#include <zlib.h>

char *lb_hex(const void *bin, size_t n, char *out)
{
	return sodium_bin2hex(out, 2 * n + 1, bin, n);
}

int lb_unhex(const char *hex, void *bin, size_t n)
{
	size_t got = 0;
	const char *end = NULL;

	if (strlen(hex) != 2 * n)
		return -1;
	if (sodium_hex2bin(bin, n, hex, 2 * n, NULL, &got, &end) != 0 || got != n || *end)
		return -1;
	return 0;
}

/* crc32_z, not crc32: libdislocker exports a crc32() of its own (another
 * signature), and in a process that loads it first, a call to crc32 binds
 * to that one (the linker even drops libz as unneeded).  crc32_z (zlib
 * 1.2.9+) is zlib's alone and takes a size_t length. */
uint32_t lb_crc32(const void *p, size_t n)
{
	return (uint32_t)crc32_z(0, p, n);
}
