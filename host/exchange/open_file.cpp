#include "exchange/open_file.h"

#include <unistd.h>

#include <new>

namespace pounce::exchange {

OpenFile* OpenFile::adopt(int fd, const struct stat& st) {
  OpenFile* f = new (std::nothrow) OpenFile(fd, st);
  // No memory for the record: the descriptor is still ours to close.
  if (!f) ::close(fd);
  return f;
}

OpenFile::~OpenFile() {
  ::close(fd_);
}

void OpenFile::unref() {
  if (--refs_ == 0) delete this;
}

}  // namespace pounce::exchange
