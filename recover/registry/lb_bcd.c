/* lb_bcd.c - BCD store on the ESP: mtools for FAT, lb_hivedit/hivex for
 * the hive. */
#include "lb_bcd.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <hivex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lb_bytes.h"
#include "lb_hivedit.h"
#include "lb_regf.h"

extern char **environ;

#define BOOT_DIR "::/EFI/Microsoft/Boot/"

/* ---- mtools ----------------------------------------------------------- */

/* Runs an mtools command; 0 on exit status 0.  The first line mtools wrote
 * to stderr (and, with out, to stdout) goes into msg. */
static int run_mtools_ex(const char *const argv[], char *msg, size_t msgn, bool out)
{
	int pfd[2], status;
	pid_t pid;
	size_t envn = 0, got = 0;
	char **envp;
	char buf[512];
	ssize_t r;

	if (msgn)
		msg[0] = '\0';
	while (environ && environ[envn])
		envn++;
	envp = calloc(envn + 2, sizeof(*envp));
	if (!envp)
		return -1;
	for (size_t i = 0, j = 0; i < envn; i++)
		if (strncmp(environ[i], "MTOOLS_SKIP_CHECK=", 18) != 0)
			envp[j++] = environ[i];
	for (size_t j = 0;; j++)
		if (!envp[j]) {
			envp[j] = "MTOOLS_SKIP_CHECK=1";
			break;
		}
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		free(envp);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		free(envp);
		return -1;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		if (nul >= 0) {
			dup2(nul, 0);
			dup2(out ? pfd[1] : nul, 1);
		}
		dup2(pfd[1], 2);
		execvpe(argv[0], (char *const *)argv, envp);
		_exit(127);
	}
	close(pfd[1]);
	free(envp);
	while ((r = read(pfd[0], buf + got, sizeof(buf) - 1 - got)) > 0 ||
	       (r < 0 && errno == EINTR))
		if (r > 0 && (got += (size_t)r) >= sizeof(buf) - 1)
			break;
	/* drain whatever is left so the child cannot block on a full pipe */
	while ((r = read(pfd[0], (char[256]){ 0 }, 256)) > 0 || (r < 0 && errno == EINTR))
		;
	close(pfd[0]);
	buf[got] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (msgn) {
		size_t l = strlen(buf) < msgn - 1 ? strlen(buf) : msgn - 1;

		memcpy(msg, buf, l);
		msg[l] = '\0';
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !buf[0] && msgn)
		snprintf(msg, msgn, "%s not found (install mtools)", argv[0]);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int run_mtools(const char *const argv[], char *msg, size_t msgn)
{
	return run_mtools_ex(argv, msg, msgn, false);
}

static int image_spec(char *out, size_t n, const char *image, uint64_t off, struct lb_err *err);

/* "::/X <5-9> <12> <0>" -> clusters[] = {5,9, 12,12, 0,0} (pairs), count of pairs */
static int parse_showfat(const char *line, uint32_t (*r)[2], int max)
{
	int n = 0;
	const char *p = line;

	while ((p = strchr(p, '<')) && n < max) {
		unsigned long a, b;
		char *end;

		a = strtoul(p + 1, &end, 10);
		b = *end == '-' ? strtoul(end + 1, &end, 10) : a;
		if (*end != '>' || end == p + 1)
			return -1;
		r[n][0] = (uint32_t)a;
		r[n][1] = (uint32_t)b;
		n++;
		p = end;
	}
	return n;
}

/* A leftover BCD.NEW whose cluster chain runs into a free cluster (a fix
 * cut off after mtools wrote its directory entry but before its FAT): fsck
 * would truncate it, and deleting it with mtools would "free" clusters it
 * does not own (FAT entry 0 among them: both FATs then look corrupt).  Drop
 * just its directory entry (first byte 0xE5), touching no FAT.  *dropped
 * says whether anything was done. */
int lb_bcd_drop_broken_new(const char *image, uint64_t esp_offset, int *dropped,
                           struct lb_err *err)
{
	char spec[4200], line[512];
	uint32_t chain[64][2], dirs[64][2];
	int nc, nd, fd, rc = -1;
	uint8_t bs[512], *cl = NULL;
	uint32_t bps, spc, csize, start;
	uint64_t data;
	bool broken = false;

	*dropped = 0;
	if (image_spec(spec, sizeof(spec), image, esp_offset, err))
		return -1;
	{
		const char *argv[] = { "mshowfat", "-i", spec, LB_BCD_ESP_NEW_PATH, NULL };

		if (run_mtools_ex(argv, line, sizeof(line), true))
			return 0; /* no BCD.NEW: nothing to do */
	}
	nc = parse_showfat(line, chain, 64);
	for (int i = 0; i < nc; i++)
		broken |= chain[i][0] == 0;
	if (nc <= 0 || !broken || chain[0][0] < 2)
		return 0;
	start = chain[0][0];
	{
		const char *argv[] = { "mshowfat", "-i", spec, "::/EFI/Microsoft/Boot", NULL };

		if (run_mtools_ex(argv, line, sizeof(line), true) ||
		    (nd = parse_showfat(line, dirs, 64)) <= 0)
			return lb_err_set(err, LB_EK_IO, 0, "ESP: cannot locate \\EFI\\Microsoft\\Boot "
			                  "to drop a broken BCD.NEW");
	}
	fd = open(image, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return lb_err_set(err, LB_EK_IO, errno, "%s", image);
	if (pread(fd, bs, sizeof(bs), (off_t)esp_offset) != (ssize_t)sizeof(bs) ||
	    bs[510] != 0x55 || bs[511] != 0xAA) {
		lb_err_set(err, LB_EK_INPUT, 0, "ESP boot sector unreadable");
		goto out;
	}
	bps = lb_le16(bs + 11);
	spc = bs[13];
	if (bps < 512 || bps > 4096 || (bps & (bps - 1)) || !spc || (spc & (spc - 1))) {
		lb_err_set(err, LB_EK_INPUT, 0, "ESP boot sector geometry out of range");
		goto out;
	}
	csize = bps * spc;
	/* data area: reserved + FATs (+ the FAT12/16 root directory) */
	data = (uint64_t)lb_le16(bs + 14) + (uint64_t)bs[16] * (lb_le16(bs + 22) ? lb_le16(bs + 22) :
	                                                      lb_le32(bs + 36)) +
	       ((uint64_t)lb_le16(bs + 17) * 32 + bps - 1) / bps;
	data = esp_offset + data * bps;
	cl = malloc(csize);
	if (!cl) {
		lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "ESP");
		goto out;
	}
	for (int d = 0; d < nd && !*dropped; d++)
		for (uint32_t c = dirs[d][0]; c >= 2 && c <= dirs[d][1] && !*dropped; c++) {
			off_t at = (off_t)(data + (uint64_t)(c - 2) * csize);

			if (pread(fd, cl, csize, at) != (ssize_t)csize) {
				lb_err_set(err, LB_EK_IO, errno, "ESP: reading a directory cluster");
				goto out;
			}
			for (uint32_t e = 0; e + 32 <= csize; e += 32) {
				static const uint8_t deleted = 0xE5;
				uint8_t *de = cl + e;
				uint32_t sc = lb_le16(de + 26) | (uint32_t)lb_le16(de + 20) << 16;

				if (de[0] == 0)
					break;
				if (de[0] == 0xE5 || de[11] == 0x0F || memcmp(de, "BCD     NEW", 11) ||
				    sc != start)
					continue;
				if (pwrite(fd, &deleted, 1, at + (off_t)e) != 1 || fsync(fd)) {
					lb_err_set(err, LB_EK_IO, errno, "ESP: dropping the BCD.NEW entry");
					goto out;
				}
				*dropped = 1;
				break;
			}
		}
	rc = 0;
out:
	free(cl);
	close(fd);
	return rc;
}

static int image_spec(char *out, size_t n, const char *image, uint64_t off, struct lb_err *err)
{
	if (!image || !*image)
		return lb_err_set(err, LB_EK_USAGE, 0, "no image given");
	if ((size_t)snprintf(out, n, "%s@@%llu", image, (unsigned long long)off) >= n)
		return lb_err_set(err, LB_EK_USAGE, 0, "image path too long");
	return 0;
}

static bool fat_name_ok(const char *s)
{
	size_t base = 0, ext = 0;
	bool dot = false;

	for (; *s; s++) {
		if (*s == '.') {
			if (dot)
				return false;
			dot = true;
			continue;
		}
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
		if (dot)
			ext++;
		else
			base++;
	}
	return base >= 1 && base <= 8 && ext <= 3 && (!dot || ext > 0);
}

int lb_bcd_fetch(const char *image, uint64_t esp_offset, const char *dest, struct lb_err *err)
{
	return lb_bcd_fetch_path(image, esp_offset, LB_BCD_ESP_PATH, dest, err);
}

int lb_bcd_complete(const char *image, uint64_t esp_offset, struct lb_err *err)
{
	char spec[4200], msg[256];

	if (image_spec(spec, sizeof(spec), image, esp_offset, err))
		return -1;
	{
		const char *argv[] = { "mdir", "-b", "-i", spec, LB_BCD_ESP_PATH, NULL };

		if (run_mtools(argv, msg, sizeof(msg)) == 0)
			return lb_err_set(err, LB_EK_REFUSED, 0, "\\EFI\\Microsoft\\Boot\\BCD exists "
			                  "again: BCD.NEW left as it is");
	}
	{
		const char *argv[] = { "mren", "-i", spec, LB_BCD_ESP_NEW_PATH, LB_BCD_ESP_PATH, NULL };

		if (run_mtools(argv, msg, sizeof(msg)))
			return lb_err_set(err, LB_EK_IO, 0, "renaming BCD.NEW to BCD: %s",
			                  msg[0] ? msg : "mren failed");
	}
	return 0;
}

int lb_bcd_fetch_path(const char *image, uint64_t esp_offset, const char *esp_path,
                      const char *dest, struct lb_err *err)
{
	char spec[4200], msg[256];
	struct stat st;

	if (image_spec(spec, sizeof(spec), image, esp_offset, err))
		return -1;
	if (!dest || !*dest)
		return lb_err_set(err, LB_EK_USAGE, 0, "no destination for the BCD copy");
	if (lstat(dest, &st) == 0)
		return lb_err_set(err, LB_EK_REFUSED, 0, "%s already exists", dest);
	{
		const char *argv[] = { "mcopy", "-n", "-i", spec, esp_path, dest, NULL };

		if (run_mtools(argv, msg, sizeof(msg))) {
			unlink(dest);
			return lb_err_set(err, LB_EK_IO, 0, "reading %s from %s: %s", esp_path, spec,
			                  msg[0] ? msg : "mcopy failed");
		}
	}
	return 0;
}

static int same_file_bytes(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int same = 0;

	if (fa && fb) {
		char ba[65536], bb[65536];
		size_t na, nb;

		same = 1;
		do {
			na = fread(ba, 1, sizeof(ba), fa);
			nb = fread(bb, 1, sizeof(bb), fb);
			if (na != nb || memcmp(ba, bb, na) != 0) {
				same = 0;
				break;
			}
		} while (na > 0);
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

int lb_bcd_put(const char *image, uint64_t esp_offset, const char *src, const char *evidence_name,
               struct lb_err *err)
{
	char spec[4200], msg[256], evid[64], verify[4200];
	struct lb_bcd_entry e;
	const char *tmpname = BOOT_DIR "BCD.NEW";

	if (image_spec(spec, sizeof(spec), image, esp_offset, err))
		return -1;
	if (!evidence_name || !fat_name_ok(evidence_name) || !strcasecmp(evidence_name, "BCD") ||
	    !strcasecmp(evidence_name, "BCD.NEW"))
		return lb_err_set(err, LB_EK_USAGE, 0, "evidence name must be a free 8.3 name like BCD.LB1");
	/* what goes back must be a clean BCD hive */
	if (lb_bcd_default(src, &e, err))
		return lb_err_wrap(err, "refusing to put back %s", src);
	snprintf(evid, sizeof(evid), BOOT_DIR "%s", evidence_name);
	{
		const char *argv[] = { "mdir", "-b", "-i", spec, evid, NULL };

		if (run_mtools(argv, msg, sizeof(msg)) == 0)
			return lb_err_set(err, LB_EK_REFUSED, 0,
			                  "%s already exists on the ESP: choose another evidence name", evid);
	}
	{
		const char *argv[] = { "mcopy", "-D", "o", "-i", spec, src, tmpname, NULL };

		if (run_mtools(argv, msg, sizeof(msg)))
			return lb_err_set(err, LB_EK_IO, 0, "writing %s: %s", tmpname,
			                  msg[0] ? msg : "mcopy failed");
	}
	/* read it back before touching the original */
	if ((size_t)snprintf(verify, sizeof(verify), "%s.verify", src) >= sizeof(verify))
		return lb_err_set(err, LB_EK_USAGE, 0, "path too long");
	unlink(verify);
	{
		const char *argv[] = { "mcopy", "-n", "-i", spec, tmpname, verify, NULL };
		int ok = run_mtools(argv, msg, sizeof(msg)) == 0 && same_file_bytes(src, verify);

		unlink(verify);
		if (!ok) {
			const char *del[] = { "mdel", "-i", spec, tmpname, NULL };

			run_mtools(del, msg, sizeof(msg));
			return lb_err_set(err, LB_EK_IO, 0, "%s does not read back as written", tmpname);
		}
	}
	{
		const char *argv[] = { "mren", "-i", spec, LB_BCD_ESP_PATH, evid, NULL };

		if (run_mtools(argv, msg, sizeof(msg)))
			return lb_err_set(err, LB_EK_IO, 0, "renaming BCD to %s: %s (BCD unchanged, %s left)",
			                  evidence_name, msg[0] ? msg : "mren failed", tmpname);
	}
	{
		const char *argv[] = { "mren", "-i", spec, tmpname, LB_BCD_ESP_PATH, NULL };

		if (run_mtools(argv, msg, sizeof(msg))) {
			const char *back[] = { "mren", "-i", spec, evid, LB_BCD_ESP_PATH, NULL };
			char m2[256];
			int undone = run_mtools(back, m2, sizeof(m2)) == 0;

			return lb_err_set(err, LB_EK_IO, 0, "renaming BCD.NEW to BCD: %s (%s)",
			                  msg[0] ? msg : "mren failed",
			                  undone ? "original BCD put back" : "original is now the evidence file");
		}
	}
	return 0;
}

/* ---- hive ------------------------------------------------------------- */

static bool guid_ok(const char *s)
{
	static const char pat[] = "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}";

	if (strlen(s) != sizeof(pat) - 1)
		return false;
	for (size_t i = 0; pat[i]; i++)
		if (pat[i] == 'x' ? !isxdigit((unsigned char)s[i]) : s[i] != pat[i])
			return false;
	return true;
}

static hive_node_h path_node(hive_h *h, const char *path)
{
	char tmp[512], *save = NULL, *part;
	hive_node_h n = hivex_root(h);

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (part = strtok_r(tmp, "\\", &save); part && n; part = strtok_r(NULL, "\\", &save))
		n = hivex_node_get_child(h, n, part);
	return n;
}

/* Element value of Objects\{guid}\Elements\<el>; 0 found, 1 absent. */
static int element(hive_h *h, const char *guid, const char *el, hive_type *t, char **data,
                   size_t *len)
{
	char path[160];
	hive_node_h n;
	hive_value_h v;

	snprintf(path, sizeof(path), "Objects\\%s\\Elements\\%s", guid, el);
	n = path_node(h, path);
	if (!n)
		return 1;
	v = hivex_node_get_value(h, n, "Element");
	if (!v)
		return 1;
	*data = hivex_value_value(h, v, t, len);
	return *data ? 0 : -1;
}

static int safeboot_of(hive_h *h, const char *guid, int *mode, struct lb_err *err)
{
	hive_type t;
	char *d = NULL;
	size_t len;
	int rc = element(h, guid, "25000080", &t, &d, &len);
	uint64_t v = 0;

	*mode = LB_SAFEBOOT_NONE;
	if (rc < 0)
		return lb_err_set(err, LB_EK_INPUT, errno, "reading safeboot element of %s", guid);
	if (rc > 0)
		return 0;
	if (t != hive_t_REG_BINARY || len != 8) {
		free(d);
		return lb_err_set(err, LB_EK_INPUT, 0, "safeboot element of %s: type %d, %zu bytes", guid,
		                  (int)t, len);
	}
	for (int i = 7; i >= 0; i--)
		v = v << 8 | (uint8_t)d[i];
	free(d);
	if (v > 2)
		return lb_err_set(err, LB_EK_INPUT, 0, "safeboot element of %s: unknown mode %llu", guid,
		                  (unsigned long long)v);
	*mode = (int)v;
	return 0;
}

static int entry_of(hive_h *h, const char *guid, struct lb_bcd_entry *e, struct lb_err *err)
{
	char path[160];
	hive_node_h n;
	hive_value_h v;
	hive_type t;
	char *d = NULL;
	size_t len;

	snprintf(path, sizeof(path), "Objects\\%s", guid);
	if (!path_node(h, path))
		return lb_err_set(err, LB_EK_INPUT, 0, "BCD has no object %s", guid);
	snprintf(e->guid, sizeof(e->guid), "%s", guid);
	snprintf(path, sizeof(path), "Objects\\%s\\Description", guid);
	n = path_node(h, path);
	if (n && (v = hivex_node_get_value(h, n, "Type")) != 0 &&
	    hivex_value_type(h, v, &t, &len) == 0 && t == hive_t_REG_DWORD && len == 4)
		e->type = (uint32_t)hivex_value_dword(h, v);
	if (element(h, guid, "12000004", &t, &d, &len) == 0) {
		free(d);
		snprintf(path, sizeof(path), "Objects\\%s\\Elements\\12000004", guid);
		n = path_node(h, path);
		v = n ? hivex_node_get_value(h, n, "Element") : 0;
		if (v && (t == hive_t_REG_SZ || t == hive_t_REG_EXPAND_SZ)) {
			char *s = hivex_value_string(h, v);

			if (s) {
				snprintf(e->description, sizeof(e->description), "%s", s);
				free(s);
			}
		}
	}
	return safeboot_of(h, guid, &e->safeboot, err);
}

/* Default entry GUID from the boot manager's 23000003 element. */
static int default_guid(hive_h *h, char *guid, size_t n, struct lb_err *err)
{
	hive_node_h node = path_node(h, "Objects\\" LB_BCD_BOOTMGR_GUID "\\Elements\\23000003");
	hive_value_h v;
	hive_type t;
	size_t len;
	char *s;

	if (!path_node(h, "Objects\\" LB_BCD_BOOTMGR_GUID))
		return lb_err_set(err, LB_EK_INPUT, 0, "no Windows Boot Manager object: not a BCD store");
	if (!node || !(v = hivex_node_get_value(h, node, "Element")))
		return lb_err_set(err, LB_EK_INPUT, 0, "boot manager has no default entry (23000003)");
	if (hivex_value_type(h, v, &t, &len) != 0 || t != hive_t_REG_SZ)
		return lb_err_set(err, LB_EK_INPUT, 0, "boot manager default element is not REG_SZ");
	s = hivex_value_string(h, v);
	if (!s)
		return lb_err_set(err, LB_EK_INPUT, errno, "reading the default entry GUID");
	if (!guid_ok(s)) {
		lb_err_set(err, LB_EK_INPUT, 0, "default entry \"%.60s\" is not a GUID", s);
		free(s);
		return -1;
	}
	snprintf(guid, n, "%s", s);
	free(s);
	return 0;
}

static int check_hive_file(const char *path, struct lb_err *err)
{
	struct lb_regf_info in;

	if (lb_hivedit_check_file(path, 64u * 1024 * 1024, &in, err))
		return -1;
	if (in.dirty)
		return lb_err_set(err, LB_EK_REFUSED, 0,
		                  "%s is dirty (sequence %u/%u): replay BCD.LOG1/LOG2 first", path,
		                  in.seq1, in.seq2);
	return 0;
}

int lb_bcd_default(const char *bcd_path, struct lb_bcd_entry *e, struct lb_err *err)
{
	hive_h *h;
	char guid[64];
	int rc;

	memset(e, 0, sizeof(*e));
	e->safeboot = LB_SAFEBOOT_NONE;
	if (check_hive_file(bcd_path, err))
		return -1;
	h = hivex_open(bcd_path, 0);
	if (!h)
		return lb_err_set(err, LB_EK_INPUT, errno, "hivex cannot open %s", bcd_path);
	rc = default_guid(h, guid, sizeof(guid), err);
	if (!rc)
		rc = entry_of(h, guid, e, err);
	hivex_close(h);
	return rc;
}

int lb_bcd_set_safeboot(const char *in_path, const char *out_path, const char *guid, int mode,
                        int *old_mode, struct lb_err *err)
{
	struct lb_hivedit he;
	struct lb_bcd_entry e;
	char g[64], key[160];
	int rc;

	if (mode < LB_SAFEBOOT_NONE || mode > LB_SAFEBOOT_DSREPAIR)
		return lb_err_set(err, LB_EK_USAGE, 0, "safeboot mode %d (want -1..2)", mode);
	if (guid && !guid_ok(guid))
		return lb_err_set(err, LB_EK_USAGE, 0, "\"%.60s\" is not a {GUID}", guid);
	if (lb_hivedit_open(in_path, &he, err))
		return -1;
	if (guid)
		snprintf(g, sizeof(g), "%s", guid);
	else if (default_guid(he.h, g, sizeof(g), err))
		goto fail;
	memset(&e, 0, sizeof(e));
	if (entry_of(he.h, g, &e, err))
		goto fail;
	if (old_mode)
		*old_mode = e.safeboot;
	snprintf(key, sizeof(key), "Objects\\%s\\Elements\\25000080", g);
	if (mode == LB_SAFEBOOT_NONE) {
		rc = lb_hivedit_delete_key(&he, key, err);
	} else {
		uint8_t v[8] = { (uint8_t)mode, 0, 0, 0, 0, 0, 0, 0 };

		rc = lb_hivedit_set_binary(&he, key, "Element", v, 8, LB_HIVEDIT_CREATE_KEYS, NULL, err);
	}
	if (rc < 0)
		goto fail;
	if (lb_hivedit_commit(&he, out_path, err))
		goto fail;
	lb_hivedit_close(&he);
	return 0;
fail:
	lb_hivedit_close(&he);
	return -1;
}
