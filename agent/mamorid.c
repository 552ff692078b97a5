/* agent/mamorid.c — placeholder main of the resident agent. */
#include <stdio.h>

int main(void)
{
	return 0;
}
