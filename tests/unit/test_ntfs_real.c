/* Real Windows-made NTFS images (../shared/data/ntfs): partitions found by
 * libblkid, volume opened through our device ops, directories listed with
 * their real case, case-insensitive lookups, and $STANDARD_INFORMATION
 * times (not $FILE_NAME ones).  Then a quarantine-style move on a copy of a
 * Windows-made volume, checked with ntfsfix -n and a re-read. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbtest.h"
#include "lb_ntfs.h"
#include "lb_partition.h"
#include "lb_source.h"

static void unpack(const char *gz, const char *out)
{
	char src[1024], cmd[4096];

	lbt_shared(gz, src, sizeof(src));
	/* sparse, free clusters as holes: 5-9 MiB on disk instead of 256 MiB-1 GiB */
	snprintf(cmd, sizeof(cmd), "mkdir -p tests-work/ntfs_real && python3 '%s/scripts/sample-sparse.py' '%s' '%s' 2>/dev/null",
	         getenv("LB_SOURCE") ? getenv("LB_SOURCE") : "..", src, out);
	REQUIRE(system(cmd) == 0);
}

struct names {
	char list[32][256];
	int n;
};

static int collect(void *arg, const char *name, bool is_dir)
{
	struct names *c = arg;

	(void)is_dir;
	if (c->n < 32)
		snprintf(c->list[c->n++], 256, "%s", name);
	return 0;
}

static bool has(struct names *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->list[i], name))
			return true;
	return false;
}

static struct lb_ntfs *open_first_ntfs(struct lb_source *src, struct lb_disk *disk,
                                       struct lb_io **win, bool rw, const char *path)
{
	struct lb_err err;
	struct lb_ntfs *v = NULL;

	REQUIRE(lb_source_open(path, rw, src, &err) == 0);
	REQUIRE(lb_partition_scan(src, disk, &err) == 0);
	REQUIRE(disk->nparts >= 1);
	*win = lb_io_window(src->io, disk->parts[0].offset, disk->parts[0].size, "p1", &err);
	REQUIRE(*win);
	if (lb_ntfs_open(*win, rw ? LB_NTFS_RW : LB_NTFS_RDONLY, &v, &err))
		fprintf(stderr, "open: %s\n", err.msg);
	REQUIRE(v);
	return v;
}

static void test_lastaccess(void)
{
	struct lb_source src;
	struct lb_disk disk;
	struct lb_io *win;
	struct lb_ntfs *v;
	struct lb_ntfs_state st;
	struct lb_ntfs_stat fs;
	struct lb_err err;
	struct names nm = { .n = 0 };
	char iso[32], buf[16];

	unpack("ntfs/ntfs-lastaccess.raw.gz", "tests-work/ntfs_real/lastaccess.raw");
	v = open_first_ntfs(&src, &disk, &win, false, "tests-work/ntfs_real/lastaccess.raw");
	CHECK_EQ_STR(disk.pttype, "dos");
	CHECK_EQ_INT(disk.parts[0].number, 1);
	CHECK_EQ_INT(disk.parts[0].offset, 65536);
	CHECK_EQ_STR(disk.parts[0].fstype, "ntfs");

	CHECK(lb_ntfs_state(v, &st, &err) == 0);
	CHECK(st.journal_known && st.journal_clean);
	CHECK_EQ_STR(st.journal_version, "1.1");
	CHECK(!st.hibernated);
	CHECK(!st.dirty);
	CHECK_EQ_STR(st.ntfs_version, "3.1");

	CHECK(lb_ntfs_readdir(v, "\\", collect, &nm, &err) == 0);
	CHECK(has(&nm, "test"));
	CHECK(has(&nm, "System Volume Information"));
	CHECK(!has(&nm, "$MFT"));

	/* case-insensitive lookup, real-case listing */
	nm.n = 0;
	CHECK(lb_ntfs_readdir(v, "\\TEST", collect, &nm, &err) == 0);
	CHECK_EQ_INT(nm.n, 1);
	CHECK_EQ_STR(nm.list[0], "1.txt");
	CHECK(lb_ntfs_stat(v, "/Test/1.TXT", &fs, &err) == 0);
	CHECK_EQ_INT(fs.size, 143);
	CHECK(!fs.is_dir);
	lb_ntfs_time_iso(fs.modified, iso);
	CHECK_EQ_STR(iso, "2019-03-03T12:35:17.2003305Z");
	/* $STANDARD_INFORMATION last access, per the image's README */
	lb_ntfs_time_iso(fs.accessed, iso);
	CHECK(strncmp(iso, "2019-03-03T12:37:55", 19) == 0);
	CHECK_EQ_INT(lb_ntfs_pread(v, "\\test\\1.txt", buf, 8, 0, &err), 8);
	CHECK_EQ_INT(lb_ntfs_stat(v, "\\test\\missing.txt", &fs, &err), 1);
	CHECK_EQ_INT(lb_ntfs_readdir(v, "\\nope", collect, &nm, &err), 1);

	CHECK(lb_ntfs_close(v, &err) == 0);
	lb_io_close(win);
	lb_partition_free(&disk);
	lb_source_close(&src);
}

static void test_si_vs_fn(void)
{
	struct lb_source src;
	struct lb_disk disk;
	struct lb_io *win;
	struct lb_ntfs *v;
	struct lb_ntfs_stat fs;
	struct lb_err err;
	char iso[32];

	unpack("ntfs/ntfs-si-vs-fn.raw.gz", "tests-work/ntfs_real/si-vs-fn.raw");
	v = open_first_ntfs(&src, &disk, &win, false, "tests-work/ntfs_real/si-vs-fn.raw");
	CHECK(lb_ntfs_stat(v, "\\test\\test.txt", &fs, &err) == 0);
	lb_ntfs_time_iso(fs.modified, iso);
	/* $SI says 2015-11-03; $FILE_NAME 2014-12-12; $I30 2016-09-24 */
	CHECK(strncmp(iso, "2015-11-03", 10) == 0);
	lb_ntfs_time_iso(fs.created, iso);
	CHECK(strncmp(iso, "2015-11-03", 10) == 0);
	CHECK_EQ_INT(fs.size, 14);
	CHECK(lb_ntfs_close(v, &err) == 0);
	lb_io_close(win);
	lb_partition_free(&disk);
	lb_source_close(&src);
}

/* Move a Windows-created file (it has a DOS 8.3 name too) into a new
 * directory, as fix does, on a copy; then check the volume and the data. */
static void test_move_on_windows_volume(void)
{
	struct lb_source src;
	struct lb_disk disk;
	struct lb_io *win;
	struct lb_ntfs *v;
	struct lb_ntfs_stat fs;
	struct lb_err err;
	uint8_t before[143], after[143];
	char cmd[512];

	unpack("ntfs/ntfs-lastaccess.raw.gz", "tests-work/ntfs_real/lastaccess-rw.raw");
	v = open_first_ntfs(&src, &disk, &win, false, "tests-work/ntfs_real/lastaccess-rw.raw");
	REQUIRE(lb_ntfs_pread(v, "\\test\\1.txt", before, sizeof(before), 0, &err) == 143);
	lb_ntfs_close(v, &err);
	lb_io_close(win);
	lb_partition_free(&disk);
	lb_source_close(&src);

	v = open_first_ntfs(&src, &disk, &win, true, "tests-work/ntfs_real/lastaccess-rw.raw");
	CHECK(lb_ntfs_mkdir_p(v, "\\loopbreaker.quarantine\\T1", &err) == 0);
	CHECK(lb_ntfs_move(v, "\\TEST\\1.txt", "\\loopbreaker.quarantine\\T1\\1.txt", &err) == 0);
	/* the target must not exist */
	CHECK(lb_ntfs_move(v, "\\loopbreaker.quarantine\\T1\\1.txt",
	                   "\\loopbreaker.quarantine\\T1\\1.txt", &err) == -1);
	CHECK(lb_ntfs_close(v, &err) == 0);
	lb_io_close(win);
	lb_partition_free(&disk);
	lb_source_close(&src);

	snprintf(cmd, sizeof(cmd), "dd if=tests-work/ntfs_real/lastaccess-rw.raw of=tests-work/ntfs_real/la-part.raw "
	         "bs=65536 skip=1 count=4048 conv=sparse status=none && ntfsfix -n tests-work/ntfs_real/la-part.raw >/dev/null");
	CHECK(system(cmd) == 0);

	v = open_first_ntfs(&src, &disk, &win, false, "tests-work/ntfs_real/lastaccess-rw.raw");
	CHECK_EQ_INT(lb_ntfs_stat(v, "\\test\\1.txt", &fs, &err), 1);
	CHECK_EQ_INT(lb_ntfs_stat(v, "\\loopbreaker.quarantine\\t1\\1.TXT", &fs, &err), 0);
	CHECK(lb_ntfs_pread(v, "\\loopbreaker.quarantine\\T1\\1.txt", after, sizeof(after), 0,
	                    &err) == 143);
	CHECK(memcmp(before, after, sizeof(before)) == 0);
	/* the DOS alias went with the long name: the directory is empty */
	{
		struct names nm = { .n = 0 };

		CHECK(lb_ntfs_readdir(v, "\\test", collect, &nm, &err) == 0);
		CHECK_EQ_INT(nm.n, 0);
	}
	lb_ntfs_close(v, &err);
	lb_io_close(win);
	lb_partition_free(&disk);
	lb_source_close(&src);
}

int main(void)
{
	lb_ntfs_library_init(false);
	test_lastaccess();
	test_si_vs_fn();
	test_move_on_windows_volume();
	LBT_DONE_CLEAN("tests-work/ntfs_real");
}
