/* cmd_playbooks.c - `loopbreaker playbooks`. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "lb_playbook.h"

int cmd_playbooks(int argc, char **argv)
{
	const struct lb_playbook *const *b = lb_playbook_builtins();

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		puts("usage: loopbreaker playbooks\n\nLists the built-in playbooks.");
		return 0;
	}
	for (size_t i = 0; b[i]; i++)
		printf("%-28s built-in  %s\n", b[i]->name, b[i]->description);
	return 0;
}
