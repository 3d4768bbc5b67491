#include "boxd/exit_codes.hpp"

namespace boxd::cli {

int exit_code_for(ErrorClass error_class) {
  switch (error_class) {
    case ErrorClass::Internal:
      return 1;
    case ErrorClass::Usage:
      return 2;
    case ErrorClass::Authentication:
      return 3;
    case ErrorClass::NotFound:
      return 4;
    case ErrorClass::InvalidArgument:
      return 5;
    case ErrorClass::QuotaExceeded:
      return 6;
    case ErrorClass::Timeout:
      return 7;
    case ErrorClass::Connection:
      return 8;
    case ErrorClass::Cancelled:
      return 130;
  }
  return 1;
}

std::string exit_codes_help() {
  return "boxd exit codes:\n"
         "  0    success\n"
         "  1    other failure (InternalError)\n"
         "  2    usage error: bad flags, arguments, names or sizes\n"
         "  3    AuthenticationError: missing, invalid, expired or revoked credentials\n"
         "  4    NotFoundError: the box (or other resource) does not exist\n"
         "  5    InvalidArgumentError: invalid request, name taken, wrong state\n"
         "  6    QuotaExceededError: quota or rate limit reached\n"
         "  7    TimeoutError: deadline exceeded\n"
         "  8    ConnectionError: server unreachable\n"
         "  130  interrupted (Ctrl-C)\n"
         "\n"
         "boxd box exec exits with the remote command's status instead, and:\n"
         "  128+N  the remote command was killed by signal N\n"
         "  124    --timeout expired (the remote command was killed)\n"
         "  255    boxd itself failed (the message names the error class)\n"
         "  130    interrupted (Ctrl-C; the remote command was killed), 143 for SIGTERM\n"
         "\n"
         "boxd box wait (and box create --wait) exits 7 when its timeout passed first.\n"
         "boxd box jobs logs -f exits with the job's status (128+N for signal N; 1 when\n"
         "the job ended without one); an unknown job id is 4, kill of an ended job 5.\n";
}

}  // namespace boxd::cli
