/* cmd.h - subcommands (one file each, like git's builtin/). */
#ifndef LB_CMD_H
#define LB_CMD_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include "lb_unlock.h"

int cmd_scan(int argc, char **argv);
int cmd_fix(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_playbooks(int argc, char **argv);
int cmd_undo(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_fleet(int argc, char **argv);
int cmd_upload(int argc, char **argv);

void lb_usage_main(void);

/* BitLocker key options (cmd_keyopts.c), shared by scan, fix and undo:
 * put CMD_KEYOPTS_LONGOPTS in the getopt_long table, hand unknown option
 * codes to cmd_keyopts_option, then cmd_keyopts_load (0, or the exit
 * status after printing why) and, at the end, cmd_keyopts_free. */
enum { CMD_O_KEYS = 0x1000, CMD_O_KEYPASS, CMD_O_BEK, CMD_O_RP, CMD_O_PWFILE, CMD_O_NOPROMPT };
#define CMD_KEYOPTS_LONGOPTS \
	{ "keys", required_argument, NULL, CMD_O_KEYS }, \
	{ "keys-passphrase-file", required_argument, NULL, CMD_O_KEYPASS }, \
	{ "bek", required_argument, NULL, CMD_O_BEK }, \
	{ "recovery-password", required_argument, NULL, CMD_O_RP }, \
	{ "password-file", required_argument, NULL, CMD_O_PWFILE }, \
	{ "no-prompt", no_argument, NULL, CMD_O_NOPROMPT }

struct cmd_keyopts {
	const char *keyfiles[32], *beks[16], *rps[16], *pwfiles[8], *keypass_file;
	size_t nkeys, nbek, nrp, npw;
	bool noprompt;
	char *passwords[8];              /* read from pwfiles, in guarded memory */
	struct lb_unlock unlock;         /* ready after cmd_keyopts_load */
};
extern const char cmd_keyopts_help[];
void cmd_keyopts_init(struct cmd_keyopts *k);
bool cmd_keyopts_option(struct cmd_keyopts *k, int code, const char *arg);
int cmd_keyopts_load(struct cmd_keyopts *k);
void cmd_keyopts_free(struct cmd_keyopts *k);

#endif
