/* agent/ctl_journal.c — placeholder until the journal lands (issue 4). */
#include <stdio.h>

#include "ctl.h"

int ctl_journal(struct ctl_env *env, int argc, char **argv)
{
	(void)env, (void)argc, (void)argv;
	fprintf(stderr, "mamorictl journal: not built yet\n");
	return 2;
}
