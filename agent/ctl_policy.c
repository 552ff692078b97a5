/* agent/ctl_policy.c — placeholder until the policy model lands (issue 3). */
#include <stdio.h>

#include "ctl.h"

int ctl_policy(struct ctl_env *env, int argc, char **argv)
{
	(void)env, (void)argc, (void)argv;
	fprintf(stderr, "mamorictl policy: not built yet\n");
	return 2;
}

int ctl_exception(struct ctl_env *env, int argc, char **argv)
{
	(void)env, (void)argc, (void)argv;
	fprintf(stderr, "mamorictl exception: not built yet\n");
	return 2;
}
