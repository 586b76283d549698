/* test_bitlocker_unlock.c - unlocking the Windows-made bitlk-images with
 * every credential in images.conf through libdislocker, refusals, and an
 * end-to-end write through the decrypting layer on copies.
 *
 * Decryption is checked for real: the images keep the encrypted backup of
 * the original boot sector, so a right key must show a boot sector (55 AA,
 * "NTFS    " for fixed volumes) at offset 0 of the decrypted volume. */
#include "lbtest.h"
#include "lb_bitlocker.h"
#include "lb_io.h"

#include <errno.h>
#include <fcntl.h>
#include <ctype.h>
#include <locale.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bitlk_images.h"


static const char *copy_img(const char *name, char *buf, size_t n)
{
	char src[1024], cmd[4096];

	snprintf(buf, n, "%.500s/%.200s-copy.img", g_dir, name);
	snprintf(cmd, sizeof(cmd), "cp --sparse=always '%s' '%s'", img_path(name, src, sizeof(src)), buf);
	REQUIRE(system(cmd) == 0);
	return buf;
}

static uint64_t file_hash(const char *path)
{
	static uint64_t buf[1 << 17];
	uint64_t h = 1469598103934665603ull;
	int fd = open(path, O_RDONLY);
	ssize_t k;

	REQUIRE(fd >= 0);
	while ((k = read(fd, buf, sizeof(buf))) > 0) {
		REQUIRE(k % 8 == 0);
		for (ssize_t i = 0; i < k / 8; i++)
			h = (h ^ buf[i]) * 1099511628211ull;
	}
	close(fd);
	return h;
}

/* Opens, checks the decrypted boot sector, closes.  Returns 0 on success. */
static int try_unlock(const char *img, enum lb_bitlocker_key_kind kind, const char *secret,
                      const char *want_guid, struct lb_err *err)
{
	struct lb_bitlocker_key key = { kind, secret };
	char path[1024], used[LB_GUID_STRLEN], canon[LB_GUID_STRLEN];
	uint8_t s0[512];
	struct lb_io *io;

	lb_err_clear(err);
	io = lb_bitlocker_open2(img_path(img, path, sizeof(path)), 0, 0, &key, false, used, err);
	if (!io)
		return -1;
	CHECK(io->size >= 64 << 20);
	CHECK(!io->writable);
	CHECK(lb_io_pread(io, s0, sizeof(s0), 0, err) == 0);
	CHECK(s0[510] == 0x55 && s0[511] == 0xAA);
	if (strstr(img, "togo"))
		CHECK(memcmp(s0 + 3, "MSWIN4.1", 8) != 0 && memcmp(s0 + 3, "-FVE-FS-", 8) != 0);
	else
		CHECK(memcmp(s0 + 3, "NTFS    ", 8) == 0);
	if (want_guid) {
		REQUIRE(lb_guid_canon(want_guid, canon) == 0);
		CHECK_EQ_STR(used, canon);
	}
	{   /* read-only layer refuses writes */
		struct lb_err e2;
		CHECK(lb_io_pwrite(io, s0, 512, 4096, &e2) == -1);
	}
	lb_io_close(io);
	return 0;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = (uint8_t)(seed >> 24);
	}
}

/* Writes patterns through a writable layer on a copy, re-opens with a
 * different credential and reads them back; the raw file must hold
 * ciphertext, not the pattern. */
static void e2e(const struct img *m)
{
	char copy[1024];
	struct lb_bitlocker_key rp = { LB_BLK_RECOVERY_PASSWORD, img_get(m, "RP") };
	struct lb_bitlocker_key pw = { LB_BLK_PASSWORD, img_get(m, "PW") };
	struct lb_bitlocker_info bi;
	struct lb_err err;
	struct lb_io *io;
	uint64_t offs[5];
	size_t lens[5] = { 512, 4096, 3000, 65536 + 7, 8192 };
	uint8_t *pat[5], *got, *raw;
	int fd;

	copy_img(m->name, copy, sizeof(copy));
	REQUIRE(lb_bitlocker_probe_file(copy, 0, 0, &bi, &err) == 0);
	offs[0] = 0;                           /* boot sector: dislocker redirects it */
	offs[1] = 1 << 20;
	offs[2] = (5 << 20) + 17;              /* unaligned both ends */
	offs[3] = (20 << 20) + 511;
	offs[4] = bi.volume_size - 8192;       /* last sectors */
	got = malloc(1 << 17);
	raw = malloc(1 << 17);
	REQUIRE(got && raw);

	lb_err_clear(&err);
	io = lb_bitlocker_open(copy, 0, 0, &rp, true, &err);
	if (!io)
		fprintf(stderr, "%s: %s\n", m->name, err.msg);
	REQUIRE(io);
	CHECK(io->writable);
	CHECK_EQ_INT(io->sector_size, bi.sector_size);
	for (int i = 0; i < 5; i++) {
		pat[i] = malloc(lens[i]);
		REQUIRE(pat[i]);
		fill(pat[i], lens[i], (uint32_t)(i + 1) * 7919u);
		if (i == 0) {   /* keep it a boot sector so the volume stays recognisable */
			REQUIRE(lb_io_pread(io, pat[0], 512, 0, &err) == 0);
			memcpy(pat[0] + 0x1C0, "loopbreaker-e2e", 15);
		}
		lb_err_clear(&err);
		CHECK(lb_io_pwrite(io, pat[i], lens[i], offs[i], &err) == 0);
		if (err.kind)
			fprintf(stderr, "%s: write %d: %s\n", m->name, i, err.msg);
		CHECK(lb_io_pread(io, got, lens[i], offs[i], &err) == 0);
		CHECK(memcmp(got, pat[i], lens[i]) == 0);
	}
	/* a write over a metadata block is refused and changes nothing */
	lb_err_clear(&err);
	CHECK(lb_io_pwrite(io, pat[1], 4096, bi.metadata_offset[1], &err) == -1);
	CHECK(err.sys_errno == EPERM);
	CHECK(lb_io_sync(io, &err) == 0);
	lb_io_close(io);
	REQUIRE(lb_bitlocker_probe_file(copy, 0, 0, &bi, &err) == 0);
	CHECK_EQ_INT(bi.metadata_valid, 7);

	/* re-open with the password, read back */
	io = lb_bitlocker_open(copy, 0, 0, &pw, false, &err);
	if (!io)
		fprintf(stderr, "%s: reopen: %s\n", m->name, err.msg);
	REQUIRE(io);
	for (int i = 0; i < 5; i++) {
		CHECK(lb_io_pread(io, got, lens[i], offs[i], &err) == 0);
		CHECK(memcmp(got, pat[i], lens[i]) == 0);
	}
	lb_io_close(io);

	/* raw file: ciphertext, never the pattern; sector 0 still BitLocker */
	fd = open(copy, O_RDONLY);
	REQUIRE(fd >= 0);
	for (int i = 1; i < 5; i++) {
		REQUIRE(pread(fd, raw, lens[i], (off_t)offs[i]) == (ssize_t)lens[i]);
		CHECK(memcmp(raw, pat[i], lens[i]) != 0);
		{
			size_t same = 0;
			for (size_t k = 0; k < lens[i]; k++)
				same += raw[k] == pat[i][k];
			CHECK(same < lens[i] / 16);   /* not even partly plaintext */
		}
	}
	REQUIRE(pread(fd, raw, 512, 0) == 512);
	CHECK(memcmp(raw + 3, bi.to_go ? "MSWIN4.1" : "-FVE-FS-", 8) == 0);
	REQUIRE(pread(fd, raw, 512, (off_t)bi.boot_backup_offset) == 512);
	CHECK(memcmp(raw, pat[0], 512) != 0);
	close(fd);
	for (int i = 0; i < 5; i++)
		free(pat[i]);
	free(got);
	free(raw);
	unlink(copy);
}

int main(void)
{
	struct img imgs[MAXIMG];
	struct lb_err err;
	char conf[1024], path[1024], bek[1024];
	const char *loc_before;
	char loc_saved[128];
	int n, unlocked = 0;

	extract("unlock");
	snprintf(conf, sizeof(conf), "%.500s/images.conf", g_dir);
	n = load_conf(conf, imgs);
	REQUIRE(n == 21);
	loc_before = setlocale(LC_ALL, NULL);
	snprintf(loc_saved, sizeof(loc_saved), "%s", loc_before ? loc_before : "");

	/* every credential of every image */
	for (int i = 0; i < n; i++) {
		const struct img *m = &imgs[i];
		const char *rp = img_get(m, "RP"), *pw = img_get(m, "PW"), *rp2 = img_get(m, "RP2");
		const char *sk = img_get(m, "SK_VMK_GUID"), *ck = img_get(m, "CLEARKEY_VMK_GUID");
		int rc;

		if (strstr(m->name, "eow") || strstr(m->name, "partially")) {
			/* encrypt-on-write volumes: libdislocker 0.7.3 refuses them; we
			 * refuse first, with a clear message, before dislocker runs */
			rc = try_unlock(m->name, LB_BLK_RECOVERY_PASSWORD, rp, NULL, &err);
			fprintf(stderr, "%-40s recovery password: %s\n", m->name, rc ? err.msg : "ok");
			CHECK(rc == -1 && err.kind == LB_EK_INPUT && strstr(err.msg, "encrypt-on-write"));
			continue;
		}
		if (rp) {
			rc = try_unlock(m->name, LB_BLK_RECOVERY_PASSWORD, rp, img_get(m, "RP_VMK_GUID"), &err);
			fprintf(stderr, "%-40s recovery password: %s\n", m->name, rc ? err.msg : "ok");
			CHECK(rc == 0);
			unlocked += rc == 0;
		}
		if (pw) {
			rc = try_unlock(m->name, LB_BLK_PASSWORD, pw, img_get(m, "PW_VMK_GUID"), &err);
			fprintf(stderr, "%-40s password: %s\n", m->name, rc ? err.msg : "ok");
			/* "anaconda£" works through the Latin-1 hand-over */
			CHECK(rc == 0);
			unlocked += rc == 0;
		}
		if (rp2) {
			rc = try_unlock(m->name, LB_BLK_RECOVERY_PASSWORD, rp2, img_get(m, "RP2_VMK_GUID"),
			                &err);
			fprintf(stderr, "%-40s second recovery password: %s\n", m->name, rc ? err.msg : "ok");
			/* dislocker 0.7.3 only tries the first recovery-password
			 * protector; the VMK of the second is derived here */
			CHECK(rc == 0);
			unlocked += rc == 0;
		}
		if (sk) {
			char up[64];
			size_t k;
			snprintf(up, sizeof(up), "%s", sk);
			for (k = 0; up[k]; k++)
				up[k] = (char)toupper((unsigned char)up[k]);
			snprintf(bek, sizeof(bek), "%.500s/%.60s.BEK", g_dir, up);
			rc = try_unlock(m->name, LB_BLK_BEK_FILE, bek, sk, &err);
			fprintf(stderr, "%-40s startup key: %s\n", m->name, rc ? err.msg : "ok");
			CHECK(rc == 0);
			unlocked += rc == 0;
		}
		if (ck) {
			rc = try_unlock(m->name, LB_BLK_CLEAR_KEY, NULL, ck, &err);
			fprintf(stderr, "%-40s clear key: %s\n", m->name, rc ? err.msg : "ok");
			CHECK(rc == 0);
			unlocked += rc == 0;
		}
	}
	fprintf(stderr, "%d unlocks verified\n", unlocked);
	CHECK_EQ_STR(setlocale(LC_ALL, NULL), loc_saved);

	/* ---- refusals ---- */
	{
		const struct img *x = find_img(imgs, n, "bitlk-aes-xts-128");
		const struct img *other = find_img(imgs, n, "bitlk-aes-xts-256");
		struct lb_bitlocker_key k;
		char copy[1024];
		uint64_t h0;
		struct lb_io *io;

		/* wrong (well-formed) recovery password: REFUSED, names the protector */
		CHECK(try_unlock(x->name, LB_BLK_RECOVERY_PASSWORD, img_get(other, "RP"), NULL, &err) == -1);
		CHECK_EQ_INT(err.kind, LB_EK_REFUSED);
		CHECK_EQ_STR(err.msg, "wrong recovery password for protector {64311DEA-4587-4029-924A-BA299647998E}");
		CHECK(strstr(err.msg, img_get(other, "RP")) == NULL);
		/* wrong password */
		CHECK(try_unlock(x->name, LB_BLK_PASSWORD, "anaconda2", NULL, &err) == -1);
		CHECK_EQ_INT(err.kind, LB_EK_REFUSED);
		CHECK(strstr(err.msg, "{3E55195C-8811-4D9B-97B4-2B9E5F8F5384}") != NULL);
		CHECK(strstr(err.msg, "anaconda2") == NULL);
		/* malformed recovery password (block 1 not a multiple of 11): INPUT */
		CHECK(try_unlock(x->name, LB_BLK_RECOVERY_PASSWORD,
		                 "235819-357951-253979-013365-241120-245575-342914-591910", NULL, &err) == -1);
		CHECK_EQ_INT(err.kind, LB_EK_INPUT);
		CHECK(strstr(err.msg, "block 1") != NULL);
		CHECK(strstr(err.msg, "235819") == NULL);
		/* the right one without dashes, with spaces */
		CHECK(try_unlock(x->name, LB_BLK_RECOVERY_PASSWORD,
		                 "235818357951253979013365241120245575342914591910", NULL, &err) == 0);
		CHECK(try_unlock(x->name, LB_BLK_RECOVERY_PASSWORD,
		                 " 235818 357951 253979 013365 241120 245575 342914 591910 ", NULL, &err) == 0);
		/* a BEK of another volume */
		snprintf(bek, sizeof(bek), "%.500s/4381F759-C4F8-4DE0-BB61-FC33A831BDA5.BEK", g_dir);
		CHECK(try_unlock("bitlk-aes-xts-128-startup-key-win11", LB_BLK_BEK_FILE, bek, NULL, &err) == -1);
		CHECK_EQ_INT(err.kind, LB_EK_REFUSED);
		CHECK(strstr(err.msg, "does not belong") != NULL);
		/* a file that is not a BEK */
		CHECK(try_unlock(x->name, LB_BLK_BEK_FILE, conf, NULL, &err) == -1);
		CHECK_EQ_INT(err.kind, LB_EK_INPUT);
		/* key kinds the volume has no protector for */
		CHECK(try_unlock("bitlk-aes-xts-128-smart-card", LB_BLK_PASSWORD, "anaconda", NULL, &err) == -1);
		CHECK_EQ_INT(err.kind, LB_EK_REFUSED);
		CHECK(strstr(err.msg, "no password protector") != NULL);
		CHECK(try_unlock(x->name, LB_BLK_CLEAR_KEY, NULL, NULL, &err) == -1);
		CHECK_EQ_INT(err.kind, LB_EK_REFUSED);
		CHECK(strstr(err.msg, "not suspended") != NULL);
		/* missing file */
		k.kind = LB_BLK_PASSWORD;
		k.secret = "anaconda";
		CHECK(lb_bitlocker_open("/nonexistent/x.img", 0, 0, &k, false, &err) == NULL);
		CHECK_EQ_INT(err.kind, LB_EK_IO);

		/* wrong key on a writable open: nothing written at all */
		copy_img(x->name, copy, sizeof(copy));
		h0 = file_hash(copy);
		k.kind = LB_BLK_RECOVERY_PASSWORD;
		k.secret = img_get(other, "RP");
		lb_err_clear(&err);
		io = lb_bitlocker_open(copy, 0, 0, &k, true, &err);
		CHECK(io == NULL);
		CHECK_EQ_INT(err.kind, LB_EK_REFUSED);
		CHECK(file_hash(copy) == h0);
		/* right key, read-only, reads only: nothing written either */
		k.secret = img_get(x, "RP");
		io = lb_bitlocker_open(copy, 0, 0, &k, false, &err);
		REQUIRE(io);
		{
			uint8_t b[4096];
			CHECK(lb_io_pread(io, b, sizeof(b), 12345, &err) == 0);
		}
		lb_io_close(io);
		CHECK(file_hash(copy) == h0);
		unlink(copy);
	}

	/* ---- a volume inside a larger disk image: offset + size ---- */
	{
		char disk[1024], cmd[8192];
		const struct img *x = find_img(imgs, n, "bitlk-aes-xts-128");
		struct lb_bitlocker_key k = { LB_BLK_RECOVERY_PASSWORD, img_get(x, "RP") };
		struct lb_io *io;
		uint8_t s0[512];

		snprintf(disk, sizeof(disk), "%.500s/disk.img", g_dir);
		snprintf(cmd, sizeof(cmd), "truncate -s 1M '%s' && cat '%s' >> '%s' && truncate -s +1M '%s'",
		         disk, img_path(x->name, path, sizeof(path)), disk, disk);
		REQUIRE(system(cmd) == 0);
		io = lb_bitlocker_open(disk, 1 << 20, 104857600, &k, false, &err);
		if (!io)
			fprintf(stderr, "offset: %s\n", err.msg);
		REQUIRE(io);
		CHECK_EQ_INT(io->size, 104857600);
		CHECK(lb_io_pread(io, s0, 512, 0, &err) == 0);
		CHECK(memcmp(s0 + 3, "NTFS    ", 8) == 0);
		lb_io_close(io);
		unlink(disk);
	}

	/* ---- end to end: XTS, CBC 4K sectors, CBC + Elephant diffuser, To Go ---- */
	e2e(find_img(imgs, n, "bitlk-aes-xts-128"));
	e2e(find_img(imgs, n, "bitlk-aes-cbc-128-4k"));
	e2e(find_img(imgs, n, "bitlk-aes-cbc-elephant-256"));
	e2e(find_img(imgs, n, "bitlk-togo-aes-xts-128"));
	LBT_DONE_CLEAN(g_root);
}
