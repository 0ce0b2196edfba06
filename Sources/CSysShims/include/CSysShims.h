#ifndef HMMKIT_CSYSSHIMS_H
#define HMMKIT_CSYSSHIMS_H
#include <sys/types.h>

/* fork(2) for a test child: Swift marks fork unavailable; the child only runs
 * async-signal-safe work or exits. Returns the pid, 0 in the child, -1 with errno. */
pid_t hmmkit_fork(void);
/* errno as an int, for code that cannot reach the thread-local macro. */
int hmmkit_errno(void);
void hmmkit_set_errno(int value);

/* Calls whose glibc prototypes need _GNU_SOURCE, which Swift's Glibc module lacks. */
int hmmkit_fallocate(int fd, int mode, long offset, long length);
int hmmkit_pipe2(int fds[2], int flags);
void *hmmkit_mremap(void *old_address, unsigned long old_size, unsigned long new_size,
                    int flags, void *new_address);
/* sched_setaffinity(2) of the calling thread to the given CPUs (CPU_SET is a macro).
 * Returns 0, or -1 with errno (EINVAL for a CPU number outside cpu_set_t). */
int hmmkit_pin_thread(const int *cpus, int count);
/* sync(2) then reboot(2) with RB_POWER_OFF: how a test VM's init ends the VM. */
int hmmkit_power_off(void);
/* statfs(2)'s f_type for `path` in *type (<sys/vfs.h> is not in Swift's Glibc module).
 * Returns 0, or -1 with errno. */
int hmmkit_statfs_type(const char *path, long *type);
/* flock(2): Swift's Glibc module resolves `flock` to the struct of fcntl locks. */
int hmmkit_flock(int fd, int operation);
/* posix_spawn_file_actions_addchdir_np (glibc 2.29+, a GNU extension). */
#include <spawn.h>
int hmmkit_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path);
#endif
