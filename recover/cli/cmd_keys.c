/* cmd_keys.c - `loopbreaker keys seal|list`: the fleet's BitLocker keys. */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "lb_engine.h"
#include "lb_keys.h"

static const char keys_help[] =
"usage: loopbreaker keys seal [--passphrase-file FILE] -o OUT EXPORT...\n"
"       loopbreaker keys list [--passphrase-file FILE] FILE...\n"
"\n"
"seal: reads key escrow exports (Active Directory, Entra ID/Intune, MBAM/ConfigMgr,\n"
"CrowdStrike CSV; Graph JSON) and writes one bundle encrypted with a key derived\n"
"from a passphrase (Argon2id, XSalsa20-Poly1305).  The boot stick carries the\n"
"bundle, opened by scan/fix/undo --keys BUNDLE [--keys-passphrase-file FILE]\n"
"(without that option: $LOOPBREAKER_KEYS_PASSPHRASE or the terminal, once per boot).\n"
"list: shows how many keys a file holds, their recovery-key IDs (never keys) and\n"
"the rows it skipped, against their key IDs.\n"
"\n"
"options:\n"
"  --passphrase-file FILE  the bundle's passphrase: first line of FILE (else\n"
"                          $LOOPBREAKER_KEYS_PASSPHRASE, else asked on the terminal,\n"
"                          twice when sealing)\n"
"  -o, --output OUT        seal: the bundle to write\n"
"  -h, --help              this text\n";

static char *get_passphrase(const char *file, bool confirm, struct lb_err *err)
{
	char *pass;
	const char *env = getenv("LOOPBREAKER_KEYS_PASSPHRASE");

	if (file) {
		pass = lb_keys_read_secret(file, "passphrase file", err);
		if (!pass)
			return NULL;
	} else {
		pass = sodium_malloc(LB_SECRET_MAX);
		if (!pass) {
			lb_err_set(err, LB_EK_INTERNAL, ENOMEM, "passphrase");
			return NULL;
		}
		pass[0] = '\0';
		if (env && *env) {
			snprintf(pass, LB_SECRET_MAX, "%s", env);
		} else if (isatty(0)) {
			char *p = getpass("Passphrase: ");

			snprintf(pass, LB_SECRET_MAX, "%s", p ? p : "");
			if (p)
				sodium_memzero(p, strlen(p));
			if (confirm) {
				p = getpass("Again: ");
				if (!p || strcmp(p, pass)) {
					if (p)
						sodium_memzero(p, strlen(p));
					sodium_free(pass);
					lb_err_set(err, LB_EK_USAGE, 0, "passphrases differ");
					return NULL;
				}
				sodium_memzero(p, strlen(p));
			}
		}
	}
	if (strlen(pass) < (confirm ? 8 : 1)) {
		sodium_free(pass);
		lb_err_set(err, LB_EK_USAGE, 0, "a passphrase of at least 8 characters is needed");
		return NULL;
	}
	return pass;
}

int cmd_keys(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *passfile = NULL, *out = NULL, *sub;
	struct lb_err err;
	char *pass = NULL;
	int c, rc = 0;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(keys_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? lb_exit_for(LB_EK_USAGE) : 0;
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", lopts, NULL)) != -1) {
		switch (c) {
		case 'p': passfile = optarg; break;
		case 'o': out = optarg; break;
		case 'h': fputs(keys_help, stdout); return 0;
		default: fputs(keys_help, stderr); return lb_exit_for(LB_EK_USAGE);
		}
	}
	if (optind >= argc) {
		fputs(keys_help, stderr);
		return lb_exit_for(LB_EK_USAGE);
	}
	lb_err_clear(&err);
	if (!strcmp(sub, "seal")) {
		struct lb_seal_params params;

		if (!out) {
			fprintf(stderr, "loopbreaker keys seal: -o OUT is required\n");
			return lb_exit_for(LB_EK_USAGE);
		}
		pass = get_passphrase(passfile, true, &err);
		if (!pass) {
			fprintf(stderr, "loopbreaker keys: %s\n", err.msg);
			return lb_exit_for(err.kind);
		}
		lb_seal_params_default(&params);
		if (lb_keys_seal_files((const char *const *)argv + optind, (size_t)(argc - optind), out,
		                       pass, strlen(pass), &params, &err)) {
			fprintf(stderr, "loopbreaker keys: %s\n", err.msg);
			rc = lb_exit_for(err.kind);
		} else {
			printf("sealed %d export%s into %s\n", argc - optind, argc - optind == 1 ? "" : "s",
			       out);
		}
	} else if (!strcmp(sub, "list")) {
		for (int i = optind; i < argc && !rc; i++) {
			struct lb_keystore *ks = lb_keys_new();
			struct lb_keys_stats st;

			memset(&st, 0, sizeof(st));
			if (lb_keys_is_sealed_file(argv[i])) {
				if (!pass)
					pass = get_passphrase(passfile, false, &err);
				if (!pass || lb_keys_open_sealed(ks, argv[i], pass, strlen(pass), &err))
					rc = lb_exit_for(err.kind);
			} else if (lb_keys_load_file(ks, argv[i], &st, &err)) {
				rc = lb_exit_for(err.kind);
			}
			if (rc) {
				fprintf(stderr, "loopbreaker keys: %s\n", err.msg);
			} else {
				printf("%s: %zu recovery keys%s\n", argv[i], lb_keys_count(ks),
				       st.headerless ? " (no header row: columns told by their content)" : "");
				for (size_t k = 0; k < lb_keys_count(ks); k++) {
					const struct lb_key_entry *e = lb_keys_entry(ks, k);

					printf("  %s  %-8s %s\n", e->guid[0] ? e->guid : "(no ID: tried on every "
					       "recovery protector)", e->source, e->host);
				}
				/* rows skipped, against their key IDs; never their digits */
				for (size_t k = 0; k < lb_keys_nnotes(ks); k++)
					printf("  skipped: %s\n", lb_keys_note_text(ks, k, NULL));
				if (lb_keys_notes_dropped(ks))
					printf("  skipped: %zu more\n", lb_keys_notes_dropped(ks));
			}
			lb_keys_free(ks);
		}
	} else {
		fprintf(stderr, "loopbreaker keys: unknown subcommand '%s'\n", sub);
		rc = lb_exit_for(LB_EK_USAGE);
	}
	if (pass)
		sodium_free(pass);
	return rc;
}
