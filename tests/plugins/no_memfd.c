/* Not a plugin: an LD_PRELOAD shim that makes memfd_create fail as it does
 * on old kernels or under a seccomp filter, so that tests reach the host's
 * $TMPDIR fallback. */
#include <errno.h>
#include <pounce/pounce.h>

POUNCE_EXPORT int memfd_create(const char* name, unsigned int flags) {
  (void)name;
  (void)flags;
  errno = ENOSYS;
  return -1;
}
