#include "boxd/docs/topics.hpp"

namespace boxd::cli::docs {

std::string environment_help() {
  return "boxd environment variables (a flag beats its variable; a variable beats the\n"
         "profile in config.json; the profile beats the --environment preset):\n"
         "  BOXD_API_KEY        API key, exchanged for a JWT (--api-key)\n"
         "  BOXD_TOKEN          JWT used as is, no exchange (--token)\n"
         "  BOXD_ENVIRONMENT    preset: production (default), staging, local (--environment)\n"
         "  BOXD_API_URL        gRPC endpoint; http:// plaintext, https:// TLS, a bare\n"
         "                      loopback host:port either, as the server speaks (--api-url)\n"
         "  BOXD_EXCHANGE_URL   API key exchange URL (--exchange-url)\n"
         "  BOXD_PROFILE        named profile in config.json (--profile)\n"
         "  BOXD_CONFIG_DIR     config directory (default $XDG_CONFIG_HOME/boxd)\n"
         "  XDG_CONFIG_HOME     base of the config directory (default ~/.config)\n"
         "  XDG_CACHE_HOME      base of the token cache (default ~/.cache)\n"
         "  XDG_DATA_HOME       base of boxd local's state (default ~/.local/share)\n"
         "  BOXD_LOCAL_API_KEYS boxd local serve: \"KEY=USER KEY=USER\" (the service's keys)\n"
         "  GRPC_TRACE          gRPC tracers for -vvv (default: api, http, channel state...)\n"
         "  NO_COLOR            no colour in any output\n"
         "  GRPC_DEFAULT_SSL_ROOTS_FILE_PATH  PEM file of the CAs trusted for TLS (a private CA)\n"
         "  TERM                sent to the box for interactive sessions\n";
}

std::string files_help() {
  return "  $BOXD_CONFIG_DIR/config.json        profiles\n"
         "  $BOXD_CONFIG_DIR/credentials.json   stored API keys (0600)\n"
         "  $XDG_CACHE_HOME/boxd/tokens/        cached JWTs (0600)\n"
         "  $XDG_CACHE_HOME/boxd/transport.json TLS or h2c per endpoint (auto transport)\n"
         "  $XDG_DATA_HOME/boxd-local/          boxd local's state\n"
         "  <state>/server.log, server.N.log    boxd local start's log (boxd local logs)\n"
         "  /usr/lib/systemd/system/boxd-local.service\n"
         "                                      boxd local as a system service\n"
         "  /etc/boxd-local/keys.env            the service's API keys (BOXD_LOCAL_API_KEYS)\n"
         "  /var/lib/boxd-local/                the service's state and log\n";
}

}  // namespace boxd::cli::docs
