/* lb_bitlocker_vmk.c - the VMK of any recovery protector (contracts in
 * lb_bitlocker_vmk.h).
 *
 * FVE metadata block (the copy the probe validated): a 64-byte block
 * header, then the metadata header (u32 size of header + datums, u32
 * version, u32 header size = 48, ...), then datums.  A datum starts with
 * u16 size, u16 entry type, u16 value type, u16 version.  A VMK datum
 * (value type 8) holds the protector GUID at +8 and its protection type
 * (u16) at +34, then nested datums: for a recovery password a stretch-key
 * datum (value type 3: u16 algorithm, u16 padding, 16-byte salt) and an
 * AES-CCM datum (value type 5) wrapping the VMK. */
#include "lb_bitlocker_vmk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "lb_bytes.h"

#define FVE_BLOCK_HDR 64
#define DATUM_HDR 8
#define VT_STRETCH_KEY 3
#define VT_AES_CCM 5
#define VT_VMK 8
#define VMK_GUID_OFF 8
#define VMK_PROT_OFF 34
#define VMK_FIXED 36      /* a VMK datum's own fields, before its nested datums */
#define STRETCH_SALT_OFF 12
#define KEY_DATUM_HDR 12  /* datum header, u16 algorithm, u16 padding */
#define PROT_RP_MIN 0x800
#define PROT_RP_MAX 0xfff

static int read_block(const char *path, uint64_t off, uint8_t *buf, size_t n,
                      struct lb_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return lb_err_set(err, LB_EK_IO, errno, "%s", path);
	r = pread(fd, buf, n, (off_t)off);
	close(fd);
	if (r < (ssize_t)(FVE_BLOCK_HDR + 48))
		return lb_err_set(err, r < 0 ? LB_EK_IO : LB_EK_INPUT, r < 0 ? errno : 0,
		                  "%s: BitLocker metadata at %llu cannot be read", path,
		                  (unsigned long long)off);
	return (int)r;
}

/* One recovery protector's VMK datum: stretch rp with its salt, unwrap. */
static int try_vmk(const struct lb_bl_vmk_fns *f, uint8_t *datum, const char *rp,
                   uint8_t vmk[LB_BL_VMK_LEN])
{
	void *stretch = NULL, *ccm = NULL, *out;
	uint8_t key[32];
	int ok = 0;

	if (!f->get_nested_datumvaluetype(datum, VT_STRETCH_KEY, &stretch) || !stretch ||
	    !f->get_nested_datumvaluetype(datum, VT_AES_CCM, &ccm) || !ccm)
		return 0;
	if (!f->intermediate_key((const uint8_t *)rp, (uint8_t *)stretch + STRETCH_SALT_OFF, key))
		return 0;
	out = ccm; /* get_vmk prints *out at debug level before replacing it */
	if (f->get_vmk(ccm, key, sizeof(key), &out) && out && out != ccm &&
	    lb_le16((uint8_t *)out) == KEY_DATUM_HDR + LB_BL_VMK_LEN) {
		memcpy(vmk, (uint8_t *)out + KEY_DATUM_HDR, LB_BL_VMK_LEN);
		ok = 1;
	}
	if (out && out != ccm) {
		sodium_memzero(out, lb_le16((uint8_t *)out));
		f->dis_free(out);
	}
	sodium_memzero(key, sizeof(key));
	return ok;
}

int lb_bl_vmk_from_rp(const struct lb_bl_vmk_fns *f, const char *path, uint64_t offset,
                      const struct lb_bitlocker_info *info, const char *rp,
                      uint8_t vmk[LB_BL_VMK_LEN], struct lb_err *err)
{
	uint8_t *buf = malloc(LB_BITLOCKER_FVE_BLOCK_MAX);
	uint32_t size, hsize, pos, end;
	int n, found = -1;

	if (!buf)
		return lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "%s: BitLocker metadata", path);
	n = read_block(path, offset + info->metadata_offset[info->metadata_used], buf,
	               LB_BITLOCKER_FVE_BLOCK_MAX, err);
	if (n < 0)
		goto out;
	size = lb_le32(buf + FVE_BLOCK_HDR);
	hsize = lb_le32(buf + FVE_BLOCK_HDR + 8);
	end = FVE_BLOCK_HDR + size;
	if (hsize < 48 || size < hsize || end > (uint32_t)n) {
		lb_err_set(err, LB_EK_INPUT, 0, "%s: BitLocker metadata sizes out of bounds", path);
		goto out;
	}
	for (pos = FVE_BLOCK_HDR + hsize; pos + DATUM_HDR <= end && found < 0;) {
		uint16_t dsize = lb_le16(buf + pos), prot;
		char guid[LB_GUID_STRLEN];
		int idx;

		if (dsize < DATUM_HDR || pos + dsize > end)
			break;
		prot = dsize >= VMK_FIXED ? lb_le16(buf + pos + VMK_PROT_OFF) : 0;
		if (lb_le16(buf + pos + 4) == VT_VMK && dsize > VMK_FIXED && prot >= PROT_RP_MIN &&
		    prot <= PROT_RP_MAX) {
			lb_guid_format(buf + pos + VMK_GUID_OFF, guid);
			idx = lb_bitlocker_find_protector(info, guid);
			if (idx >= 0 && try_vmk(f, buf + pos, rp, vmk))
				found = idx;
		}
		pos += dsize;
	}
	if (found < 0)
		lb_err_set(err, LB_EK_REFUSED, 0, "wrong recovery password for every recovery "
		           "protector of the volume");
out:
	sodium_memzero(buf, LB_BITLOCKER_FVE_BLOCK_MAX);
	free(buf);
	return found;
}
