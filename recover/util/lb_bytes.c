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

uint32_t lb_crc32(const void *p, size_t n)
{
	uLong c = crc32(0L, Z_NULL, 0);

	while (n) {
		uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;

		c = crc32(c, p, k);
		p = (const uint8_t *)p + k;
		n -= k;
	}
	return (uint32_t)c;
}
