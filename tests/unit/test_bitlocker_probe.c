/* test_bitlocker_probe.c - FVE metadata parsing against 21 Windows-made
 * BitLocker volumes (cryptsetup's bitlk-images, images.conf lists every
 * protector GUID), damaged copies, and a mutation pass through the parser
 * with the CRC fixed up so corrupt entries reach it. */
#include "lbtest.h"
#include "lb_bitlocker.h"
#include "lb_io.h"
#include "lb_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- images.conf ---- */

#include "bitlk_images.h"


static void check_protector(const struct lb_bitlocker_info *bi, const char *img, const char *guid,
                            enum lb_bl_protector_type t)
{
	int i;

	if (!guid)
		return;
	i = lb_bitlocker_find_protector(bi, guid);
	if (i < 0) {
		fprintf(stderr, "%s: protector %s missing\n", img, guid);
		CHECK(i >= 0);
		return;
	}
	CHECK_EQ_STR(lb_bl_protector_type_name(bi->protectors[i].type), lb_bl_protector_type_name(t));
}

static uint32_t crc32_ref(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
	}
	return ~c;
}

static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

int main(void)
{
	struct img imgs[MAXIMG];
	struct lb_bitlocker_info bi;
	struct lb_err err;
	char conf[1024], path[1024], canon[LB_GUID_STRLEN];
	int n;

	extract("probe");
	snprintf(conf, sizeof(conf), "%.500s/images.conf", g_dir);
	n = load_conf(conf, imgs);
	CHECK_EQ_INT(n, 21);

	/* GUID helpers */
	CHECK(lb_guid_canon("64311dea-4587-4029-924a-ba299647998e", canon) == 0);
	CHECK_EQ_STR(canon, "{64311DEA-4587-4029-924A-BA299647998E}");
	CHECK(lb_guid_canon(" {64311DEA-4587-4029-924a-ba299647998e}\r\n", canon) == 0);
	CHECK_EQ_STR(canon, "{64311DEA-4587-4029-924A-BA299647998E}");
	CHECK(lb_guid_canon("64311dea-4587-4029-924a-ba299647998", canon) != 0);
	CHECK(lb_guid_canon("64311dea+4587-4029-924a-ba299647998e", canon) != 0);
	CHECK(lb_guid_canon("{64311dea-4587-4029-924a-ba299647998e", canon) != 0);
	CHECK(lb_guid_canon("g4311dea-4587-4029-924a-ba299647998e", canon) != 0);

	/* every image: volume GUID, protector GUIDs and types, cipher */
	for (int i = 0; i < n; i++) {
		const struct img *m = &imgs[i];
		const char *cipher = img_get(m, "CIPHER");
		int rc;

		lb_err_clear(&err);
		rc = lb_bitlocker_probe_file(img_path(m->name, path, sizeof(path)), 0, 0, &bi, &err);
		if (rc) {
			fprintf(stderr, "%s: %s\n", m->name, err.msg);
			CHECK(rc == 0);
			continue;
		}
		REQUIRE(lb_guid_canon(img_get(m, "GUID"), canon) == 0);
		CHECK_EQ_STR(bi.volume_guid, canon);
		check_protector(&bi, m->name, img_get(m, "PW_VMK_GUID"), LB_BLP_PASSWORD);
		check_protector(&bi, m->name, img_get(m, "RP_VMK_GUID"), LB_BLP_RECOVERY_PASSWORD);
		check_protector(&bi, m->name, img_get(m, "RP2_VMK_GUID"), LB_BLP_RECOVERY_PASSWORD);
		check_protector(&bi, m->name, img_get(m, "SK_VMK_GUID"), LB_BLP_STARTUP_KEY);
		check_protector(&bi, m->name, img_get(m, "SC_VMK_GUID"), LB_BLP_SMART_CARD);
		check_protector(&bi, m->name, img_get(m, "CLEARKEY_VMK_GUID"), LB_BLP_CLEAR_KEY);
		if (strcmp(cipher, "aes-xts-plain64") == 0)
			CHECK_EQ_STR(bi.cipher, "aes-xts");
		else if (strcmp(cipher, "aes-cbc-eboiv") == 0)
			CHECK_EQ_STR(bi.cipher, "aes-cbc");
		else
			CHECK_EQ_STR(bi.cipher, "aes-cbc-elephant");
		CHECK_EQ_INT(bi.key_bits, strstr(m->name, "-256") ? 256 : 128);
		CHECK_EQ_INT(bi.to_go, strstr(m->name, "togo") != NULL);
		CHECK_EQ_INT(bi.sector_size, strstr(m->name, "-4k") ? 4096 : 512);
		CHECK(bi.fully_encrypted);
		CHECK_EQ_INT(bi.state, LB_BLS_ENCRYPTED);
		CHECK(bi.volume_size > 0 && bi.volume_size % bi.sector_size == 0);
		CHECK(bi.description[0] != '\0');
		CHECK_EQ_INT(bi.suspended, img_get(m, "CLEARKEY_VMK_GUID") != NULL ||
		             strstr(m->name, "partially") != NULL);
		CHECK_EQ_INT(bi.encrypt_on_write,
		             strstr(m->name, "eow") != NULL || strstr(m->name, "partially") != NULL);
		if (strcmp(m->name, "bitlk-aes-xts-128-crc") != 0)
			CHECK_EQ_INT(bi.metadata_valid, 7);
	}

	/* exact listing of one image, as the report will show it */
	REQUIRE(lb_bitlocker_probe_file(img_path("bitlk-aes-xts-128", path, sizeof(path)), 0, 0, &bi, &err) == 0);
	CHECK_EQ_INT(bi.n_protectors, 2);
	CHECK_EQ_STR(bi.protectors[0].guid, "{3E55195C-8811-4D9B-97B4-2B9E5F8F5384}");
	CHECK_EQ_STR(lb_bl_protector_type_name(bi.protectors[0].type), "password");
	CHECK_EQ_STR(bi.protectors[1].guid, "{64311DEA-4587-4029-924A-BA299647998E}");
	CHECK_EQ_STR(lb_bl_protector_type_name(bi.protectors[1].type), "recovery_password");
	CHECK_EQ_INT(bi.protectors[1].raw_type, 0x0800);
	CHECK_EQ_STR(bi.description, "DESKTOP-NPM7RCA H: 7/4/2019");
	CHECK_EQ_INT(bi.method, 0x8004);
	CHECK_EQ_INT(bi.volume_size, 104857600);
	CHECK_EQ_INT(bi.metadata_offset[0], 0x2195000);
	CHECK(lb_bitlocker_find_protector(&bi, "64311dea-4587-4029-924a-ba299647998e") == 1);
	CHECK(lb_bitlocker_find_protector(&bi, "{64311DEA-4587-4029-924A-BA299647998F}") == -1);

	/* named protectors, To Go, startup key, smart card */
	REQUIRE(lb_bitlocker_probe_file(img_path("bitlk-aes-xts-128-first-recovery", path, sizeof(path)), 0, 0, &bi, &err) == 0);
	CHECK_EQ_STR(bi.protectors[lb_bitlocker_find_protector(&bi, "e76c7ab2-69b6-44c2-ba78-c227c7c1bd07")].name, "DiskPassword");
	REQUIRE(lb_bitlocker_probe_file(img_path("bitlk-aes-xts-128-startup-key", path, sizeof(path)), 0, 0, &bi, &err) == 0);
	CHECK_EQ_STR(bi.protectors[lb_bitlocker_find_protector(&bi, "4381f759-c4f8-4de0-bb61-fc33a831bda5")].name, "ExternalKey");
	CHECK_EQ_STR(bi.description, "DESKTOP-LG39GVP E: 15/09/2020");
	REQUIRE(lb_bitlocker_probe_file(img_path("bitlk-togo-aes-cbc-128", path, sizeof(path)), 0, 0, &bi, &err) == 0);
	CHECK(bi.to_go);
	CHECK_EQ_INT(bi.metadata_offset[1], 0x2c1c800);
	REQUIRE(lb_bitlocker_probe_file(img_path("bitlk-aes-xts-128-unicode", path, sizeof(path)), 0, 0, &bi, &err) == 0);
	CHECK_EQ_STR(bi.description, "WIN11 New Volume 29/07/2025");

	/* the -crc image: copies 1 and 2 fail their CRC (a damaged
	 * description); copy 3 is used and gives the undamaged text */
	REQUIRE(lb_bitlocker_probe_file(img_path("bitlk-aes-xts-128-crc", path, sizeof(path)), 0, 0, &bi, &err) == 0);
	CHECK_EQ_INT(bi.metadata_valid, 4);
	CHECK_EQ_INT(bi.metadata_used, 2);
	CHECK_EQ_STR(bi.description, "DESKTOP-NPM7RCA H: 7/4/2019");

	/* through the io seam: a disk image with the volume at 1 MiB, a window */
	{
		char disk[1024], cmd[8192];
		struct lb_source src;
		struct lb_io *win;

		snprintf(disk, sizeof(disk), "%.500s/disk.img", g_dir);
		snprintf(cmd, sizeof(cmd), "truncate -s 1M '%s' && cat '%s' >> '%s'", disk,
		         img_path("bitlk-togo-aes-xts-128", path, sizeof(path)), disk);
		REQUIRE(system(cmd) == 0);
		REQUIRE(lb_source_open(disk, false, &src, &err) == 0);
		win = lb_io_window(src.io, 1 << 20, 104857600, "disk.img#p1", &err);
		REQUIRE(win);
		CHECK(lb_bitlocker_probe(win, &bi, &err) == 0);
		CHECK(bi.to_go);
		CHECK(lb_bitlocker_find_protector(&bi, "cfc68dda-e393-44c3-9c3b-e73480f2bd17") >= 0);
		lb_io_close(win);
		/* a window cut short before the metadata: INPUT, names the layer */
		win = lb_io_window(src.io, 1 << 20, 0x2100000, "disk.img#p1", &err);
		REQUIRE(win);
		lb_err_clear(&err);
		CHECK(lb_bitlocker_probe(win, &bi, &err) == -1);
		CHECK_EQ_INT(err.kind, LB_EK_INPUT);
		CHECK(strstr(err.msg, "disk.img#p1") != NULL);
		lb_io_close(win);
		lb_source_close(&src);
		unlink(disk);
	}

	/* ---- damage a copy of the image ---- */
	{
		char copy[1024], cmd[4096];
		uint8_t b = 0;
		int fd;
		uint64_t offs[3] = { 0x2195000, 0x2c1d000, 0x373a000 };

		snprintf(copy, sizeof(copy), "%.500s/damaged.img", g_dir);
		snprintf(cmd, sizeof(cmd), "cp --sparse=always '%s' '%s'",
		         img_path("bitlk-aes-xts-128", path, sizeof(path)), copy);
		REQUIRE(system(cmd) == 0);
		fd = open(copy, O_RDWR);
		REQUIRE(fd >= 0);
		/* one copy flipped: still usable, reported */
		REQUIRE(pread(fd, &b, 1, (off_t)offs[0] + 200) == 1);
		b ^= 0x5A;
		REQUIRE(pwrite(fd, &b, 1, (off_t)offs[0] + 200) == 1);
		CHECK(lb_bitlocker_probe_file(copy, 0, 0, &bi, &err) == 0);
		CHECK_EQ_INT(bi.metadata_valid, 6);
		CHECK_EQ_INT(bi.metadata_used, 1);
		/* all three flipped: refused, clear message, kind INPUT */
		for (int c = 1; c < 3; c++) {
			REQUIRE(pread(fd, &b, 1, (off_t)offs[c] + 200) == 1);
			b ^= 0x5A;
			REQUIRE(pwrite(fd, &b, 1, (off_t)offs[c] + 200) == 1);
		}
		lb_err_clear(&err);
		CHECK(lb_bitlocker_probe_file(copy, 0, 0, &bi, &err) == -1);
		CHECK_EQ_INT(err.kind, LB_EK_INPUT);
		CHECK(strstr(err.msg, "CRC32") != NULL);
		CHECK(strchr(err.msg, '\n') == NULL);
		fprintf(stderr, "damaged: %s\n", err.msg);
		{   /* and the unlock path refuses it before dislocker sees it */
			struct lb_bitlocker_key k = { LB_BLK_RECOVERY_PASSWORD,
				"235818-357951-253979-013365-241120-245575-342914-591910" };
			lb_err_clear(&err);
			CHECK(lb_bitlocker_open(copy, 0, 0, &k, false, &err) == NULL);
			CHECK_EQ_INT(err.kind, LB_EK_INPUT);
		}
		/* signature gone */
		REQUIRE(pwrite(fd, "XXXX", 4, 3) == 4);
		lb_err_clear(&err);
		CHECK(lb_bitlocker_probe_file(copy, 0, 0, &bi, &err) == -1);
		CHECK_EQ_INT(err.kind, LB_EK_INPUT);
		CHECK(strstr(err.msg, "not a BitLocker volume") != NULL);
		close(fd);
		/* region past the end */
		lb_err_clear(&err);
		CHECK(lb_bitlocker_probe_file(copy, 104857600 - 1024, 4096, &bi, &err) == -1);
		CHECK_EQ_INT(err.kind, LB_EK_INPUT);
		unlink(copy);
	}

	/* ---- truncation and mutation through probe_buffer ---- */
	{
		size_t len = 0x373a000 + 65536;
		uint8_t *buf = malloc(len), *orig;
		int fd = open(img_path("bitlk-aes-xts-128", path, sizeof(path)), O_RDONLY);
		uint32_t blk_size, seed = 12345;
		int accepted = 0, rejected = 0;

		REQUIRE(buf && fd >= 0);
		REQUIRE(pread(fd, buf, len, 0) == (ssize_t)len);
		close(fd);
		orig = malloc(65536 + 8);
		REQUIRE(orig);
		CHECK(lb_bitlocker_probe_buffer(buf, len, &bi, &err) == 0);
		CHECK(lb_bitlocker_probe_buffer(buf, 0x373a000 + 100, &bi, &err) == 0); /* copies 1, 2 whole */
		CHECK_EQ_INT(bi.metadata_valid, 3);
		lb_err_clear(&err);
		CHECK(lb_bitlocker_probe_buffer(buf, 0x2195000 + 100, &bi, &err) == -1);
		CHECK_EQ_INT(err.kind, LB_EK_INPUT);
		CHECK(lb_bitlocker_probe_buffer(buf, 100, &bi, &err) == -1);

		/* make copies 2 and 3 invalid so only the mutated copy 1 counts */
		buf[0x2c1d000] ^= 1;
		buf[0x373a000] ^= 1;
		blk_size = (uint32_t)(buf[0x2195000 + 8] | buf[0x2195000 + 9] << 8) * 16;
		memcpy(orig, buf + 0x2195000, blk_size + 8);
		for (int it = 0; it < 20000; it++) {
			uint8_t *blk = buf + 0x2195000;
			int nflips = 1 + (int)((seed >> 8) % 4);
			uint32_t crc;

			for (int k = 0; k < nflips; k++) {
				seed = seed * 1103515245u + 12345u;
				uint32_t pos = (it % 5 == 0) ? 64 + (seed >> 8) % 48 : 112 + (seed >> 8) % (blk_size - 112);
				seed = seed * 1103515245u + 12345u;
				blk[pos] = (uint8_t)(seed >> 16);
			}
			if (it % 3) {   /* fix the CRC so the entry parser sees the damage */
				uint32_t bs = (uint32_t)(blk[8] | blk[9] << 8) * 16;
				if (bs >= 112 && bs <= 65536 && 0x2195000 + bs + 8 <= len) {
					crc = crc32_ref(blk, bs);
					memcpy(blk + bs + 4, &crc, 4);
				}
			}
			lb_err_clear(&err);
			if (lb_bitlocker_probe_buffer(buf, len, &bi, &err) == 0) {
				accepted++;
				CHECK(bi.n_protectors >= 1 && bi.n_protectors <= LB_BITLOCKER_MAX_PROTECTORS);
				CHECK(memchr(bi.description, 0, sizeof(bi.description)) != NULL);
			} else {
				rejected++;
				CHECK_EQ_INT(err.kind, LB_EK_INPUT);
				CHECK(err.msg[0] != '\0');
			}
			memcpy(buf + 0x2195000, orig, blk_size + 8);
			(void)rd64;
		}
		fprintf(stderr, "mutation: %d accepted, %d rejected\n", accepted, rejected);
		CHECK(rejected > 0);
		free(orig);
		free(buf);
	}
	LBT_DONE_CLEAN(g_root);
}
