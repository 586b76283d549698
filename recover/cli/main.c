/* main.c - loopbreaker: bring crash-looping Windows machines back. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "lb_engine.h"
#include "lb_ntfs.h"

static const char usage_text[] =
"usage: loopbreaker <command> [options] [TARGET...]\n"
"\n"
"Repairs Windows installations that crash at boot, offline, from Linux: reads\n"
"NTFS directly (no mount), runs a playbook, keeps what it changes in an\n"
"evidence bundle and writes a report.\n"
"\n"
"commands:\n"
"  scan       report what a fix would do; never writes to a target\n"
"  fix        apply the playbook(s): back up, then change the targets\n"
"  undo       put back what a fix changed, from its evidence bundle\n"
"  ls         list a directory on an NTFS volume of a target\n"
"  keys       seal key escrow exports into a passphrase-protected bundle; list keys\n"
"  upload     send reports and evidence to a collector (HTTP PUT/POST); spool offline\n"
"  fleet      merge many machines' reports into fleet.csv and a dashboard\n"
"  playbooks  list the built-in playbooks\n"
"  help       this text; 'loopbreaker <command> --help' for a command\n"
"  version    print the version\n"
"\n"
"TARGET: a whole-disk image (raw, or fixed VHD), a partition image, a block\n"
"device, a VM image fixed in place through a private qemu-nbd (qcow2, VHDX,\n"
"VMDK, dynamic VHD, VDI, QED, Parallels: by content), or an NBD export\n"
"(nbd://HOST:PORT/EXPORT, nbd+unix:///EXPORT?socket=PATH).  No TARGET: every local disk in /sys/block except virtual devices,\n"
"disks with a mounted partition (the boot medium) and --exclude'd ones.\n"
"\n"
"exit status:\n"
"  0  healthy or fully fixed\n"
"  1  needs attention: a problem was found and not fixed (locked BitLocker,\n"
"     hibernated volume, unreplayed journal, unexpected file, scan found a bad file)\n"
"  2  usage error or unreadable input (corrupt or truncated image)\n"
"  3  internal or I/O error\n"
"\n"
"See loopbreaker(1), docs/usage.md and docs/report-format.md.\n";

void lb_usage_main(void)
{
	fputs(usage_text, stdout);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "scan", cmd_scan },
		{ "fix", cmd_fix },
		{ "ls", cmd_ls },
		{ "playbooks", cmd_playbooks },
		{ "undo", cmd_undo },
		{ "keys", cmd_keys },
		{ "fleet", cmd_fleet },
		{ "upload", cmd_upload },
	};
	const char *verbose = getenv("LOOPBREAKER_DEBUG");

	lb_ntfs_library_init(verbose && *verbose && strcmp(verbose, "0"));
	if (sodium_init() < 0) {
		fputs("loopbreaker: libsodium failed to initialise\n", stderr);
		return LB_EXIT_INTERNAL;
	}
	if (argc < 2) {
		fputs(usage_text, stderr);
		return LB_EXIT_INPUT;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		lb_usage_main();
		return 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("loopbreaker %s\n", LB_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "loopbreaker: unknown command '%s' (try 'loopbreaker help')\n", argv[1]);
	return LB_EXIT_INPUT;
}
