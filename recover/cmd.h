/* cmd.h - subcommands (one file each, like git's builtin/). */
#ifndef LB_CMD_H
#define LB_CMD_H

int cmd_scan(int argc, char **argv);
int cmd_fix(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_playbooks(int argc, char **argv);
int cmd_undo(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_fleet(int argc, char **argv);
int cmd_upload(int argc, char **argv);

void lb_usage_main(void);

#endif
