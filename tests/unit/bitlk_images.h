/* bitlk_images.h - the Windows-made BitLocker volumes of ../shared/data
 * (bitlk-images.tar.xz) and their images.conf, for the BitLocker unit
 * tests.  Include after lbtest.h. */
#ifndef BITLK_IMAGES_H
#define BITLK_IMAGES_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXIMG 32
struct img {
	char name[96];
	char kv[24][2][96];
	int n;
};
static inline const char *img_get(const struct img *m, const char *k)
{
	for (int i = 0; i < m->n; i++)
		if (strcmp(m->kv[i][0], k) == 0)
			return m->kv[i][1][0] ? m->kv[i][1] : NULL;
	return NULL;
}
static inline int load_conf(const char *path, struct img *imgs)
{
	FILE *f = fopen(path, "r");
	char line[256];
	int n = -1;

	REQUIRE(f);
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = 0;
		if (line[0] == '[') {
			REQUIRE(++n < MAXIMG);
			memset(&imgs[n], 0, sizeof(imgs[n]));
			snprintf(imgs[n].name, sizeof(imgs[n].name), "%.*s",
			         (int)(strcspn(line + 1, "]") < 90 ? strcspn(line + 1, "]") : 90), line + 1);
		} else if (n >= 0 && strchr(line, '=') && imgs[n].n < 24) {
			char *eq = strchr(line, '=');
			*eq = 0;
			snprintf(imgs[n].kv[imgs[n].n][0], 96, "%.95s", line);
			snprintf(imgs[n].kv[imgs[n].n][1], 96, "%.95s", eq + 1);
			imgs[n].n++;
		}
	}
	fclose(f);
	return n + 1;
}
static inline const struct img *find_img(const struct img *imgs, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(imgs[i].name, name) == 0)
			return &imgs[i];
	REQUIRE(!"image not in images.conf");
	return NULL;
}

static char g_dir[512];
static char g_root[512]; /* what to remove after a passing test */

static inline void extract(const char *tag)
{
	char tarball[512], cmd[4096];

	snprintf(g_dir, sizeof(g_dir), "%.400s/tests-work/bitlk-%.40s", getenv("LB_BUILD") ? getenv("LB_BUILD") : ".", tag);
	snprintf(g_root, sizeof(g_root), "%s", g_dir);
	lbt_shared("bitlocker/bitlk-images.tar.xz", tarball, sizeof(tarball));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s' && tar -xJf '%s' -C '%s'", g_dir,
	         g_dir, tarball, g_dir);
	REQUIRE(system(cmd) == 0);
	strncat(g_dir, "/bitlk-images", sizeof(g_dir) - strlen(g_dir) - 1);
}

static inline const char *img_path(const char *name, char *buf, size_t n)
{
	snprintf(buf, n, "%.500s/%.200s.img", g_dir, name);
	return buf;
}
#endif
