/* lb_claim.c - one owner per target for the whole run (lb_source_claim).
 *
 * Image files: flock(LOCK_EX|LOCK_NB) for fix, LOCK_SH for scan, so two
 * loopbreakers (or a loopbreaker and mtools, which flocks too) never write
 * one image at once; an fcntl lock (ntfs-3g, ntfsfix) is tested as well.
 * For fix, an attached loop device over the image that is mounted or held
 * (by device-mapper, md, a partition mount, an O_EXCL opener) refuses the
 * image; an idle one is opened O_EXCL for the run so nobody mounts it
 * meanwhile.  Block devices: O_EXCL for fix (the kernel then refuses while
 * the device, any of its partitions or its whole disk is mounted or held),
 * and the backing file's flock when the device is a loop device.  A refusal
 * is LB_EK_REFUSED naming the holder: pid and command, mount point, or
 * holder device.  The fds stay open (and the locks held) until
 * lb_source_release. */
#include "lb_source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/loop.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* ---- who is it? ------------------------------------------------------ */

/* "pid 1234 (comm)" appended to out. */
static void add_pid(char *out, size_t n, long pid)
{
	char path[64], comm[64] = "?";
	size_t l = strlen(out);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	if (l < n)
		snprintf(out + l, n - l, "%spid %ld (%s)", l ? ", " : "", pid, comm);
}

/* Holders of locks on (dev, ino) from /proc/locks, of kind "FLOCK" or
 * "POSIX"/"OFDLCK" (posix), conflicting with a shared request only if
 * WRITE.  Returns how many were found; their pids go into out. */
static int lock_holders(dev_t dev, ino_t ino, bool posix, bool writers_only, char *out, size_t n)
{
	FILE *f = fopen("/proc/locks", "re");
	char line[256];
	int found = 0;
	long seen[8];

	out[0] = '\0';
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char kind[16], adv[16], rw[16];
		unsigned maj, mnr;
		unsigned long long i;
		long pid;
		char *p = strchr(line, ':');
		bool dup = false;

		if (!p || strstr(line, "->"))
			continue; /* a waiter, not a holder */
		if (sscanf(p + 1, "%15s %15s %15s %ld %x:%x:%llu", kind, adv, rw, &pid, &maj, &mnr,
		           &i) != 7)
			continue;
		if (maj != major(dev) || mnr != minor(dev) || i != (unsigned long long)ino)
			continue;
		if (posix ? strcmp(kind, "POSIX") && strcmp(kind, "OFDLCK") : strcmp(kind, "FLOCK"))
			continue;
		if (writers_only && strcmp(rw, "WRITE"))
			continue;
		for (int k = 0; k < found && k < 8; k++)
			dup |= seen[k] == pid;
		if (dup || pid <= 0)
			continue;
		if (found < 8)
			seen[found] = pid;
		if (found++ < 3)
			add_pid(out, n, pid);
	}
	fclose(f);
	return found;
}

/* Calls hit(pid, fd path, fd name, arg) for each open file descriptor of
 * each process other than this one, until hit says yes for the process;
 * up to three such processes are named in out.  Returns how many. */
typedef bool (*fd_pred)(long pid, const char *fdpath, const char *fdname, void *arg);

static int proc_fds(fd_pred hit, void *arg, char *out, size_t n)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	const long self = (long)getpid();
	int found = 0;

	out[0] = '\0';
	if (!d)
		return 0;
	while ((de = readdir(d)) && found < 3) {
		char fdd[64], fp[384];
		long pid = strtol(de->d_name, NULL, 10);
		DIR *fds;
		struct dirent *fe;
		bool yes = false;

		if (pid <= 0 || pid == self)
			continue;
		snprintf(fdd, sizeof(fdd), "/proc/%ld/fd", pid);
		fds = opendir(fdd);
		if (!fds)
			continue;
		while (!yes && (fe = readdir(fds))) {
			if (fe->d_name[0] == '.')
				continue;
			snprintf(fp, sizeof(fp), "%s/%s", fdd, fe->d_name);
			yes = hit(pid, fp, fe->d_name, arg);
		}
		closedir(fds);
		if (yes) {
			add_pid(out, n, pid);
			found++;
		}
	}
	closedir(d);
	return found;
}

struct devset {
	const dev_t *devs;
	int ndev;
};

static bool opens_dev(long pid, const char *fdpath, const char *fdname, void *arg)
{
	const struct devset *ds = arg;
	struct stat st;

	(void)pid;
	(void)fdname;
	if (stat(fdpath, &st) || !S_ISBLK(st.st_mode))
		return false;
	for (int k = 0; k < ds->ndev; k++)
		if (st.st_rdev == ds->devs[k])
			return true;
	return false;
}

/* Processes other than this one with a block device (or one of devs) open. */
static void openers(const dev_t *devs, int ndev, char *out, size_t n)
{
	struct devset ds = { devs, ndev };

	proc_fds(opens_dev, &ds, out, n);
}

struct fileid {
	dev_t dev;
	ino_t ino;
};

static bool writes_file(long pid, const char *fdpath, const char *fdname, void *arg)
{
	const struct fileid *id = arg;
	char info[384], line[128];
	struct stat st;
	bool yes = false;
	FILE *f;

	if (stat(fdpath, &st) || !S_ISREG(st.st_mode) || st.st_dev != id->dev ||
	    st.st_ino != id->ino)
		return false;
	snprintf(info, sizeof(info), "/proc/%ld/fdinfo/%s", pid, fdname);
	f = fopen(info, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long fl;

		if (sscanf(line, "flags: %lo", &fl) == 1 && (fl & O_ACCMODE) != O_RDONLY)
			yes = true;
	}
	fclose(f);
	return yes;
}

/* true when no open file description of fd's file is writable, in any
 * process or namespace: the kernel grants a read lease only then
 * (fcntl(2), F_SETLEASE), and it is dropped at once.  false when there is
 * a writer (this process included) or it cannot tell (no lease support,
 * neither owner nor CAP_LEASE): the caller then looks through /proc, which
 * also names the writer.  This spares a scan the walk over every fd of
 * every process (most of a small scan's system time on a busy host).  A
 * writer opening the file inside the moment the lease is held breaks it
 * with SIGIO, which would end the process: SIGIO is ignored meanwhile. */
static bool no_writers(int fd)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	bool none;

	if (sigaction(SIGIO, &ign, &old) < 0)
		return false;
	none = fcntl(fd, F_SETLEASE, F_RDLCK) == 0;
	if (none)
		fcntl(fd, F_SETLEASE, F_UNLCK);
	sigaction(SIGIO, &old, NULL);
	return none;
}

/* Processes other than this one that have the regular file (dev, ino)
 * open for writing (an ntfs-3g FUSE mount, a running VM), into out. */
static int writers(dev_t dev, ino_t ino, char *out, size_t n)
{
	struct fileid id = { dev, ino };

	return proc_fds(writes_file, &id, out, n);
}

/* Where dev is mounted (first mount point from /proc/self/mountinfo). */
static bool mounted_at(dev_t dev, char *mnt, size_t n)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	bool hit = false;

	if (!f)
		return false;
	while (!hit && fgets(line, sizeof(line), f)) {
		unsigned maj, mnr;
		char point[512];

		if (sscanf(line, "%*d %*d %u:%u %*s %511s", &maj, &mnr, point) == 3 &&
		    makedev(maj, mnr) == dev) {
			snprintf(mnt, n, "%s", point);
			hit = true;
		}
	}
	fclose(f);
	return hit;
}

/* First entry of a sysfs holders/ directory ("dm-0", "md127"). */
static bool holder_of(const char *sysdir, char *out, size_t n)
{
	char p[1024];
	DIR *d;
	struct dirent *de;
	bool hit = false;

	if (snprintf(p, sizeof(p), "%s/holders", sysdir) >= (int)sizeof(p))
		return false;
	d = opendir(p);
	if (!d)
		return false;
	while (!hit && (de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(out, n, "%s", de->d_name);
			hit = true;
		}
	closedir(d);
	return hit;
}

static dev_t sys_devno(const char *sysdir)
{
	char p[1024];
	unsigned maj, mnr;
	FILE *f;
	dev_t d = 0;

	snprintf(p, sizeof(p), "%s/dev", sysdir);
	f = fopen(p, "re");
	if (f) {
		if (fscanf(f, "%u:%u", &maj, &mnr) == 2)
			d = makedev(maj, mnr);
		fclose(f);
	}
	return d;
}

/* The whole disk's sysfs directory for a block device (itself if it is one). */
static void whole_sysdir(dev_t rdev, char *out, size_t n)
{
	char p[128], real[1024], part[1100];

	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u", major(rdev), minor(rdev));
	if (!realpath(p, real)) {
		snprintf(out, n, "%s", p);
		return;
	}
	snprintf(part, sizeof(part), "%s/partition", real);
	if (access(part, F_OK) == 0) {
		char *slash = strrchr(real, '/');

		if (slash)
			*slash = '\0';
	}
	snprintf(out, n, "%s", real);
}

/* Why is the disk at sysdir (a whole disk) busy for self (the disk or one
 * of its partitions)?  A mount or a holder of the disk, or of self, or (for
 * the whole disk) of any partition: "/dev/loop0p2 is mounted on /mnt",
 * "/dev/sdb is held by md127".  "" if none. */
static void why_busy(const char *sysdir, dev_t self, char *out, size_t n)
{
	char mnt[512], hold[256];
	const char *name = strrchr(sysdir, '/') ? strrchr(sysdir, '/') + 1 : sysdir;
	dev_t whole = sys_devno(sysdir);
	DIR *d;
	struct dirent *de;

	out[0] = '\0';
	if (mounted_at(whole, mnt, sizeof(mnt))) {
		snprintf(out, n, "/dev/%s is mounted on %s", name, mnt);
		return;
	}
	if (holder_of(sysdir, hold, sizeof(hold))) {
		snprintf(out, n, "/dev/%s is held by %s", name, hold);
		return;
	}
	d = opendir(sysdir);
	if (!d)
		return;
	while (!out[0] && (de = readdir(d))) {
		char sub[1400], pf[1500];
		dev_t pd;

		if (strncmp(de->d_name, name, strlen(name)) || !strcmp(de->d_name, name))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", sysdir, de->d_name);
		snprintf(pf, sizeof(pf), "%s/partition", sub);
		pd = sys_devno(sub);
		if (access(pf, F_OK) || (self != whole && pd != self))
			continue; /* a sibling partition does not stop this one */
		if (mounted_at(pd, mnt, sizeof(mnt)))
			snprintf(out, n, "/dev/%s is mounted on %s", de->d_name, mnt);
		else if (holder_of(sub, hold, sizeof(hold)))
			snprintf(out, n, "/dev/%s is held by %s", de->d_name, hold);
	}
	closedir(d);
}

/* The dev_t of the whole disk and of each partition (for openers()). */
static int disk_devs(const char *sysdir, dev_t *devs, int max)
{
	const char *name = strrchr(sysdir, '/') ? strrchr(sysdir, '/') + 1 : sysdir;
	int k = 0;
	DIR *d;
	struct dirent *de;

	devs[k++] = sys_devno(sysdir);
	d = opendir(sysdir);
	if (!d)
		return k;
	while (k < max && (de = readdir(d))) {
		char sub[1400];

		if (strncmp(de->d_name, name, strlen(name)) || !strcmp(de->d_name, name))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", sysdir, de->d_name);
		if (sys_devno(sub))
			devs[k++] = sys_devno(sub);
	}
	closedir(d);
	return k;
}

/* ---- claims ---------------------------------------------------------- */

static int keep(struct lb_claim *c, int fd)
{
	if (c->nfd >= LB_CLAIM_MAXFD) {
		close(fd);
		return 0;
	}
	c->fd[c->nfd++] = fd;
	return 0;
}

/* flock on an open image file; on conflict, who holds it.  what names the
 * file in messages (the target, or "its backing file X"). */
static int lock_file(int fd, const struct stat *st, const char *path, const char *what,
                     bool exclusive, struct lb_err *err)
{
	struct flock fl = { .l_type = exclusive ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET };
	char who[256];

	if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			return 0; /* a file system without flock: nothing to hold */
		if (!lock_holders(st->st_dev, st->st_ino, false, !exclusive, who, sizeof(who)))
			snprintf(who, sizeof(who), "another process");
		if (exclusive)
			return lb_err_set(err, LB_EK_REFUSED, 0, "%s: in use: %s holds a lock on %s "
			                  "(flock: another loopbreaker fix or scan); nothing "
			                  "was written; run again when it has finished", path, who, what);
		return lb_err_set(err, LB_EK_REFUSED, 0, "%s: being written: %s holds a write lock "
		                  "on %s (flock: a loopbreaker fix); not scanned, scan again when it "
		                  "has finished", path, who, what);
	}
	/* Other writers take no flock: ntfs-3g (whose fcntl lock does not
	 * survive its daemonising) keeps the image open read-write while it
	 * is mounted, so does a running VM (QEMU also takes fcntl locks).
	 * An ntfs-3g whose FUSE mount was just unmounted still has the file
	 * open (and writes) for a moment: wait up to 2 s for it to go. */
	for (int i = 0; i < 40; i++) {
		fl = (struct flock){ .l_type = exclusive ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET };
		if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
			fl.l_type = F_UNLCK; /* cannot tell: no fcntl locks here */
		if (fl.l_type == F_UNLCK &&
		    (no_writers(fd) || !writers(st->st_dev, st->st_ino, who, sizeof(who))))
			return 0;
		usleep(50000);
	}
	if (fl.l_type == F_UNLCK)
		return lb_err_set(err, LB_EK_REFUSED, 0, "%s: in use: %s has %s open for writing "
		                  "(is it mounted with ntfs-3g, or a VM running on it?); %s", path,
		                  who, what, exclusive ? "nothing was written" : "not scanned");
	if (fl.l_pid > 0) {
		who[0] = '\0';
		add_pid(who, sizeof(who), fl.l_pid);
	} else if (!lock_holders(st->st_dev, st->st_ino, true, !exclusive, who, sizeof(who))) {
		snprintf(who, sizeof(who), "another process");
	}
	return lb_err_set(err, LB_EK_REFUSED, 0, "%s: in use: %s holds a %s lock on %s (fcntl: "
	                  "ntfs-3g, ntfsfix or a VM has it open); %s", path, who,
	                  fl.l_type == F_WRLCK ? "write" : "read", what,
	                  exclusive ? "nothing was written" : "not scanned");
}

/* Is the loop device at /sys/block/NAME backed by (dev, ino)?  sysfs
 * first: an unbound device has no loop/backing_file, and a bound one names
 * its file, which is compared by identity.  The LOOP_GET_STATUS64 ioctl is
 * asked only when that path no longer leads to a file (deleted, renamed, or
 * in another mount namespace); it also keeps valgrind quiet on the common
 * path (it does not model that ioctl). */
static bool loop_backs(const char *name, const struct stat *st)
{
	char p[512], back[4096];
	struct loop_info64 li;
	struct stat bs;
	FILE *f;
	int fd;
	bool hit = false;

	snprintf(p, sizeof(p), "/sys/block/%s/loop/backing_file", name);
	f = fopen(p, "re");
	if (!f)
		return false; /* not bound to a file */
	if (!fgets(back, sizeof(back), f))
		back[0] = '\0';
	fclose(f);
	back[strcspn(back, "\n")] = '\0';
	if (back[0] && stat(back, &bs) == 0)
		return bs.st_dev == st->st_dev && bs.st_ino == st->st_ino;
	snprintf(p, sizeof(p), "/dev/%s", name);
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	if (ioctl(fd, LOOP_GET_STATUS64, &li) == 0)
		hit = li.lo_inode == (uint64_t)st->st_ino && li.lo_device == (uint64_t)st->st_dev;
	close(fd);
	return hit;
}

/* fix on an image file: no attached loop device over it may be mounted or
 * held; idle ones are opened O_EXCL for the run. */
static int claim_loops(const char *path, const struct stat *st, struct lb_claim *c,
                       struct lb_err *err)
{
	DIR *d = opendir("/sys/block");
	struct dirent *de;
	int rc = 0;

	if (!d)
		return 0;
	while (rc == 0 && (de = readdir(d))) {
		char sys[512], why[1024], node[300], who[256];
		int fd;

		if (strncmp(de->d_name, "loop", 4) || !loop_backs(de->d_name, st))
			continue;
		snprintf(sys, sizeof(sys), "/sys/block/%s", de->d_name);
		snprintf(node, sizeof(node), "/dev/%s", de->d_name);
		why_busy(sys, sys_devno(sys), why, sizeof(why));
		if (why[0]) {
			rc = lb_err_set(err, LB_EK_REFUSED, 0, "%s: in use: attached as %s, and %s; "
			                "nothing was written (unmount it and detach %s first)", path,
			                node, why, node);
			break;
		}
		fd = open(node, O_RDONLY | O_EXCL | O_CLOEXEC | O_NONBLOCK);
		if (fd >= 0) {
			keep(c, fd);
			continue;
		}
		if (errno != EBUSY)
			continue;
		{
			dev_t devs[16];
			int k = disk_devs(sys, devs, 16);

			openers(devs, k, who, sizeof(who));
		}
		rc = lb_err_set(err, LB_EK_REFUSED, 0, "%s: in use: attached as %s, which is "
		                "open exclusively%s%s; nothing was written", path, node,
		                who[0] ? " by " : "", who);
	}
	closedir(d);
	return rc;
}

/* A loop device target: its backing file's flock, as for the file itself. */
static int claim_backing(const char *path, const char *wsys, bool exclusive,
                         struct lb_claim *c, struct lb_err *err)
{
	char p[1200], back[4096], what[4200];
	FILE *f;
	int fd;
	struct stat st;

	snprintf(p, sizeof(p), "%s/loop/backing_file", wsys);
	f = fopen(p, "re");
	if (!f)
		return 0;
	if (!fgets(back, sizeof(back), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	back[strcspn(back, "\n")] = '\0';
	fd = open(back, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    !loop_backs(strrchr(wsys, '/') + 1, &st)) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	snprintf(what, sizeof(what), "its backing file %s", back);
	if (lock_file(fd, &st, path, what, exclusive, err)) {
		close(fd);
		return -1;
	}
	return keep(c, fd);
}

int lb_source_claim(const char *path, bool exclusive, struct lb_claim *c, struct lb_err *err)
{
	struct stat st;
	int fd;

	memset(c, 0, sizeof(*c));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return 0; /* lb_source_open says why */
	}
	if (S_ISREG(st.st_mode)) {
		if (lock_file(fd, &st, path, "it", exclusive, err)) {
			close(fd);
			return -1;
		}
		keep(c, fd);
		if (exclusive && claim_loops(path, &st, c, err)) {
			lb_source_release(c);
			return -1;
		}
		return 0;
	}
	close(fd);
	if (!S_ISBLK(st.st_mode))
		return 0;
	{
		char wsys[1024];

		whole_sysdir(st.st_rdev, wsys, sizeof(wsys));
		if (claim_backing(path, wsys, exclusive, c, err))
			goto fail;
		if (!exclusive)
			return 0; /* scan reads a block device as it is */
		fd = open(path, O_RDONLY | O_EXCL | O_CLOEXEC);
		if (fd >= 0)
			return keep(c, fd);
		if (errno == EBUSY) {
			char why[1024] = "", who[256] = "";
			dev_t devs[16];
			int k = disk_devs(wsys, devs, 16);

			why_busy(wsys, st.st_rdev, why, sizeof(why));
			if (!why[0])
				openers(devs, k, who, sizeof(who));
			lb_err_set(err, LB_EK_REFUSED, 0, "%s: in use: %s%s%s (the kernel refuses "
			           "exclusive access to a disk while any of its partitions is mounted "
			           "or held); nothing was written", path, why[0] ? why : "open exclusively",
			           !why[0] && who[0] ? " by " : "", who);
			goto fail;
		}
		lb_err_set(err, LB_EK_IO, errno, "%s: open (exclusive)", path);
	}
fail:
	lb_source_release(c);
	return -1;
}

void lb_source_release(struct lb_claim *c)
{
	for (int i = 0; i < c->nfd; i++)
		close(c->fd[i]);   /* closing drops the flock and the O_EXCL claim */
	c->nfd = 0;
}
