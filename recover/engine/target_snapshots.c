/* target_snapshots.c - the internal snapshots of a qcow2 target, for the
 * report (docs/report-format.md, targets[].snapshots).  A fix writes the
 * active layer only; the snapshots are left as they are, and listing them
 * tells the operator that an older state (maybe with the bad file) can
 * still be reverted to.  Read with `qemu-img info --output=json -U`
 * (QEMU's own parser; -U: our claim and qemu-nbd may hold the image). */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define INFO_MAX (1u << 20)

/* qemu-img's output, NUL-terminated (malloc'd), or NULL. */
static char *qemu_img_info(const char *path)
{
	char *argv[] = { "qemu-img", "info", "--output=json", "-U", "--", (char *)path, NULL };
	posix_spawn_file_actions_t fa;
	int p[2], st;
	pid_t pid;
	size_t n = 0;
	char *buf = malloc(INFO_MAX + 1);
	ssize_t r;

	if (!buf || pipe2(p, O_CLOEXEC)) {
		free(buf);
		return NULL;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "qemu-img", &fa, NULL, argv, environ)) {
		posix_spawn_file_actions_destroy(&fa);
		close(p[0]);
		close(p[1]);
		free(buf);
		return NULL;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	while (n < INFO_MAX && (r = read(p[0], buf + n, INFO_MAX - n)) != 0) {
		if (r < 0 && errno != EINTR)
			break;
		n += r > 0 ? (size_t)r : 0;
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

json_t *eng_qcow2_snapshots(const char *path)
{
	char *text = qemu_img_info(path);
	json_t *info, *out = json_array(), *s;
	size_t i;

	if (!text)
		return out; /* no qemu-img, or it cannot read it: nothing to list */
	info = json_loads(text, 0, NULL);
	free(text);
	json_array_foreach(json_object_get(info, "snapshots"), i, s)
		json_array_append_new(out, json_pack("{s:O?, s:O?, s:O?}", "id",
		                      json_object_get(s, "id"), "name", json_object_get(s, "name"),
		                      "date_sec", json_object_get(s, "date-sec")));
	json_decref(info);
	return out;
}
