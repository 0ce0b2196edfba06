#include "CSysShims.h"
#include <errno.h>
#include <unistd.h>

pid_t hmmkit_fork(void) { return fork(); }
int hmmkit_errno(void) { return errno; }
void hmmkit_set_errno(int value) { errno = value; }
