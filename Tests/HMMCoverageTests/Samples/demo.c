#include "helper.h"

static int unused(int a)
{
	return a + 1;
}

int main(int argc, char **argv)
{
	int total = 0;

	for (int i = 0; i < argc; i++)
		total += twice(i);
	if (argc > 5)
		total = unused(total);
	return total > 1000;
}
