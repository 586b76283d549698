/* test_keys_seal.c - sealed key bundle round trip, wrong passphrase,
 * tampering, and the fleet flow: escrow export -> sealed bundle -> open
 * on the rescue stick -> probe a volume -> look up its recovery protector
 * -> unlock. */
#include "lbtest.h"
#include "lb_bitlocker.h"
#include "lb_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define G1 "64311dea-4587-4029-924a-ba299647998e"
#define K1 "235818-357951-253979-013365-241120-245575-342914-591910"
#define G2 "3fd763f9-74c7-4e90-8fa2-1f6a2e2b4e0c"
#define K2 "042647-302313-590458-071500-554323-116567-412181-516978"
#define G3 "b9859a34-8139-4d5e-a628-412bef9ba206"
#define K3 "616319-601744-502117-534017-367994-176748-607299-663201"

static char g_dir[512];

static void write_file(const char *path, const char *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	REQUIRE(f);
	REQUIRE(fwrite(data, 1, n, f) == n);
	fclose(f);
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;
	REQUIRE(f);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static int contains(const char *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle);
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(hay + i, needle, k) == 0)
			return 1;
	return 0;
}

/* Runs the CLI (LB_BUILD/loopbreaker) with args, its output to out (in
 * g_dir); returns its exit status. */
static int run_lb(const char *args, const char *out)
{
	char cmd[4096];
	const char *b = getenv("LB_BUILD");
	int st;

	snprintf(cmd, sizeof(cmd), "LOOPBREAKER_KEYS_PASSPHRASE= '%.400s/loopbreaker' %s > '%.600s' 2>&1 < /dev/null",
	         b ? b : ".", args, out);
	st = system(cmd);
	REQUIRE(st != -1 && WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* The exit statuses of `keys` (docs/usage.md, "Exit status"): they come
 * from lb_exit_for(err.kind), so a key or passphrase file that cannot be
 * read (EIO: /proc/self/mem at address 0) is 3 like any other I/O error, a
 * missing one 2, a wrong passphrase 1.  The key options of scan and fix
 * never end a run: see below. */
static void cli_exit_statuses(const char *ad, const char *sealed, const char *pass)
{
	char args[3000], out[700], pf[700], badpf[700], img[700], text[4096];
	size_t n;

	snprintf(out, sizeof(out), "%s/cli.out", g_dir);
	snprintf(pf, sizeof(pf), "%s/pass", g_dir);
	snprintf(badpf, sizeof(badpf), "%s/badpass", g_dir);
	snprintf(img, sizeof(img), "%s/no-such.img", g_dir);
	write_file(pf, pass, strlen(pass));
	write_file(badpf, "not the passphrase\n", 19);

	snprintf(args, sizeof(args), "keys list '%s'", ad);
	CHECK_EQ_INT(run_lb(args, out), 0);
	snprintf(args, sizeof(args), "keys list '%s/missing.csv'", g_dir);
	CHECK_EQ_INT(run_lb(args, out), 2);
	n = read_file(out, text, sizeof(text) - 1);
	text[n] = '\0';
	CHECK(strstr(text, "missing.csv") != NULL);
	CHECK_EQ_INT(run_lb("keys list /proc/self/mem", out), 3);
	CHECK_EQ_INT(run_lb("keys frobnicate x", out), 2);

	snprintf(args, sizeof(args), "keys list --passphrase-file '%s' '%s'", pf, sealed);
	CHECK_EQ_INT(run_lb(args, out), 0);
	snprintf(args, sizeof(args), "keys list --passphrase-file '%s' '%s'", badpf, sealed);
	CHECK_EQ_INT(run_lb(args, out), 1);
	n = read_file(out, text, sizeof(text) - 1);
	CHECK(!contains(text, n, "235818") && !contains(text, n, "not the passphrase"));

	snprintf(args, sizeof(args), "keys seal --passphrase-file /proc/self/mem -o '%s/x.sealed' '%s'",
	         g_dir, ad);
	CHECK_EQ_INT(run_lb(args, out), 3);
	snprintf(args, sizeof(args), "keys seal --passphrase-file '%s/nope' -o '%s/x.sealed' '%s'",
	         g_dir, g_dir, ad);
	CHECK_EQ_INT(run_lb(args, out), 2);
	snprintf(args, sizeof(args), "keys seal --passphrase-file '%s' -o '%s/x.sealed' /proc/self/mem",
	         pf, g_dir);
	CHECK_EQ_INT(run_lb(args, out), 3);

	/* the key options of scan: a key source that cannot be used stops
	 * nothing (docs/usage.md, "When keys cannot be used"); it is said on
	 * stderr and the run goes on to the targets, whose status decides
	 * (here a missing image: 2) */
	{
		static const struct { const char *fmt; const char *says; } cases[] = {
			{ "scan --no-prompt --keys /proc/self/mem '%2$s'",
			  "keys from /proc/self/mem could not be read" },
			{ "scan --no-prompt --keys '%1$s/missing.csv' '%2$s'",
			  "missing.csv could not be read: No such file or directory" },
			{ "scan --no-prompt --password-file /proc/self/mem '%2$s'",
			  "password file /proc/self/mem" },
			{ "scan --no-prompt --password-file '%1$s/nope' '%2$s'",
			  "/nope: No such file or directory; not used" },
			{ "scan --no-prompt --keys '%3$s' --keys-passphrase-file /proc/self/mem '%2$s'",
			  "could not be opened: passphrase file /proc/self/mem" },
			{ "scan --no-prompt --keys '%3$s' --keys-passphrase-file '%4$s' '%2$s'",
			  "could not be opened: wrong passphrase or damaged file" },
			{ "scan --no-prompt --keys '%3$s' '%2$s'",
			  "could not be opened: no passphrase was given" },
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			snprintf(args, sizeof(args), cases[i].fmt, g_dir, img, sealed, badpf);
			CHECK_EQ_INT(run_lb(args, out), 2);
			n = read_file(out, text, sizeof(text) - 1);
			text[n] = '\0';
			CHECK(strstr(text, cases[i].says) != NULL);
			CHECK(strstr(text, "no-such.img") != NULL);   /* the run went on */
			if (!strstr(text, cases[i].says))
				fprintf(stderr, "  %s:\n%s\n", args, text);
		}
	}
}

int main(void)
{
	char ad[700], entra[700], sealed[700], cmd[4096], tarball[512];
	static char buf[1 << 16];
	struct lb_seal_params prm;
	struct lb_err err;
	struct lb_keystore *ks;
	struct stat st;
	const char pass[] = "correct horse battery staple";
	size_t n;

	snprintf(g_dir, sizeof(g_dir), "%.400s/keys-seal", getenv("LB_BUILD") ? getenv("LB_BUILD") : ".");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", g_dir, g_dir);
	REQUIRE(system(cmd) == 0);
	snprintf(ad, sizeof(ad), "%s/ad.csv", g_dir);
	snprintf(entra, sizeof(entra), "%s/entra.json", g_dir);
	snprintf(sealed, sizeof(sealed), "%s/fleet.lbkeys", g_dir);
	{
		const char csv[] = "\"DistinguishedName\",\"msFVE-RecoveryPassword\"\r\n"
			"\"CN=2019-07-04T10:00:00-00:00{64311DEA-4587-4029-924A-BA299647998E},CN=DESKTOP-NPM7RCA,DC=corp\",\"" K1 "\"\r\n"
			"\"CN=2019-07-03T10:00:00-00:00{3FD763F9-74C7-4E90-8FA2-1F6A2E2B4E0C},CN=WKS042,DC=corp\",\"" K2 "\"\r\n";
		const char js[] = "{\"value\":[{\"id\":\"" G3 "\",\"key\":\"" K3 "\",\"deviceId\":\"d1\"},"
			"{\"id\":\"" G1 "\",\"key\":\"" K1 "\"}]}";
		write_file(ad, csv, sizeof(csv) - 1);
		write_file(entra, js, sizeof(js) - 1);
	}
	lb_seal_params_interactive(&prm);

	/* seal two exports into one bundle */
	{
		const char *paths[] = { ad, entra };
		lb_err_clear(&err);
		CHECK(lb_keys_seal_files(paths, 2, sealed, pass, strlen(pass), &prm, &err) == 0);
		if (err.kind)
			fprintf(stderr, "seal: %s\n", err.msg);
	}
	REQUIRE(stat(sealed, &st) == 0);
	CHECK_EQ_INT(st.st_mode & 0777, 0600);
	CHECK(lb_keys_is_sealed_file(sealed));
	CHECK(!lb_keys_is_sealed_file(ad));
	n = read_file(sealed, buf, sizeof(buf));
	CHECK(n > 80);
	CHECK(!contains(buf, n, "235818") && !contains(buf, n, "042647") && !contains(buf, n, "616319"));
	CHECK(!contains(buf, n, "64311") && !contains(buf, n, "DESKTOP"));   /* IDs and hosts too */

	/* open: all three keys back, the duplicate (G1,K1) merged */
	ks = lb_keys_new();
	lb_err_clear(&err);
	CHECK(lb_keys_open_sealed(ks, sealed, pass, strlen(pass), &err) == 0);
	CHECK_EQ_INT(lb_keys_count(ks), 3);
	{
		const struct lb_key_entry *e = lb_keys_lookup(ks, "{64311DEA-4587-4029-924A-BA299647998E}");
		CHECK(e && strcmp(e->recovery_password, K1) == 0);
		CHECK(e && strcmp(e->host, "DESKTOP-NPM7RCA") == 0);
		CHECK(e && strcmp(e->source, "ad") == 0);
		e = lb_keys_lookup(ks, G3);
		CHECK(e && strcmp(e->recovery_password, K3) == 0 && strcmp(e->source, "entra") == 0);
		e = lb_keys_lookup(ks, G2);
		CHECK(e && strcmp(e->recovery_password, K2) == 0 && strcmp(e->host, "WKS042") == 0);
	}
	/* loading a sealed file as an export is a usage error */
	CHECK(lb_keys_load_file(ks, sealed, NULL, &err) == -1);
	CHECK_EQ_INT(err.kind, LB_EK_USAGE);
	lb_keys_free(ks);

	/* sealing is deterministic in content, random in salt/nonce */
	{
		char sealed2[800];
		static char b2[1 << 16];
		size_t n2;
		ks = lb_keys_new();
		CHECK(lb_keys_open_sealed(ks, sealed, pass, strlen(pass), &err) == 0);
		snprintf(sealed2, sizeof(sealed2), "%s.2", sealed);
		CHECK(lb_keys_seal(ks, sealed2, pass, strlen(pass), &prm, &err) == 0);
		n2 = read_file(sealed2, b2, sizeof(b2));
		CHECK_EQ_INT(n2, n);
		CHECK(memcmp(b2 + 32, buf + 32, 16) != 0);   /* fresh salt */
		lb_keys_free(ks);
		unlink(sealed2);
	}

	/* wrong passphrase */
	ks = lb_keys_new();
	lb_err_clear(&err);
	CHECK(lb_keys_open_sealed(ks, sealed, "correct horse battery stapler", 29, &err) == -1);
	CHECK_EQ_INT(err.kind, LB_EK_REFUSED);
	CHECK(strstr(err.msg, "wrong passphrase") != NULL);
	CHECK_EQ_INT(lb_keys_count(ks), 0);
	lb_keys_free(ks);

	/* tampering: ciphertext byte, header limits, truncation, junk */
	{
		char bad[800];
		static char t[1 << 16];
		snprintf(bad, sizeof(bad), "%s.bad", sealed);

		memcpy(t, buf, n);
		t[n - 5] ^= 1;
		write_file(bad, t, n);
		ks = lb_keys_new();
		CHECK(lb_keys_open_sealed(ks, bad, pass, strlen(pass), &err) == -1);
		CHECK_EQ_INT(err.kind, LB_EK_REFUSED);
		lb_keys_free(ks);

		memcpy(t, buf, n);
		t[16] ^= 1;   /* opslimit 2 -> 3: a different key */
		write_file(bad, t, n);
		ks = lb_keys_new();
		CHECK(lb_keys_open_sealed(ks, bad, pass, strlen(pass), &err) == -1);
		CHECK_EQ_INT(err.kind, LB_EK_REFUSED);
		lb_keys_free(ks);

		memcpy(t, buf, n);
		t[31] = 0x7f;   /* absurd memlimit: refused before Argon2 runs */
		write_file(bad, t, n);
		ks = lb_keys_new();
		CHECK(lb_keys_open_sealed(ks, bad, pass, strlen(pass), &err) == -1);
		CHECK_EQ_INT(err.kind, LB_EK_INPUT);
		lb_keys_free(ks);

		write_file(bad, buf, n - 1);
		ks = lb_keys_new();
		CHECK(lb_keys_open_sealed(ks, bad, pass, strlen(pass), &err) == -1);
		CHECK_EQ_INT(err.kind, LB_EK_INPUT);
		lb_keys_free(ks);

		ks = lb_keys_new();
		CHECK(lb_keys_open_sealed(ks, ad, pass, strlen(pass), &err) == -1);
		CHECK_EQ_INT(err.kind, LB_EK_INPUT);
		CHECK(strstr(err.msg, "not a sealed key file") != NULL);
		lb_keys_free(ks);
		unlink(bad);
	}
	/* refusals when sealing */
	ks = lb_keys_new();
	CHECK(lb_keys_seal(ks, sealed, pass, strlen(pass), &prm, &err) == -1);
	CHECK_EQ_INT(err.kind, LB_EK_USAGE);
	CHECK(lb_keys_load_file(ks, ad, NULL, &err) == 0);
	CHECK(lb_keys_seal(ks, sealed, "", 0, &prm, &err) == -1);
	CHECK_EQ_INT(err.kind, LB_EK_USAGE);
	lb_keys_free(ks);

	cli_exit_statuses(ad, sealed, pass);

	/* ---- fleet flow on a real Windows volume ---- */
	{
		struct lb_bitlocker_info bi;
		const struct lb_key_entry *e = NULL;
		struct lb_bitlocker_key key;
		struct lb_io *io;
		char img[800], used[LB_GUID_STRLEN];
		uint8_t s0[512];

		lbt_shared("bitlocker/bitlk-images.tar.xz", tarball, sizeof(tarball));
		snprintf(cmd, sizeof(cmd), "tar -xJf '%s' -C '%s' bitlk-images/bitlk-aes-xts-128.img", tarball, g_dir);
		REQUIRE(system(cmd) == 0);
		snprintf(img, sizeof(img), "%s/bitlk-images/bitlk-aes-xts-128.img", g_dir);
		ks = lb_keys_new();
		REQUIRE(lb_keys_open_sealed(ks, sealed, pass, strlen(pass), &err) == 0);
		REQUIRE(lb_bitlocker_probe_file(img, 0, 0, &bi, &err) == 0);
		for (unsigned i = 0; i < bi.n_protectors && !e; i++)
			if (bi.protectors[i].type == LB_BLP_RECOVERY_PASSWORD)
				e = lb_keys_lookup(ks, bi.protectors[i].guid);
		REQUIRE(e);
		key.kind = LB_BLK_RECOVERY_PASSWORD;
		key.secret = e->recovery_password;
		io = lb_bitlocker_open2(img, 0, 0, &key, false, used, &err);
		if (!io)
			fprintf(stderr, "fleet: %s\n", err.msg);
		REQUIRE(io);
		CHECK_EQ_STR(used, "{64311DEA-4587-4029-924A-BA299647998E}");
		CHECK(lb_io_pread(io, s0, 512, 0, &err) == 0);
		CHECK(memcmp(s0 + 3, "NTFS    ", 8) == 0);
		lb_io_close(io);
		lb_keys_free(ks);
	}
	LBT_DONE();
}
