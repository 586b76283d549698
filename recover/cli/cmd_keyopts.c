/* cmd_keyopts.c - the BitLocker key options scan, fix and undo share:
 * --keys (escrow exports, sealed bundles), --keys-passphrase-file, --bek,
 * --recovery-password, --password-file, --no-prompt, turned into the
 * struct lb_unlock the engine and undo open BitLocker volumes with. */
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
"                        keys are found by recovery-protector ID\n"
"  --keys-passphrase-file FILE\n"
"                        passphrase of a sealed bundle (else $LOOPBREAKER_KEYS_PASSPHRASE,\n"
"                        else asked on the terminal)\n"
"  --bek FILE            .BEK startup-key file (repeatable)\n"
"  --recovery-password KEY\n"
"                        48-digit recovery key tried on every locked volume (repeatable;\n"
"                        visible to other local users: prefer --keys or the prompt)\n"
"  --password-file FILE  user password (BitLocker To Go, data volumes), first line of FILE\n"
"  --no-prompt           never ask for a key on the terminal (default when unattended)\n";

static int load_keys(struct lb_keystore *ks, const char *path, const char *passfile,
                     struct lb_err *err)
{
	struct lb_keys_stats st;
	char *pass = NULL;
	const char *env;
	int rc;

	if (!lb_keys_is_sealed_file(path)) {
		memset(&st, 0, sizeof(st));
		rc = lb_keys_load_file(ks, path, &st, err);
		if (rc == 0)
			fprintf(stderr, "loopbreaker: %s: %zu recovery keys loaded\n", path, st.loaded);
		return rc;
	}
	if (passfile) {
		pass = lb_keys_read_secret(passfile, err);
		if (!pass)
			return -1;
	} else if ((env = getenv("LOOPBREAKER_KEYS_PASSPHRASE")) && *env) {
		pass = sodium_malloc(strlen(env) + 1);
		if (pass)
			strcpy(pass, env);
	} else if (isatty(0)) {
		char *p = getpass("Passphrase of the sealed key bundle: ");

		if (p) {
			pass = sodium_malloc(strlen(p) + 1);
			if (pass)
				strcpy(pass, p);
			sodium_memzero(p, strlen(p));
		}
	}
	if (!pass)
		return lb_err_set(err, LB_EK_REFUSED, 0, "%s is a sealed key bundle and no passphrase "
		                  "was given (--keys-passphrase-file)", path);
	rc = lb_keys_open_sealed(ks, path, pass, strlen(pass), err);
	lb_keys_free_secret(pass);
	if (rc == 0)
		fprintf(stderr, "loopbreaker: %s: sealed bundle opened, %zu recovery keys\n", path,
		        lb_keys_count(ks));
	return rc;
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

	k->unlock.ks = lb_keys_new();
	if (!k->unlock.ks) {
		fprintf(stderr, "loopbreaker: out of memory\n");
		return lb_exit_for(LB_EK_INTERNAL);
	}
	for (size_t i = 0; i < k->nkeys; i++) {
		lb_err_clear(&err);
		if (load_keys(k->unlock.ks, k->keyfiles[i], k->keypass_file, &err)) {
			fprintf(stderr, "loopbreaker: %s\n", err.msg);
			cmd_keyopts_free(k);
			return lb_exit_for(err.kind);
		}
	}
	for (size_t i = 0; i < k->npw; i++) {
		lb_err_clear(&err);
		k->passwords[i] = lb_keys_read_secret(k->pwfiles[i], &err);
		if (!k->passwords[i]) {
			fprintf(stderr, "loopbreaker: %s\n", err.msg);
			cmd_keyopts_free(k);
			return lb_exit_for(err.kind);
		}
	}
	k->unlock.bek_files = k->beks;
	k->unlock.nbek = k->nbek;
	k->unlock.recovery_passwords = k->rps;
	k->unlock.nrecovery = k->nrp;
	k->unlock.passwords = (const char *const *)k->passwords;
	k->unlock.npasswords = k->npw;
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
