/* cmd_ls.c - `loopbreaker ls TARGET[@PART] PATH`: look inside a volume
 * without mounting it (read-only). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "lb_engine.h"
#include "lb_ntfs.h"
#include "lb_volume.h"

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
	char target[4096], *at;
	struct lb_mftmirr mirr = { 0 };
	const struct lb_volume_opts ro = { .name = target, .mirr = &mirr };
	struct lb_volume vol;
	struct lb_err err;
	struct ls_ctx c;
	int want = -1, rc, ex = 0;

	if (argc != 3 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		puts("usage: loopbreaker ls TARGET[@PARTNO] PATH\n\n"
		     "Lists PATH (e.g. '\\Windows\\System32\\drivers\\CrowdStrike') on the first NTFS\n"
		     "volume of TARGET, or on partition PARTNO.  Read-only.  One line per entry:\n"
		     "type, size, last-write time (UTC), name.\n\n"
		     "options:\n"
		     "  -h, --help    this text\n\n"
		     "exit status: 0 listed, 2 no such target, partition or directory, 3 I/O error.");
		return argc == 2 ? 0 : LB_EXIT_INPUT;
	}
	snprintf(target, sizeof(target), "%s", argv[1]);
	at = strrchr(target, '@');
	if (at) {
		*at = '\0';
		want = atoi(at + 1);
	}
	lb_err_clear(&err);
	/* a stale $MFTMirr: list the volume as fix would leave it */
	rc = lb_volume_open_path(target, want, &ro, &vol, &err);
	if (vol.mirr_view)
		fprintf(stderr, "loopbreaker: %s (fix repairs it); listing as if repaired\n", mirr.why);
	if (rc) {
		if (rc > 0)
			fprintf(stderr, "loopbreaker: %s: no such NTFS partition\n", argv[1]);
		else
			fprintf(stderr, "loopbreaker: %s\n", err.msg);
		ex = LB_EXIT_INPUT;
		goto out;
	}
	c.v = vol.ntfs;
	c.dir = argv[2];
	rc = lb_ntfs_readdir(vol.ntfs, argv[2], ls_cb, &c, &err);
	if (rc) {
		if (rc > 0)
			fprintf(stderr, "loopbreaker: %s: %s: no such directory\n", argv[1], argv[2]);
		else
			fprintf(stderr, "loopbreaker: %s\n", err.msg);
		ex = rc > 0 ? LB_EXIT_INPUT : LB_EXIT_INTERNAL;
	}
out:
	lb_volume_close(&vol, &err);
	lb_mftmirr_free(&mirr);
	return ex;
}
