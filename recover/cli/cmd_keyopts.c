/* cmd_keyopts.c - the BitLocker key options scan, fix and undo share:
 * --keys (escrow exports, sealed bundles), --keys-passphrase-file, --bek,
 * --recovery-password, --password-file, --no-prompt, turned into the
 * struct lb_unlock the engine and undo open BitLocker volumes with.
 *
 * Keys that cannot be used -- a sealed bundle that does not open, a key
 * file that cannot be read, a malformed --recovery-password, an unreadable
 * password file -- stop nothing: each is said once on stderr and kept as
 * a note on the key store, and every BitLocker volume that then stays
 * locked carries it as its needs_attention reason (lb_unlock_open).  The
 * rest of the run (unencrypted volumes, other keys) goes on. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <unistd.h>

#include "cmd.h"
#include "lb_engine.h"
#include "lb_keys.h"

const char cmd_keyopts_help[] =
"BitLocker:\n"
"  --keys FILE           key escrow export (AD, Entra ID/Intune, MBAM/ConfigMgr or\n"
"                        CrowdStrike CSV, Graph JSON) or a sealed bundle (repeatable);\n"
"                        keys are found by recovery-protector ID, keys without an ID\n"
"                        are tried on every volume; a file that cannot be used leaves\n"
"                        only the BitLocker volumes locked, with the reason\n"
"  --keys-passphrase-file FILE\n"
"                        passphrase of a sealed bundle (else $LOOPBREAKER_KEYS_PASSPHRASE,\n"
"                        else asked on the terminal)\n"
"  --bek FILE            .BEK startup-key file (repeatable)\n"
"  --recovery-password KEY\n"
"                        48-digit recovery key tried on every locked volume (repeatable;\n"
"                        visible to other local users: prefer --keys or the prompt)\n"
"  --password-file FILE  user password (BitLocker To Go, data volumes), first line of FILE\n"
"  --no-prompt           never ask for a key on the terminal (default when unattended)\n";

/* err's message without a leading "PATH: " or "BASENAME: " (the note
 * names the file itself). */
static const char *without_path(const char *msg, const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n = strlen(path);

	if (!strncmp(msg, path, n) && !strncmp(msg + n, ": ", 2))
		return msg + n + 2;
	base = base ? base + 1 : path;
	n = strlen(base);
	if (!strncmp(msg, base, n) && !strncmp(msg + n, ": ", 2))
		return msg + n + 2;
	return msg;
}

static char *dup_secret(const char *s)
{
	char *p = sodium_malloc(strlen(s) + 1);

	if (p)
		strcpy(p, s);
	return p;
}

/* Opens one sealed bundle.  -1 with err and *why (for the note) when it
 * cannot be opened.  A passphrase typed on the terminal may be retried. */
static int open_sealed(struct lb_keystore *ks, const char *path, const char *passfile,
                       char *why, size_t cap, struct lb_err *err)
{
	const char *env = getenv("LOOPBREAKER_KEYS_PASSPHRASE");
	bool tty = !passfile && !(env && *env) && isatty(0);
	char *pass = NULL;
	int rc = -1;

	for (int attempt = 0; attempt < (tty ? 3 : 1); attempt++) {
		if (passfile) {
			pass = lb_keys_read_secret(passfile, "passphrase file", err);
			if (!pass) {
				snprintf(why, cap, "%s", err->msg);
				return -1;
			}
		} else if (env && *env) {
			pass = dup_secret(env);
		} else if (tty) {
			char *p = getpass("Passphrase of the sealed key bundle: ");

			if (p && *p)
				pass = dup_secret(p);
			if (p)
				sodium_memzero(p, strlen(p));
			if (!p || !*p)
				break;
		}
		if (!pass)
			break;
		rc = lb_keys_open_sealed(ks, path, pass, strlen(pass), err);
		lb_keys_free_secret(pass);
		pass = NULL;
		if (rc == 0)
			return 0;
		if (err->kind == LB_EK_REFUSED) {
			snprintf(why, cap, "wrong passphrase or damaged file");
			if (tty && attempt < 2)
				fprintf(stderr, "loopbreaker: %s: wrong passphrase or damaged file, "
				        "try again (Enter to skip)\n", path);
		} else {
			snprintf(why, cap, "%s", without_path(err->msg, path));
			return -1;
		}
	}
	if (rc == 0)
		return 0;
	if (err->kind == LB_EK_NONE) {
		snprintf(why, cap, "no passphrase was given (--keys-passphrase-file or "
		         "$LOOPBREAKER_KEYS_PASSPHRASE)");
		lb_err_set(err, LB_EK_REFUSED, 0, "%s is a sealed key bundle and %s", path, why);
	}
	return -1;
}

/* Loads one --keys FILE.  A file that cannot be used is not fatal (docs/
 * usage.md, "When keys cannot be used"): it becomes a note on the store,
 * which every BitLocker volume that stays locked gives as its reason, and
 * the rest of the run goes on. */
static int load_keys(struct lb_keystore *ks, const char *path, const char *passfile)
{
	struct lb_keys_stats st;
	struct lb_err err;
	size_t before = lb_keys_nnotes(ks), nkeys = lb_keys_count(ks);
	char why[sizeof(err.msg)];
	bool sealed = lb_keys_is_sealed_file(path);
	int rc;

	lb_err_clear(&err);
	memset(&st, 0, sizeof(st));
	why[0] = '\0';
	if (sealed) {
		rc = open_sealed(ks, path, passfile, why, sizeof(why), &err);
	} else {
		rc = lb_keys_load_file(ks, path, &st, &err);
		if (rc)
			snprintf(why, sizeof(why), "%s", without_path(err.msg, path));
	}
	if (rc) {
		if (err.kind == LB_EK_INTERNAL)
			return -1;
		fprintf(stderr, "loopbreaker: keys from %s could not be %s: %s; BitLocker volumes "
		        "that need them stay locked, everything else goes on\n", path,
		        sealed ? "opened" : "read", why);
		return lb_keys_note(ks, NULL, "keys from %s could not be %s: %s", path,
		                    sealed ? "opened" : "read", why);
	}
	if (sealed)
		fprintf(stderr, "loopbreaker: %s: sealed bundle opened, %zu recovery keys\n", path,
		        lb_keys_count(ks) - nkeys);
	else
		fprintf(stderr, "loopbreaker: %s: %zu recovery keys loaded%s%s\n", path, st.loaded,
		        st.headerless ? " (no header row: columns told by their content)" : "",
		        st.bad_key ? ", some rows skipped:" : "");
	for (size_t i = before; i < lb_keys_nnotes(ks) && i < before + 5; i++)
		fprintf(stderr, "    %s\n", lb_keys_note_text(ks, i, NULL));
	if (lb_keys_nnotes(ks) > before + 5)
		fprintf(stderr, "    and %zu more (each is given on the volume it concerns)\n",
		        lb_keys_nnotes(ks) - before - 5);
	return 0;
}

void cmd_keyopts_init(struct cmd_keyopts *k)
{
	memset(k, 0, sizeof(*k));
}

#define ADD(arr, n, v) do { if ((n) < sizeof(arr) / sizeof((arr)[0])) (arr)[(n)++] = (v); } while (0)

bool cmd_keyopts_option(struct cmd_keyopts *k, int code, const char *arg)
{
	switch (code) {
	case CMD_O_KEYS: ADD(k->keyfiles, k->nkeys, arg); return true;
	case CMD_O_KEYPASS: k->keypass_file = arg; return true;
	case CMD_O_BEK: ADD(k->beks, k->nbek, arg); return true;
	case CMD_O_RP: ADD(k->rps, k->nrp, arg); return true;
	case CMD_O_PWFILE: ADD(k->pwfiles, k->npw, arg); return true;
	case CMD_O_NOPROMPT: k->noprompt = true; return true;
	}
	return false;
}

int cmd_keyopts_load(struct cmd_keyopts *k)
{
	struct lb_err err;
	size_t nrp = 0, npw = 0;
	char why[128];

	k->unlock.ks = lb_keys_new();
	if (!k->unlock.ks) {
		fprintf(stderr, "loopbreaker: out of memory\n");
		return lb_exit_for(LB_EK_INTERNAL);
	}
	for (size_t i = 0; i < k->nkeys; i++) {
		if (load_keys(k->unlock.ks, k->keyfiles[i], k->keypass_file)) {
			fprintf(stderr, "loopbreaker: out of memory\n");
			cmd_keyopts_free(k);
			return lb_exit_for(LB_EK_INTERNAL);
		}
	}
	/* a key given on the command line that is malformed, a password file
	 * that cannot be read: the same as a key file that cannot be used */
	for (size_t i = 0; i < k->nrp; i++) {
		const char *w = lb_rp_problem(k->rps[i], why, sizeof(why));

		if (!w) {
			k->rps[nrp++] = k->rps[i];
			continue;
		}
		fprintf(stderr, "loopbreaker: --recovery-password (number %zu): recovery password %s; "
		        "not used\n", i + 1, w);
		lb_keys_note(k->unlock.ks, NULL, "--recovery-password (number %zu): recovery "
		             "password %s", i + 1, w);
	}
	for (size_t i = 0; i < k->npw; i++) {
		char *pw;

		lb_err_clear(&err);
		pw = lb_keys_read_secret(k->pwfiles[i], "password file", &err);
		if (pw) {
			k->passwords[npw++] = pw;
			continue;
		}
		if (err.kind == LB_EK_INTERNAL) {
			fprintf(stderr, "loopbreaker: %s\n", err.msg);
			cmd_keyopts_free(k);
			return lb_exit_for(err.kind);
		}
		fprintf(stderr, "loopbreaker: %s; not used\n", err.msg);
		lb_keys_note(k->unlock.ks, NULL, "%s", err.msg);
	}
	k->unlock.bek_files = k->beks;
	k->unlock.nbek = k->nbek;
	k->unlock.recovery_passwords = k->rps;
	k->unlock.nrecovery = nrp;
	k->unlock.passwords = (const char *const *)k->passwords;
	k->unlock.npasswords = npw;
	k->unlock.interactive = !k->noprompt && isatty(0) && isatty(2);
	return 0;
}

void cmd_keyopts_free(struct cmd_keyopts *k)
{
	for (size_t i = 0; i < k->npw; i++) {
		lb_keys_free_secret(k->passwords[i]);
		k->passwords[i] = NULL;
	}
	lb_keys_free(k->unlock.ks);
	k->unlock.ks = NULL;
}
