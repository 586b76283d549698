/* lb_ntfs_replay.c - journal replay through ntfsrecover. */
#include "lb_ntfs_replay.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Runs argv, collecting stdout+stderr (tail kept in out).  Returns the exit
 * status, or -1 if it could not run. */
static int run_capture(char *const argv[], char *out, size_t outlen)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2], status;
	pid_t pid;
	size_t used = 0;
	char buf[4096];
	ssize_t r;

	if (outlen)
		out[0] = '\0';
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	while ((r = read(pipefd[0], buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR)) {
		if (r <= 0 || outlen < 2)
			continue;
		/* keep the tail */
		if ((size_t)r >= outlen - 1) {
			memcpy(out, buf + r - (ssize_t)(outlen - 1), outlen - 1);
			used = outlen - 1;
		} else {
			if (used + (size_t)r > outlen - 1) {
				size_t drop = used + (size_t)r - (outlen - 1);

				memmove(out, out + drop, used - drop);
				used -= drop;
			}
			memcpy(out + used, buf, (size_t)r);
			used += (size_t)r;
		}
		out[used] = '\0';
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* /dev node of partition number partno of the block device at path. */
static int partition_node(const char *path, int partno, char *node, size_t n)
{
	struct stat st;
	char sys[512];
	DIR *d;
	struct dirent *de;
	int found = -1;

	if (stat(path, &st) < 0 || !S_ISBLK(st.st_mode))
		return -1;
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", major(st.st_rdev), minor(st.st_rdev));
	d = opendir(sys);
	if (!d)
		return -1;
	while ((de = readdir(d)) && found < 0) {
		char pf[1024];
		FILE *f;
		int num = -1;

		snprintf(pf, sizeof(pf), "%s/%s/partition", sys, de->d_name);
		f = fopen(pf, "r");
		if (!f)
			continue;
		if (fscanf(f, "%d", &num) == 1 && num == partno) {
			snprintf(node, n, "/dev/%s", de->d_name);
			found = 0;
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

int lb_ntfs_replay_journal(struct lb_source *src, int partno, uint64_t offset, uint64_t size,
                           char *out, size_t outlen, struct lb_err *err)
{
	char dev[4096] = "", loopdev[256] = "", off[32], sz[32];
	int rc;

	if (src->nbd) /* ntfsrecover opens a path: the image's bytes are not the disk's */
		return lb_err_set(err, LB_EK_REFUSED, 0, "partition %d of %s: cannot replay its "
		                  "journal through NBD (format %s): convert the image to raw "
		                  "(qemu-img convert -O raw) and fix that", partno, src->path,
		                  src->format);
	if (src->io->writable && lb_io_sync(src->io, err))
		return -1;
	if (offset == 0 && size == src->io->size && !strcmp(src->format, "raw")) {
		snprintf(dev, sizeof(dev), "%s", src->path);
	} else if (src->is_block) {
		if (partition_node(src->path, partno, dev, sizeof(dev)))
			return lb_err_set(err, LB_EK_REFUSED, 0, "no device node for partition %d of %s: "
			                  "cannot replay its journal", partno, src->path);
	} else {
		char *argv[] = { "losetup", "--find", "--show", "--offset", off, "--sizelimit", sz,
		                 src->path, NULL };

		snprintf(off, sizeof(off), "%" PRIu64, offset);
		snprintf(sz, sizeof(sz), "%" PRIu64, size);
		rc = run_capture(argv, loopdev, sizeof(loopdev));
		loopdev[strcspn(loopdev, "\r\n")] = '\0';
		if (rc != 0 || strncmp(loopdev, "/dev/loop", 9) != 0)
			return lb_err_set(err, LB_EK_REFUSED, 0, "cannot attach a loop device to replay "
			                  "the journal of partition %d of %s (needs root and loop support)%s%s",
			                  partno, src->path, loopdev[0] ? ": " : "", loopdev);
		snprintf(dev, sizeof(dev), "%s", loopdev);
	}
	{
		char *argv[] = { "ntfsrecover", dev, NULL };

		rc = run_capture(argv, out, outlen);
	}
	if (loopdev[0]) {
		char *argv[] = { "losetup", "--detach", loopdev, NULL };
		char junk[256];

		run_capture(argv, junk, sizeof(junk));
	}
	if (rc != 0) {
		char line[512];
		size_t j = 0;

		/* the tool's output folded onto one line */
		for (size_t i = 0; out[i] && j + 4 < sizeof(line); i++) {
			char c = out[i] == '\n' ? ' ' : out[i];

			if ((c == ' ' || c == '*') && (j == 0 || line[j - 1] == ' '))
				continue;
			line[j++] = c;
		}
		while (j && line[j - 1] == ' ')
			j--;
		line[j] = '\0';
		if (rc < 0)
			return lb_err_set(err, LB_EK_INTERNAL, 0, "ntfsrecover could not be run for "
			                  "partition %d", partno);
		return lb_err_set(err, LB_EK_REFUSED, 0, "ntfsrecover failed on partition %d "
		                  "(status %d)%s%s", partno, rc, line[0] ? ": " : "", line);
	}
	return 0;
}
