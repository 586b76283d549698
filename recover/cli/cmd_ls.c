/* cmd_ls.c - `loopbreaker ls TARGET[@PART] PATH`: look inside a volume
 * without mounting it (read-only). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "lb_engine.h"
#include "lb_ntfs.h"
#include "lb_partition.h"
#include "lb_source.h"

struct ls_ctx {
	struct lb_ntfs *v;
	const char *dir;
};

static int ls_cb(void *arg, const char *name, bool is_dir)
{
	struct ls_ctx *c = arg;
	char path[4096], iso[32];
	struct lb_ntfs_stat st;
	struct lb_err err;

	snprintf(path, sizeof(path), "%s\\%s", strcmp(c->dir, "\\") ? c->dir : "", name);
	if (lb_ntfs_stat(c->v, path, &st, &err) != 0) {
		printf("? %12s %-24s %s\n", "?", "?", name);
		return 0;
	}
	lb_ntfs_time_iso(st.modified, iso);
	printf("%c %12llu %-24s %s\n", is_dir ? 'd' : '-', (unsigned long long)st.size, iso, name);
	return 0;
}

int cmd_ls(int argc, char **argv)
{
	struct lb_source src;
	struct lb_disk disk;
	struct lb_err err;
	struct lb_io *win = NULL, *view = NULL;
	struct lb_mftmirr mirr = { 0 };
	struct lb_ntfs *v = NULL;
	struct ls_ctx c;
	char target[4096], *at;
	int want = -1, rc, ex = 0;
	const struct lb_part *p = NULL;

	if (argc != 3 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		puts("usage: loopbreaker ls TARGET[@PARTNO] PATH\n\n"
		     "Lists PATH (e.g. '\\Windows\\System32\\drivers\\CrowdStrike') on the first NTFS\n"
		     "volume of TARGET, or on partition PARTNO.  Read-only.  One line per entry:\n"
		     "type, size, last-write time (UTC), name.");
		return argc == 2 ? 0 : LB_EXIT_INPUT;
	}
	snprintf(target, sizeof(target), "%s", argv[1]);
	at = strrchr(target, '@');
	if (at) {
		*at = '\0';
		want = atoi(at + 1);
	}
	lb_err_clear(&err);
	if (lb_source_open(target, false, &src, &err) || lb_partition_scan(&src, &disk, &err)) {
		fprintf(stderr, "loopbreaker: %s\n", err.msg);
		return LB_EXIT_INPUT;
	}
	for (int i = 0; i < disk.nparts && !p; i++)
		if ((want < 0 && !strcmp(disk.parts[i].fstype, "ntfs")) || disk.parts[i].number == want)
			p = &disk.parts[i];
	if (!p) {
		fprintf(stderr, "loopbreaker: %s: no such NTFS partition\n", argv[1]);
		ex = LB_EXIT_INPUT;
		goto out;
	}
	win = lb_io_window(src.io, p->offset, p->size, target, &err);
	if (win) { /* a stale $MFTMirr: list the volume as fix would leave it */
		view = lb_mftmirr_view(win, &mirr);
		if (view)
			fprintf(stderr, "loopbreaker: %s (fix repairs it); listing as if repaired\n",
			        mirr.why);
	}
	if (!win || lb_ntfs_open(view ? view : win, LB_NTFS_RDONLY, &v, &err)) {
		fprintf(stderr, "loopbreaker: %s\n", err.msg);
		ex = LB_EXIT_INPUT;
		goto out;
	}
	c.v = v;
	c.dir = argv[2];
	rc = lb_ntfs_readdir(v, argv[2], ls_cb, &c, &err);
	if (rc) {
		fprintf(stderr, "loopbreaker: %s\n", rc > 0 ? "no such directory" : err.msg);
		ex = rc > 0 ? LB_EXIT_INPUT : LB_EXIT_INTERNAL;
	}
	lb_ntfs_close(v, &err);
out:
	lb_io_close(view);
	lb_mftmirr_free(&mirr);
	lb_io_close(win);
	lb_partition_free(&disk);
	lb_source_close(&src);
	return ex;
}
