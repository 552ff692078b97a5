/* agent/mamorictl.c — placeholder main. */
int main(void)
{
	return 0;
}
