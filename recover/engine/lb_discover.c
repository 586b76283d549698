/* lb_discover.c - lb_engine_discover: the local disks worth looking at. */
#include "lb_engine.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- discovery ---- */

static bool has_mounted_partition(const char *disk)
{
	FILE *f = fopen("/proc/mounts", "r");
	char dev[512];
	bool found = false;
	size_t dl = strlen(disk);

	if (!f)
		return false;
	while (fscanf(f, "%511s %*s %*s %*s %*d %*d", dev) == 1) {
		const char *b = strncmp(dev, "/dev/", 5) == 0 ? dev + 5 : NULL;

		if (b && strncmp(b, disk, dl) == 0) {
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

char **lb_engine_discover(const char *const *exclude, size_t nexclude)
{
	static const char *const skip[] = { "loop", "ram", "zram", "sr", "fd", "dm-", "md", "nbd" };
	DIR *d = opendir("/sys/block");
	struct dirent *de;
	char **list = NULL;
	size_t n = 0;

	if (!d) {
		list = calloc(1, sizeof(*list));
		return list;
	}
	while ((de = readdir(d))) {
		char p[512], path[300];
		bool skipit = de->d_name[0] == '.';
		FILE *f;
		unsigned long long size = 0;
		char **nl;

		for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]) && !skipit; i++)
			skipit = strncmp(de->d_name, skip[i], strlen(skip[i])) == 0;
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		for (size_t i = 0; i < nexclude && !skipit; i++) {
			const char *e = exclude[i];

			skipit = strcmp(e, path) == 0 || strcmp(e, de->d_name) == 0;
		}
		if (skipit || has_mounted_partition(de->d_name))
			continue;
		snprintf(p, sizeof(p), "/sys/block/%s/size", de->d_name);
		f = fopen(p, "r");
		if (!f || fscanf(f, "%llu", &size) != 1)
			size = 0;
		if (f)
			fclose(f);
		if (size == 0)
			continue;
		nl = realloc(list, (n + 2) * sizeof(*nl));
		if (!nl)
			break;
		list = nl;
		list[n++] = strdup(path);
		list[n] = NULL;
	}
	closedir(d);
	if (!list)
		list = calloc(1, sizeof(*list));
	return list;
}
