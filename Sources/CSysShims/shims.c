#define _GNU_SOURCE
#include <sys/vfs.h>
#include "CSysShims.h"
#include <errno.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sched.h>
#include <spawn.h>
#include <sys/file.h>

pid_t hmmkit_fork(void) { return fork(); }
int hmmkit_errno(void) { return errno; }
void hmmkit_set_errno(int value) { errno = value; }

int hmmkit_fallocate(int fd, int mode, long offset, long length) { return fallocate(fd, mode, offset, length); }
int hmmkit_flock(int fd, int operation) { return flock(fd, operation); }
int hmmkit_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
void *hmmkit_mremap(void *old_address, unsigned long old_size, unsigned long new_size,
                    int flags, void *new_address) {
    return mremap(old_address, old_size, new_size, flags, new_address);
}

int hmmkit_power_off(void) { sync(); return reboot(RB_POWER_OFF); }

int hmmkit_pin_thread(const int *cpus, int count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++) {
        if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) { errno = EINVAL; return -1; }
        CPU_SET(cpus[i], &set);
    }
    return sched_setaffinity(0, sizeof set, &set);
}

int hmmkit_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    int rc = posix_spawn_file_actions_addchdir_np(actions, path);
    if (rc != 0) { errno = rc; return -1; }
    return 0;
}

int hmmkit_statfs_type(const char *path, long *type) {
    struct statfs info;
    if (statfs(path, &info) != 0) return -1;
    *type = (long)info.f_type;
    return 0;
}
