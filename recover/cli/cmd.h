/* cmd.h - subcommands (one file each, like git's builtin/). */
#ifndef LB_CMD_H
#define LB_CMD_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "lb_engine.h"
#include "lb_unlock.h"
#include "lb_virt.h"

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

/* Libvirt domains as targets (cmd_domain.c), for scan, fix, undo and ls:
 * put CMD_DOMAIN_LONGOPTS in the getopt_long table and hand unknown codes
 * to cmd_domains_option (false: not ours, or too many, said why).
 * cmd_domains_resolve looks every domain up (refusing one that is not shut
 * off or does not exist, before anything is opened) and puts the TARGET
 * paths, then each domain's disks, in targets/origins: 0, or the exit
 * status after printing why.  cmd_domains_report adds "domains" (name,
 * URI, disks, skipped disks) to a run report.  cmd_domains_free always. */
enum { CMD_O_DOMAIN = 0x1100, CMD_O_LIBVIRT };
#define CMD_DOMAIN_LONGOPTS \
	{ "domain", required_argument, NULL, CMD_O_DOMAIN }, \
	{ "libvirt", required_argument, NULL, CMD_O_LIBVIRT }
#define CMD_MAX_DOMAINS 64

struct cmd_domains {
	const char *uri;                 /* --libvirt; NULL: libvirt's default */
	const char *names[CMD_MAX_DOMAINS];
	size_t nnames;
	struct lb_virt_domain doms[CMD_MAX_DOMAINS];
	size_t ndoms;
	const char **targets;            /* after resolve: every target */
	size_t ntargets;
	struct lb_target_origin *origins; /* the ones from domains */
	size_t norigins;
};
extern const char cmd_domain_help[];
bool cmd_domains_option(struct cmd_domains *d, int code, const char *arg);
int cmd_domains_resolve(struct cmd_domains *d, const char *const *paths, size_t npaths);
void cmd_domains_report(const struct cmd_domains *d, json_t *report);
void cmd_domains_free(struct cmd_domains *d);

#endif
