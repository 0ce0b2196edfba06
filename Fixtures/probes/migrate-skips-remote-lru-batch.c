// SPDX-License-Identifier: GPL-2.0
/*
 * MIGRATE_TO_DEV of a page that a per-CPU LRU batch of another CPU holds.
 *
 * folio_batch_add_and_move() takes a folio reference and leaves the folio on the LRU until
 * that CPU drains its batch. migrate_device_unmap() drains only the CPU it runs on
 * (lru_add_drain) and drains every CPU only for a folio that is off the LRU, so
 * migrate_vma_check_page() sees the extra reference and the page is not migrated:
 * test_hmm's read-back then fails with ENOENT. Two batches are reached from test_hmm's
 * ioctls: MADV_FREE's lazyfree batch, and folio_activate() when EXCLUSIVE's GUP
 * (FOLL_TOUCH) marks an already referenced page accessed. Found by hmmkit fuzz (seeds
 * 1036, 1160, 1327 on 6.12.118), as a replay that failed 1 to 3 runs in 10.
 *
 * Each case runs its steps on CPU A, then MIGRATE_TO_DEV on CPU B, ATTEMPTS times, and
 * passes when every attempt migrated the page. Needs two CPUs and test_hmm loaded:
 *   gcc -I TREE/lib -o probe migrate-skips-remote-lru-batch.c
 *   hmmkit vm run --kernel K --program $PWD/probe
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/types.h>
#include "test_hmm_uapi.h"

#define ATTEMPTS 20

enum prelude { WRITE_ONLY, MADV_FREE_AFTER_WRITE, EXCLUSIVE_TWICE_THEN_WRITE };

static int run_on(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static int dmirror(int fd, unsigned long request, void *addr, void *buffer)
{
	struct hmm_dmirror_cmd cmd = { .addr = (__u64)addr, .ptr = (__u64)buffer, .npages = 1 };

	return ioctl(fd, request, &cmd) ? errno : 0;
}

/* 0 when the page was migrated, else the errno of MIGRATE_TO_DEV (or of a setup step). */
static int attempt(enum prelude prelude, int cpu_a, int cpu_b)
{
	long page = sysconf(_SC_PAGESIZE);
	int fd = open("/dev/hmm_dmirror0", O_RDWR);
	char *buffer = malloc(page);
	char *p, *scratch;
	int err = 0;

	if (fd < 0 || !buffer)
		return errno;
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return errno;
	if (run_on(cpu_a))
		return errno;
	switch (prelude) {
	case WRITE_ONLY:
		memset(p, 0x5a, page);
		break;
	case MADV_FREE_AFTER_WRITE:
		memset(p, 0x5a, page);
		if (madvise(p, page, MADV_FREE))
			err = errno;
		break;
	case EXCLUSIVE_TWICE_THEN_WRITE:
		/*
		 * As in seed 1327: the first EXCLUSIVE faults the page in (lru_add batch) and
		 * marks it referenced; freeing another page (here munmap, there mremap) drains
		 * this CPU's lru_add batch (free_pages_and_swap_cache), so the folio is on the
		 * LRU when the second EXCLUSIVE marks it accessed again: folio_activate().
		 */
		scratch = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (scratch == MAP_FAILED)
			return errno;
		memset(scratch, 1, page);
		err = dmirror(fd, HMM_DMIRROR_EXCLUSIVE, p, buffer);
		munmap(scratch, page);
		if (!err)
			err = dmirror(fd, HMM_DMIRROR_EXCLUSIVE, p, buffer);
		memset(p, 0xa5, page);
		break;
	}
	if (!err && run_on(cpu_b))
		err = errno;
	if (!err)
		err = dmirror(fd, HMM_DMIRROR_MIGRATE_TO_DEV, p, buffer);
	munmap(p, page);
	free(buffer);
	close(fd);
	return err;
}

int main(void)
{
	static const struct { const char *name; enum prelude prelude; int cpu_a, cpu_b; } cases[] = {
		{ "write_then_migrate_on_other_cpu", WRITE_ONLY, 0, 1 },
		{ "madv_free_then_migrate_on_same_cpu", MADV_FREE_AFTER_WRITE, 0, 0 },
		{ "madv_free_then_migrate_on_other_cpu", MADV_FREE_AFTER_WRITE, 0, 1 },
		{ "exclusive_twice_then_migrate_on_same_cpu", EXCLUSIVE_TWICE_THEN_WRITE, 0, 0 },
		{ "exclusive_twice_then_migrate_on_other_cpu", EXCLUSIVE_TWICE_THEN_WRITE, 0, 1 },
	};
	int n = sizeof(cases) / sizeof(cases[0]), failed = 0;

	printf("TAP version 13\n1..%d\n", n);
	for (int i = 0; i < n; i++) {
		int migrated = 0, enoent = 0, other = 0, last = 0;

		for (int a = 0; a < ATTEMPTS; a++) {
			int err = attempt(cases[i].prelude, cases[i].cpu_a, cases[i].cpu_b);

			if (!err)
				migrated++;
			else if (err == ENOENT)
				enoent++;
			else
				other++, last = err;
		}
		if (migrated < ATTEMPTS)
			failed++;
		printf("# %s: migrated %d of %d, ENOENT %d, other %d%s%s\n", cases[i].name, migrated, ATTEMPTS,
		       enoent, other, other ? ": " : "", other ? strerror(last) : "");
		printf("%sok %d %s\n", migrated == ATTEMPTS ? "" : "not ", i + 1, cases[i].name);
	}
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n", n - failed, failed);
	return failed ? 1 : 0;
}
