// The state dir's lock: see state_lock.hpp.
#include "local/state_lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/error.hpp"

namespace boxd::local {

StateLock::StateLock(const std::filesystem::path& dir) {
  const auto path = dir / "server.lock";
  m_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (m_fd < 0) {
    throw Error(ErrorClass::Internal, "cannot open " + path.string() + ": " + std::strerror(errno));
  }
  struct flock whole {};
  whole.l_type = F_WRLCK;
  whole.l_whence = SEEK_SET;  // l_start 0, l_len 0: the whole file, however long
  int locked = -1;
  do {
    locked = ::fcntl(m_fd, F_SETLK, &whole);
  } while (locked != 0 && errno == EINTR);
  if (locked != 0) {
    ::close(m_fd);
    throw Error(ErrorClass::InvalidArgument, "another boxd local server is using " + dir.string(),
                "stop it with 'boxd local stop' or use another --state-dir");
  }
}

StateLock::~StateLock() {
  ::close(m_fd);
}

}  // namespace boxd::local
