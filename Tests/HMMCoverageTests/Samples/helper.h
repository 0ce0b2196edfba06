static inline int twice(int x)
{
	if (x > 100)
		return -1;
	return 2 * x;
}
