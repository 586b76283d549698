/* lb-mkhive - test fixture helper: make a Windows registry hive (regf) from
 * a small .reg-like text spec.  Test set-up only (never shipped).
 *
 *   lb-mkhive [--dirty] [--minor 3|5] [--root NAME] OUT.hive SPEC
 *
 * SPEC is a file or "-" for stdin.  hivex cannot create an empty hive, so a
 * minimal one (base block, one hbin with an sk cell and a root nk cell) is
 * written first, then opened with hivex (HIVEX_OPEN_WRITE), the spec is
 * applied and the hive committed.  --dirty makes the sequence numbers in the
 * base block differ afterwards (a hive Windows did not finish writing).
 *
 * Spec (see docs/fixtures.md):
 *   # comment            ; comment
 *   [Key\Sub\Path]       select (create) a key below the root; [\] = root
 *   "Name"=sz:text       REG_SZ  (UTF-16LE + NUL)   @=sz:x = default value
 *   "Name"=expand_sz:t   REG_EXPAND_SZ
 *   "Name"=multi_sz:a|b  REG_MULTI_SZ ("|" separates; empty = no strings)
 *   "Name"=dword:N       REG_DWORD (decimal or 0x hex)
 *   "Name"=dword_be:N    REG_DWORD_BIG_ENDIAN
 *   "Name"=qword:N       REG_QWORD
 *   "Name"=hex:aa,bb     REG_BINARY
 *   "Name"=hex(N):aa,bb  raw bytes with value type N (decimal or 0x hex)
 *   "Name"=none:         REG_NONE, no data
 *   "Name"=-             delete the value
 */
#include <errno.h>
#include <fcntl.h>
#include <hivex.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PAGE 4096

static const char *g_spec_name = "spec";
static unsigned g_line;

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "lb-mkhive: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static void spec_error(const char *msg, const char *arg)
{
	fprintf(stderr, "lb-mkhive: %s:%u: %s%s%s\n", g_spec_name, g_line, msg,
	        arg ? ": " : "", arg ? arg : "");
	exit(1);
}

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static uint32_t get32(const unsigned char *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t regf_checksum(const unsigned char *base)
{
	uint32_t x = 0;
	for (int i = 0; i < 127; i++)
		x ^= get32(base + 4 * i);
	if (x == 0xffffffffu)
		x = 0xfffffffeu;
	else if (x == 0)
		x = 1;
	return x;
}

/* 2024-07-19T00:00:00Z as a FILETIME: a fixed time keeps fixtures reproducible. */
#define FIXED_FILETIME 133658208000000000ULL

/* A SID: revision 1, authority 5 (NT AUTHORITY), the given sub-authorities. */
static size_t put_sid(unsigned char *p, const uint32_t *sub, int n)
{
	p[0] = 1;
	p[1] = (unsigned char)n;
	memset(p + 2, 0, 5);
	p[7] = 5;
	for (int i = 0; i < n; i++)
		put32(p + 8 + 4 * i, sub[i]);
	return 8 + 4 * (size_t)n;
}

/* A self-relative security descriptor: owner Administrators, group SYSTEM,
 * DACL granting KEY_ALL_ACCESS to SYSTEM and Administrators (inherited by
 * sub-keys). Returns its length. */
static size_t make_sd(unsigned char *sd)
{
	static const uint32_t admins[] = { 32, 544 }, system[] = { 18 };
	size_t off = 20;
	sd[0] = 1;                       /* revision */
	sd[1] = 0;
	put16(sd + 2, 0x8004);           /* SE_SELF_RELATIVE | SE_DACL_PRESENT */
	put32(sd + 4, (uint32_t)off);    /* owner */
	off += put_sid(sd + off, admins, 2);
	put32(sd + 8, (uint32_t)off);    /* group */
	off += put_sid(sd + off, system, 1);
	put32(sd + 12, 0);               /* no SACL */
	put32(sd + 16, (uint32_t)off);   /* DACL */
	unsigned char *acl = sd + off;
	size_t a = 8;
	const uint32_t *sids[2] = { system, admins };
	const int nsub[2] = { 1, 2 };
	for (int i = 0; i < 2; i++) {
		unsigned char *ace = acl + a;
		ace[0] = 0;              /* ACCESS_ALLOWED_ACE_TYPE */
		ace[1] = 0x02;           /* CONTAINER_INHERIT_ACE */
		put32(ace + 4, 0xf003f); /* KEY_ALL_ACCESS */
		size_t len = 8 + put_sid(ace + 8, sids[i], nsub[i]);
		put16(ace + 2, (uint16_t)len);
		a += len;
	}
	acl[0] = 2;                      /* ACL_REVISION */
	acl[1] = 0;
	put16(acl + 2, (uint16_t)a);
	put16(acl + 4, 2);               /* ACE count */
	put16(acl + 6, 0);
	return off + a;
}

/* Writes the minimal empty hive (base block + one hbin) to path. */
static void write_empty_hive(const char *path, int minor, const char *root_name)
{
	static unsigned char buf[2 * PAGE];
	memset(buf, 0, sizeof buf);
	unsigned char *base = buf, *hbin = buf + PAGE;
	size_t name_len = strlen(root_name);
	if (name_len == 0 || name_len > 255)
		die("bad root key name '%s'", root_name);

	/* hbin header: 32 bytes; cells follow, offsets relative to the first hbin */
	memcpy(hbin, "hbin", 4);
	put32(hbin + 4, 0);
	put32(hbin + 8, PAGE);
	put64(hbin + 0x14, FIXED_FILETIME);

	/* sk cell at 0x20 */
	uint32_t sk_off = 0x20;
	unsigned char *sk = hbin + sk_off;
	size_t sd_len = make_sd(sk + 4 + 0x14);
	size_t sk_size = (4 + 0x14 + sd_len + 7) & ~(size_t)7;
	put32(sk, (uint32_t)-(int32_t)sk_size);
	memcpy(sk + 4, "sk", 2);
	put32(sk + 4 + 0x04, sk_off);    /* flink: only sk in the list */
	put32(sk + 4 + 0x08, sk_off);    /* blink */
	put32(sk + 4 + 0x0c, 1);         /* reference count: the root key */
	put32(sk + 4 + 0x10, (uint32_t)sd_len);

	/* root nk cell after it */
	uint32_t nk_off = sk_off + (uint32_t)sk_size;
	unsigned char *nk = hbin + nk_off;
	size_t nk_size = (4 + 0x4c + name_len + 7) & ~(size_t)7;
	unsigned char *n = nk + 4;
	put32(nk, (uint32_t)-(int32_t)nk_size);
	memcpy(n, "nk", 2);
	put16(n + 0x02, 0x2c);           /* HIVE_ENTRY | NO_DELETE | COMP_NAME */
	put64(n + 0x04, FIXED_FILETIME);
	put32(n + 0x10, 0xffffffffu);    /* parent: none */
	put32(n + 0x14, 0);              /* subkeys */
	put32(n + 0x18, 0);
	put32(n + 0x1c, 0xffffffffu);    /* subkey list */
	put32(n + 0x20, 0xffffffffu);    /* volatile subkey list */
	put32(n + 0x24, 0);              /* values */
	put32(n + 0x28, 0xffffffffu);    /* value list */
	put32(n + 0x2c, sk_off);         /* security */
	put32(n + 0x30, 0xffffffffu);    /* class name */
	put16(n + 0x48, (uint16_t)name_len);
	put16(n + 0x4a, 0);
	memcpy(n + 0x4c, root_name, name_len);

	/* the rest of the hbin is one free cell (positive size) */
	uint32_t free_off = nk_off + (uint32_t)nk_size;
	put32(hbin + free_off, PAGE - free_off);

	/* base block */
	memcpy(base, "regf", 4);
	put32(base + 0x04, 1);           /* primary sequence number */
	put32(base + 0x08, 1);           /* secondary: equal = clean */
	put64(base + 0x0c, FIXED_FILETIME);
	put32(base + 0x14, 1);           /* major */
	put32(base + 0x18, (uint32_t)minor);
	put32(base + 0x1c, 0);           /* primary file */
	put32(base + 0x20, 1);           /* direct memory load */
	put32(base + 0x24, nk_off);      /* root cell */
	put32(base + 0x28, PAGE);        /* hive bins data size */
	put32(base + 0x2c, 1);           /* clustering factor */
	static const char fname[] = "\\SystemRoot\\System32\\Config\\HIVE";
	for (size_t i = 0; i < sizeof fname - 1 && i < 31; i++)
		put16(base + 0x30 + 2 * i, (unsigned char)fname[i]);
	put32(base + 0x1fc, regf_checksum(base));

	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, sizeof buf) != (ssize_t)sizeof buf || close(fd) != 0)
		die("cannot write %s", path);
}

/* Rewrites the base block of a committed hive: sequence numbers differ. */
static void make_dirty(const char *path)
{
	unsigned char base[512];
	int fd = open(path, O_RDWR);
	if (fd < 0 || pread(fd, base, sizeof base, 0) != (ssize_t)sizeof base)
		die("cannot read %s", path);
	uint32_t seq1 = get32(base + 4);
	put32(base + 4, seq1 + 1);       /* primary bumped, secondary left behind */
	put32(base + 8, seq1);
	put32(base + 0x1fc, regf_checksum(base));
	if (pwrite(fd, base, sizeof base, 0) != (ssize_t)sizeof base || close(fd) != 0)
		die("cannot write %s", path);
}

/* ---- growable byte buffer ---- */
struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			die("%s", "out of memory");
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void buf_u16(struct buf *b, uint16_t v)
{
	unsigned char c[2];
	put16(c, v);
	buf_add(b, c, 2);
}

/* UTF-8 [s, s+n) -> UTF-16LE appended to b (no terminator). */
static void utf8_to_utf16le(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		uint32_t c;
		int extra;
		if (*p < 0x80) {
			c = *p;
			extra = 0;
		} else if ((*p & 0xe0) == 0xc0) {
			c = *p & 0x1f;
			extra = 1;
		} else if ((*p & 0xf0) == 0xe0) {
			c = *p & 0x0f;
			extra = 2;
		} else if ((*p & 0xf8) == 0xf0) {
			c = *p & 0x07;
			extra = 3;
		} else {
			spec_error("invalid UTF-8", NULL);
			return;
		}
		p++;
		for (int i = 0; i < extra; i++, p++) {
			if (p >= end || (*p & 0xc0) != 0x80)
				spec_error("invalid UTF-8", NULL);
			c = c << 6 | (*p & 0x3f);
		}
		if (c >= 0x10000) {
			c -= 0x10000;
			buf_u16(b, (uint16_t)(0xd800 | (c >> 10)));
			buf_u16(b, (uint16_t)(0xdc00 | (c & 0x3ff)));
		} else {
			buf_u16(b, (uint16_t)c);
		}
	}
}

static uint64_t parse_number(const char *s, uint64_t max)
{
	char *end;
	errno = 0;
	if (*s == '-' || *s == '\0')
		spec_error("bad number", s);
	unsigned long long v = strtoull(s, &end, 0);
	while (*end == ' ' || *end == '\t')
		end++;
	if (errno || *end != '\0' || v > max)
		spec_error("bad number", s);
	return v;
}

static void parse_hex_bytes(struct buf *b, const char *s)
{
	while (*s) {
		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (!*s)
			break;
		char *end;
		errno = 0;
		unsigned long v = strtoul(s, &end, 16);
		if (end == s || errno || v > 0xff || (*end && *end != ',' && *end != ' ' && *end != '\t'))
			spec_error("bad hex byte list", s);
		unsigned char c = (unsigned char)v;
		buf_add(b, &c, 1);
		s = end;
	}
}

/* ---- spec application ---- */

static hive_node_h get_or_add_key(hive_h *h, const char *path)
{
	hive_node_h node = hivex_root(h);
	if (!node)
		die("hivex_root: %s", strerror(errno));
	char *copy = strdup(path), *save = NULL;
	for (char *part = strtok_r(copy, "\\", &save); part; part = strtok_r(NULL, "\\", &save)) {
		errno = 0;
		hive_node_h child = hivex_node_get_child(h, node, part);
		if (!child) {
			if (errno)
				spec_error("cannot look up key", part);
			child = hivex_node_add_child(h, node, part);
			if (!child)
				spec_error("cannot add key", part);
		}
		node = child;
	}
	free(copy);
	return node;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

static void apply_value(hive_h *h, hive_node_h node, char *line)
{
	char name[1024];
	size_t nlen = 0;
	char *p = line;
	if (*p == '@') {
		p++;                   /* the default value: empty name */
	} else if (*p == '"') {
		p++;
		while (*p && *p != '"') {
			if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
			if (nlen + 1 >= sizeof name)
				spec_error("value name too long", NULL);
			name[nlen++] = *p++;
		}
		if (*p != '"')
			spec_error("unterminated value name", line);
		p++;
	} else {
		spec_error("expected \"Name\"=type:value or @=type:value", line);
	}
	name[nlen] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '=')
		spec_error("expected '='", line);
	p = trim(p + 1);

	if (strcmp(p, "-") == 0) {
		hive_value_h v = hivex_node_get_value(h, node, name);
		if (!v)
			return;
		/* hivex has no single-value delete: rewrite the set without it */
		size_t nv = hivex_node_nr_values(h, node);
		hive_value_h *vals = hivex_node_values(h, node);
		hive_set_value *set = calloc(nv ? nv : 1, sizeof *set);
		size_t k = 0;
		for (size_t i = 0; vals && vals[i]; i++) {
			if (vals[i] == v)
				continue;
			hive_type t;
			size_t len;
			set[k].key = hivex_value_key(h, vals[i]);
			set[k].value = hivex_value_value(h, vals[i], &t, &len);
			set[k].t = t;
			set[k].len = len;
			k++;
		}
		if (hivex_node_set_values(h, node, k, set, 0) != 0)
			spec_error("cannot delete value", name);
		for (size_t i = 0; i < k; i++) {
			free(set[i].key);
			free(set[i].value);
		}
		free(set);
		free(vals);
		return;
	}

	char *colon = strchr(p, ':');
	if (!colon)
		spec_error("expected type:value", p);
	*colon = '\0';
	char *type = trim(p), *data = colon + 1;
	struct buf b = { 0 };
	hive_type t;
	if (strcasecmp(type, "sz") == 0 || strcasecmp(type, "expand_sz") == 0) {
		t = strcasecmp(type, "sz") == 0 ? hive_t_REG_SZ : hive_t_REG_EXPAND_SZ;
		utf8_to_utf16le(&b, data, strlen(data));
		buf_u16(&b, 0);
	} else if (strcasecmp(type, "multi_sz") == 0) {
		t = hive_t_REG_MULTI_SZ;
		if (*data) {
			for (char *s = data;;) {
				char *bar = strchr(s, '|');
				size_t n = bar ? (size_t)(bar - s) : strlen(s);
				utf8_to_utf16le(&b, s, n);
				buf_u16(&b, 0);
				if (!bar)
					break;
				s = bar + 1;
			}
		}
		buf_u16(&b, 0);
	} else if (strcasecmp(type, "dword") == 0 || strcasecmp(type, "dword_be") == 0) {
		uint32_t v = (uint32_t)parse_number(trim(data), 0xffffffffu);
		unsigned char c[4];
		if (strcasecmp(type, "dword") == 0) {
			t = hive_t_REG_DWORD;
			put32(c, v);
		} else {
			t = hive_t_REG_DWORD_BIG_ENDIAN;
			c[0] = v >> 24, c[1] = v >> 16, c[2] = v >> 8, c[3] = (unsigned char)v;
		}
		buf_add(&b, c, 4);
	} else if (strcasecmp(type, "qword") == 0) {
		t = hive_t_REG_QWORD;
		unsigned char c[8];
		put64(c, parse_number(trim(data), UINT64_MAX));
		buf_add(&b, c, 8);
	} else if (strcasecmp(type, "hex") == 0) {
		t = hive_t_REG_BINARY;
		parse_hex_bytes(&b, data);
	} else if (strncasecmp(type, "hex(", 4) == 0 && type[strlen(type) - 1] == ')') {
		type[strlen(type) - 1] = '\0';
		t = (hive_type)parse_number(type + 4, 0xffffffffu);
		parse_hex_bytes(&b, data);
	} else if (strcasecmp(type, "none") == 0) {
		t = hive_t_REG_NONE;
		parse_hex_bytes(&b, data);
	} else {
		spec_error("unknown value type", type);
		return;
	}
	hive_set_value v = { .key = name, .t = t, .len = b.len, .value = (char *)(b.p ? b.p : (unsigned char *)"") };
	if (hivex_node_set_value(h, node, &v, 0) != 0)
		spec_error("cannot set value", strerror(errno));
	free(b.p);
}

static void apply_spec(hive_h *h, FILE *in)
{
	char *line = NULL;
	size_t cap = 0;
	hive_node_h node = hivex_root(h);
	while (getline(&line, &cap, in) > 0) {
		g_line++;
		char *s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			size_t n = strlen(s);
			if (s[n - 1] != ']')
				spec_error("expected [Key\\Path]", s);
			s[n - 1] = '\0';
			node = get_or_add_key(h, s + 1);
			continue;
		}
		apply_value(h, node, s);
	}
	free(line);
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: lb-mkhive [--dirty] [--minor 3|5] [--root NAME] OUT.hive SPEC|-\n"
	        "Makes a registry hive from a .reg-like spec (see docs/fixtures.md).\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int dirty = 0, minor = 5;
	const char *root_name = "ROOT";
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		if (strcmp(argv[i], "--dirty") == 0)
			dirty = 1;
		else if (strcmp(argv[i], "--minor") == 0 && i + 1 < argc)
			minor = atoi(argv[++i]);
		else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc)
			root_name = argv[++i];
		else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "--") != 0)
			usage();
		else {
			i++;
			break;
		}
	}
	if (argc - i != 2 || (minor != 3 && minor != 5))
		usage();
	const char *out = argv[i], *spec = argv[i + 1];

	FILE *in = stdin;
	if (strcmp(spec, "-") != 0) {
		in = fopen(spec, "r");
		if (!in)
			die("cannot open spec %s", spec);
		g_spec_name = spec;
	} else {
		g_spec_name = "<stdin>";
	}

	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", out);
	write_empty_hive(tmp, minor, root_name);
	hive_h *h = hivex_open(tmp, HIVEX_OPEN_WRITE);
	if (!h)
		die("hivex_open of the empty hive failed: %s", strerror(errno));
	apply_spec(h, in);
	if (in != stdin)
		fclose(in);
	if (hivex_commit(h, out, 0) != 0)
		die("hivex_commit failed: %s", strerror(errno));
	hivex_close(h);
	unlink(tmp);

	/* re-open the result to check it */
	h = hivex_open(out, 0);
	if (!h || !hivex_root(h))
		die("the committed hive %s does not re-open", out);
	hivex_close(h);
	if (dirty)
		make_dirty(out);
	return 0;
}
