/* lb_bitlocker.c - BitLocker FVE metadata parser (no key, no library).
 *
 * Layout (all little-endian), as seen on Windows 7..11 volumes:
 *
 *  volume header (sector 0)
 *    +0x003  "-FVE-FS-"  (BitLocker To Go: "MSWIN4.1", a FAT boot sector)
 *    +0x00B  u16 bytes per sector
 *    +0x0A0  GUID volume identifier (To Go: +0x1A8)
 *    +0x0B0  u64 x3 metadata block offsets (To Go: +0x1B8)
 *
 *  metadata block (each copy)
 *    +0   "-FVE-FS-"
 *    +8   u16 block size / 16 (version 2)
 *    +10  u16 version (2; 1 = Vista)
 *    +12  u16 current state, +14 u16 next state
 *    +16  u64 encrypted volume size
 *    +28  u32 number of boot sectors backed up
 *    +32  u64 x3 metadata block offsets
 *    +56  u64 boot sectors backup offset
 *    +64  metadata header: u32 size (from +64), u32 version (1), u32 header
 *         size (48), u32 size copy, GUID, u32 next nonce, u16 method,
 *         u16 unknown, u64 FILETIME
 *    +112 entries {u16 size, u16 entry type, u16 value type, u16 version}
 *    +block size: validation {u16, u16 version, u32 CRC32 of the block}
 *
 *  VMK entry (entry type 2, value type 8): +8 GUID, +24 FILETIME,
 *  +34 u16 protection type, nested entries from +36.
 *  Description entry: entry type 7, value type 2 (UTF-16LE).
 */
#include "lb_bitlocker.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lb_bytes.h"
#include "lb_text.h"

/* Volume identifier GUIDs (on-disk byte order). */
static const uint8_t GUID_BITLOCKER[16] = { 0x3b, 0xd6, 0x67, 0x49, 0x29, 0x2e, 0xd8, 0x4a,
                                            0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01 };
static const uint8_t GUID_EOW[16] = { 0x3b, 0x4d, 0xa8, 0x92, 0x80, 0xdd, 0x0e, 0x4d,
                                      0x9e, 0x4e, 0xb1, 0xe3, 0x28, 0x4e, 0xae, 0xd8 };

#define BLOCK_HDR 64
#define META_HDR 48
#define ENTRY_HDR 8
#define VMK_HDR 36

void lb_guid_format(const uint8_t g[16], char out[LB_GUID_STRLEN])
{
	snprintf(out, LB_GUID_STRLEN,
	         "{%08" PRIX32 "-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}",
	         lb_le32(g), lb_le16(g + 4), lb_le16(g + 6), g[8], g[9], g[10], g[11], g[12], g[13],
	         g[14], g[15]);
}

int lb_guid_canon(const char *in, char out[LB_GUID_STRLEN])
{
	static const int dash_at[] = { 8, 13, 18, 23 };
	char hex[37];
	size_t n, i;
	int d = 0;

	if (!in)
		return -1;
	while (*in == ' ' || *in == '\t')
		in++;
	n = strlen(in);
	while (n && (in[n - 1] == ' ' || in[n - 1] == '\t' || in[n - 1] == '\r' || in[n - 1] == '\n'))
		n--;
	if (n == 38 && in[0] == '{' && in[37] == '}') {
		in++;
		n = 36;
	}
	if (n != 36)
		return -1;
	for (i = 0; i < 36; i++) {
		char c = in[i];

		if (d < 4 && (int)i == dash_at[d]) {
			if (c != '-')
				return -1;
			hex[i] = '-';
			d++;
			continue;
		}
		if (c >= 'a' && c <= 'f')
			c = (char)(c - 'a' + 'A');
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
			return -1;
		hex[i] = c;
	}
	hex[36] = '\0';
	snprintf(out, LB_GUID_STRLEN, "{%s}", hex);
	return 0;
}

/* A UTF-16LE field (n bytes) as UTF-8 in out (cap bytes): lb_utf16le_to_utf8
 * (stops at NUL, unpaired surrogates become U+FFFD), then cut at a whole
 * sequence and with control characters shown as '?', since these end up in
 * report lines. */
static void utf16le_field(const uint8_t *s, size_t n, char *out, size_t cap)
{
	char *u;
	size_t o = 0, i = 0;

	if (!cap)
		return;
	out[0] = '\0';
	u = lb_utf16le_to_utf8(s, n);
	if (!u)
		return;
	while (u[i]) {
		unsigned char c = (unsigned char)u[i];
		size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;

		if (o + k + 1 > cap)
			break;
		if (k == 1 && (c < 0x20 || c == 0x7F))
			out[o] = '?';   /* no control characters in report lines */
		else
			memcpy(out + o, u + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
	free(u);
}

static enum lb_bl_protector_type protector_type(uint16_t raw)
{
	switch (raw) {
	case 0x0000: return LB_BLP_CLEAR_KEY;
	case 0x0100: return LB_BLP_TPM;
	case 0x0200: return LB_BLP_STARTUP_KEY;
	case 0x0500: return LB_BLP_TPM_PIN;
	case 0x0800: return LB_BLP_RECOVERY_PASSWORD;
	case 0x1000: return LB_BLP_SMART_CARD;
	case 0x2000: return LB_BLP_PASSWORD;
	}
	return LB_BLP_UNKNOWN;
}

const char *lb_bl_protector_type_name(enum lb_bl_protector_type t)
{
	switch (t) {
	case LB_BLP_CLEAR_KEY: return "clear_key";
	case LB_BLP_TPM: return "tpm";
	case LB_BLP_STARTUP_KEY: return "startup_key";
	case LB_BLP_TPM_PIN: return "tpm_pin";
	case LB_BLP_RECOVERY_PASSWORD: return "recovery_password";
	case LB_BLP_SMART_CARD: return "smart_card";
	case LB_BLP_PASSWORD: return "password";
	case LB_BLP_UNKNOWN: break;
	}
	return "unknown";
}

const char *lb_bl_state_name(enum lb_bl_state s)
{
	switch (s) {
	case LB_BLS_DECRYPTED: return "decrypted";
	case LB_BLS_CONVERTING: return "converting";
	case LB_BLS_EOW: return "encrypt-on-write activation";
	case LB_BLS_ENCRYPTED: return "encrypted";
	case LB_BLS_PAUSED: return "conversion paused";
	case LB_BLS_UNKNOWN: break;
	}
	return "unknown";
}

int lb_bitlocker_find_protector(const struct lb_bitlocker_info *info, const char *guid)
{
	char canon[LB_GUID_STRLEN];

	if (!info || lb_guid_canon(guid, canon))
		return -1;
	for (unsigned i = 0; i < info->n_protectors && i < LB_BITLOCKER_MAX_PROTECTORS; i++)
		if (strcmp(info->protectors[i].guid, canon) == 0)
			return (int)i;
	return -1;
}

bool lb_bitlocker_is_bitlocker(const uint8_t s[512])
{
	if (memcmp(s + 3, "-FVE-FS-", 8) == 0)
		return true;
	if (memcmp(s + 3, "MSWIN4.1", 8) == 0 &&
	    (memcmp(s + 0x1A8, GUID_BITLOCKER, 16) == 0 || memcmp(s + 0x1A8, GUID_EOW, 16) == 0))
		return true;
	return false;
}

/* ---- reader abstraction: an lb_io, a buffer or a file ---- */

struct reader {
	int (*read)(const struct reader *r, void *buf, size_t n, uint64_t off, struct lb_err *err);
	uint64_t size;
	struct lb_io *io;
	const uint8_t *buf;
	int fd;
	uint64_t base;
	const char *name;
};

static int read_io(const struct reader *r, void *buf, size_t n, uint64_t off, struct lb_err *err)
{
	return lb_io_pread(r->io, buf, n, off, err);
}

static int read_buf(const struct reader *r, void *buf, size_t n, uint64_t off, struct lb_err *err)
{
	(void)err;
	memcpy(buf, r->buf + off, n);   /* bounds checked by rd() */
	return 0;
}

static int read_fd(const struct reader *r, void *buf, size_t n, uint64_t off, struct lb_err *err)
{
	size_t done = 0;

	while (done < n) {
		ssize_t k = pread(r->fd, (uint8_t *)buf + done, n - done, (off_t)(r->base + off + done));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return lb_err_set(err, LB_EK_IO, errno, "%s: read at offset %" PRIu64, r->name,
			                  r->base + off + done);
		if (k == 0)
			return lb_err_set(err, LB_EK_INPUT, 0, "%s: unexpected end of file at %" PRIu64,
			                  r->name, r->base + off + done);
		done += (size_t)k;
	}
	return 0;
}

static int rd(const struct reader *r, void *buf, size_t n, uint64_t off, const char *what,
              struct lb_err *err)
{
	if (off > r->size || n > r->size - off)
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "BitLocker metadata damaged: %s at offset %" PRIu64
		                  " lies past the end of the volume (%" PRIu64 " bytes)",
		                  what, off, r->size);
	return r->read(r, buf, n, off, err);
}

/* ---- parsing ---- */

static int parse_vmk(const uint8_t *e, uint16_t esz, struct lb_bitlocker_info *out,
                     unsigned copy, uint32_t epos, struct lb_err *err)
{
	struct lb_bitlocker_protector *p;
	uint32_t pos = VMK_HDR;

	if (esz < VMK_HDR)
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "BitLocker metadata damaged (copy %u): key protector entry at +%" PRIu32
		                  " is %u bytes, too short", copy + 1, epos, esz);
	if (out->n_protectors >= LB_BITLOCKER_MAX_PROTECTORS)
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "BitLocker metadata damaged (copy %u): more than %d key protectors",
		                  copy + 1, LB_BITLOCKER_MAX_PROTECTORS);
	p = &out->protectors[out->n_protectors];
	memset(p, 0, sizeof(*p));
	lb_guid_format(e + 8, p->guid);
	p->modified = lb_le64(e + 24);
	p->raw_type = lb_le16(e + 34);
	p->type = protector_type(p->raw_type);
	while (pos + ENTRY_HDR <= esz) {
		uint16_t nsz = lb_le16(e + pos);

		if (nsz == 0)
			break;
		if (nsz < ENTRY_HDR || nsz > esz - pos)
			return lb_err_set(err, LB_EK_INPUT, 0,
			                  "BitLocker metadata damaged (copy %u): protector %s has a nested"
			                  " entry of bad size %u", copy + 1, p->guid, nsz);
		if (lb_le16(e + pos + 4) == 2 && !p->name[0])
			utf16le_field(e + pos + ENTRY_HDR, nsz - ENTRY_HDR, p->name, sizeof(p->name));
		pos += nsz;
	}
	if (p->type == LB_BLP_CLEAR_KEY)
		out->suspended = true;
	out->n_protectors++;
	return 0;
}

/* Checks and parses one metadata block already read into blk (blk_size + 8
 * bytes).  Fills the per-block fields of out. */
static int parse_block(const uint8_t *blk, uint32_t blk_size, const uint64_t hdr_offs[3],
                       unsigned copy, struct lb_bitlocker_info *out, struct lb_err *err)
{
	const uint8_t *m = blk + BLOCK_HDR;
	uint32_t msize = lb_le32(m), mver = lb_le32(m + 4), mhdr = lb_le32(m + 8), mcopy = lb_le32(m + 12);
	uint32_t crc_disk = lb_le32(blk + blk_size + 4), crc;
	uint32_t pos, end;

	for (int i = 0; i < 3; i++)
		if (lb_le64(blk + 32 + 8 * i) != hdr_offs[i])
			return lb_err_set(err, LB_EK_INPUT, 0,
			                  "BitLocker metadata damaged (copy %u): its copy offsets disagree"
			                  " with the volume header", copy + 1);
	if (mhdr != META_HDR || mver != 1 || msize != mcopy || msize < META_HDR ||
	    msize > blk_size - BLOCK_HDR)
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "BitLocker metadata damaged (copy %u): bad header (size %" PRIu32
		                  ", copy %" PRIu32 ", header %" PRIu32 ", version %" PRIu32
		                  ", block %" PRIu32 ")", copy + 1, msize, mcopy, mhdr, mver, blk_size);
	crc = lb_crc32(blk, blk_size);
	if (crc != crc_disk)
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "BitLocker metadata damaged (copy %u): CRC32 %08" PRIx32
		                  " does not match the stored %08" PRIx32, copy + 1, crc, crc_disk);

	out->curr_state = lb_le16(blk + 12);
	out->next_state = lb_le16(blk + 14);
	out->state = out->curr_state <= 5 ? (enum lb_bl_state)out->curr_state : LB_BLS_UNKNOWN;
	out->fully_encrypted = out->curr_state == LB_BLS_ENCRYPTED && out->next_state == LB_BLS_ENCRYPTED;
	out->volume_size = lb_le64(blk + 16);
	out->boot_backup_sectors = lb_le32(blk + 28);
	out->boot_backup_offset = lb_le64(blk + 56);
	lb_guid_format(m + 16, out->volume_guid);
	out->method = lb_le16(m + 36);
	out->created = lb_le64(m + 40);
	switch (out->method) {
	case 0x8000: out->cipher = "aes-cbc-elephant"; out->key_bits = 128; break;
	case 0x8001: out->cipher = "aes-cbc-elephant"; out->key_bits = 256; break;
	case 0x8002: out->cipher = "aes-cbc"; out->key_bits = 128; break;
	case 0x8003: out->cipher = "aes-cbc"; out->key_bits = 256; break;
	case 0x8004: out->cipher = "aes-xts"; out->key_bits = 128; break;
	case 0x8005: out->cipher = "aes-xts"; out->key_bits = 256; break;
	default: out->cipher = "unknown"; out->key_bits = 0; break;
	}

	out->n_protectors = 0;
	out->suspended = false;
	out->description[0] = '\0';
	pos = BLOCK_HDR + META_HDR;
	end = BLOCK_HDR + msize;
	while (pos + ENTRY_HDR <= end) {
		uint16_t esz = lb_le16(blk + pos), etype = lb_le16(blk + pos + 2), vtype = lb_le16(blk + pos + 4);

		if (esz == 0)
			break;
		if (esz < ENTRY_HDR || esz > end - pos)
			return lb_err_set(err, LB_EK_INPUT, 0,
			                  "BitLocker metadata damaged (copy %u): entry at +%" PRIu32
			                  " has bad size %u", copy + 1, pos, esz);
		if (etype == 2 && vtype == 8) {
			if (parse_vmk(blk + pos, esz, out, copy, pos, err))
				return -1;
		} else if (etype == 7 && vtype == 2 && !out->description[0]) {
			utf16le_field(blk + pos + ENTRY_HDR, esz - ENTRY_HDR, out->description,
			              sizeof(out->description));
		}
		pos += esz;
	}
	if (out->n_protectors == 0)
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "BitLocker metadata damaged (copy %u): no key protector found", copy + 1);
	return 0;
}

static int probe(const struct reader *r, struct lb_bitlocker_info *out, struct lb_err *err)
{
	uint8_t vh[512];
	uint8_t *blk = NULL;
	struct lb_err first;
	unsigned off_at, guid_at;
	bool parsed = false;
	unsigned valid = 0;

	memset(out, 0, sizeof(*out));
	out->cipher = "unknown";
	lb_err_clear(&first);
	if (r->size < 512)
		return lb_err_set(err, LB_EK_INPUT, 0, "not a BitLocker volume: only %" PRIu64 " bytes",
		                  r->size);
	if (rd(r, vh, sizeof(vh), 0, "volume header", err))
		return -1;
	if (memcmp(vh + 3, "-FVE-FS-", 8) == 0) {
		if (vh[0] == 0xEB && vh[1] == 0x52)
			return lb_err_set(err, LB_EK_INPUT, 0,
			                  "BitLocker from Windows Vista (metadata version 1) is not supported");
		off_at = 0xB0;
		guid_at = 0xA0;
	} else if (lb_bitlocker_is_bitlocker(vh)) {
		out->to_go = true;
		off_at = 0x1B8;
		guid_at = 0x1A8;
	} else {
		return lb_err_set(err, LB_EK_INPUT, 0, "not a BitLocker volume (no -FVE-FS- signature)");
	}
	out->encrypt_on_write = memcmp(vh + guid_at, GUID_EOW, 16) == 0;
	out->sector_size = lb_le16(vh + 0x0B);
	if (out->sector_size != 512 && out->sector_size != 1024 && out->sector_size != 2048 &&
	    out->sector_size != 4096)
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "BitLocker volume header damaged: sector size %u", out->sector_size);
	for (int i = 0; i < 3; i++)
		out->metadata_offset[i] = lb_le64(vh + off_at + 8 * i);

	blk = malloc(LB_BITLOCKER_FVE_BLOCK_MAX + 8);
	if (!blk)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "BitLocker probe");
	for (unsigned c = 0; c < 3; c++) {
		struct lb_err e;
		struct lb_bitlocker_info tmp;
		uint64_t off = out->metadata_offset[c];
		uint32_t blk_size;
		uint16_t ver;

		lb_err_clear(&e);
		if (off < 512 || off % 512) {
			lb_err_set(&e, LB_EK_INPUT, 0,
			           "BitLocker metadata damaged: copy %u offset %" PRIu64 " is invalid",
			           c + 1, off);
			goto bad;
		}
		if (rd(r, blk, BLOCK_HDR, off, "metadata block", &e))
			goto bad;
		if (memcmp(blk, "-FVE-FS-", 8) != 0) {
			lb_err_set(&e, LB_EK_INPUT, 0,
			           "BitLocker metadata damaged: copy %u has no -FVE-FS- signature", c + 1);
			goto bad;
		}
		ver = lb_le16(blk + 10);
		if (ver != 2) {
			if (ver == 1)
				lb_err_set(&e, LB_EK_INPUT, 0,
				           "BitLocker metadata version 1 (Windows Vista) is not supported");
			else
				lb_err_set(&e, LB_EK_INPUT, 0,
				           "BitLocker metadata damaged: copy %u has unknown version %u",
				           c + 1, ver);
			goto bad;
		}
		blk_size = (uint32_t)lb_le16(blk + 8) * 16u;
		if (blk_size < BLOCK_HDR + META_HDR || blk_size > LB_BITLOCKER_FVE_BLOCK_MAX) {
			lb_err_set(&e, LB_EK_INPUT, 0,
			           "BitLocker metadata damaged: copy %u has block size %" PRIu32, c + 1,
			           blk_size);
			goto bad;
		}
		if (rd(r, blk, blk_size + 8, off, "metadata block", &e))
			goto bad;
		memcpy(&tmp, out, sizeof(tmp));
		if (parse_block(blk, blk_size, out->metadata_offset, c, &tmp, &e))
			goto bad;
		valid |= 1u << c;
		if (!parsed) {
			memcpy(out, &tmp, sizeof(*out));
			out->metadata_used = c;
			parsed = true;
		}
		continue;
bad:
		if (e.kind == LB_EK_IO) {
			free(blk);
			*err = e;
			return -1;
		}
		if (first.kind == LB_EK_NONE)
			first = e;
	}
	free(blk);
	if (!parsed) {
		if (err)
			*err = first;
		return lb_err_wrap(err, "all three metadata copies are bad, first");
	}
	out->metadata_valid = valid;
	return 0;
}

int lb_bitlocker_probe(struct lb_io *io, struct lb_bitlocker_info *out, struct lb_err *err)
{
	struct reader r = { .read = read_io, .size = io->size, .io = io, .fd = -1, .name = io->name };
	int rc = probe(&r, out, err);

	if (rc && err && err->kind != LB_EK_IO)
		lb_err_wrap(err, "%s", io->name);
	return rc;
}

int lb_bitlocker_probe_buffer(const uint8_t *buf, size_t len, struct lb_bitlocker_info *out,
                              struct lb_err *err)
{
	struct reader r = { .read = read_buf, .size = len, .buf = buf, .fd = -1, .name = "buffer" };

	return probe(&r, out, err);
}

/* Size of a regular file or block device. */
static int fd_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st))
		return -1;
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, size) ? -1 : 0;
	*size = (uint64_t)st.st_size;
	return 0;
}

int lb_bitlocker_probe_file(const char *path, uint64_t offset, uint64_t size,
                            struct lb_bitlocker_info *out, struct lb_err *err)
{
	struct reader r = { .read = read_fd, .name = path };
	uint64_t fsize;
	int rc;

	r.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r.fd < 0)
		return lb_err_set(err, LB_EK_IO, errno, "%s: open", path);
	if (fd_size(r.fd, &fsize)) {
		rc = lb_err_set(err, LB_EK_IO, errno, "%s: size", path);
		close(r.fd);
		return rc;
	}
	if (offset > fsize || (size && size > fsize - offset)) {
		close(r.fd);
		return lb_err_set(err, LB_EK_INPUT, 0,
		                  "%s: region at %" PRIu64 " (+%" PRIu64 ") lies past the end (%" PRIu64
		                  " bytes)", path, offset, size, fsize);
	}
	r.base = offset;
	r.size = size ? size : fsize - offset;
	rc = probe(&r, out, err);
	close(r.fd);
	if (rc && err && err->kind != LB_EK_IO)
		lb_err_wrap(err, "%s", path);
	return rc;
}
