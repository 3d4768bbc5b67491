#include "client/call_error.hpp"

namespace boxd::client {

Error error_from_call(const grpc::Status& status, const ResolvedConfig& config, bool had_progress) {
  const int code = static_cast<int>(status.error_code());
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    std::string message =
        (had_progress ? "lost connection to " : "cannot connect to ") + config.api_url;
    // gRPC's text for a refused connection is a paragraph; the point is one word.
    if (status.error_message().find("Connection refused") != std::string::npos) {
      message += ": connection refused";
    } else if (!status.error_message().empty()) {
      message += ": " + status.error_message();
    }
    const std::string& text = status.error_message();
    std::string hint;
    if (text.find("certificate verify failed") != std::string::npos) {
      hint =
          "the server's TLS certificate is not trusted here: for a private CA set "
          "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH to its PEM file";
    } else if (text.find("wrong version number") != std::string::npos) {
      hint =
          "the server does not speak TLS: use http:// (or no scheme on loopback to let boxd "
          "choose)";
    } else if (config.environment == "local") {
      hint = "is the local server running? start it with 'boxd local start'";
    } else {
      hint = "check your network and --api-url / BOXD_API_URL";
    }
    return Error(ErrorClass::Connection, message, hint, code);
  }
  Error error = error_from_status(status);
  if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    return Error(error.error_class(), error.what(), "run 'boxd auth login'", code);
  }
  return error;
}

}  // namespace boxd::client
