// The gRPC credential kinds the static boxd leaves out: Google default,
// compute engine, refresh token, access token, IAM, STS, JWT, external account
// (AWS, URL, file), metadata plugins, ALTS, and the experimental TLS
// credentials (certificate providers and verifiers; boxd's TLS is
// SslCredentials and SslServerCredentials).
//
// Why: grpc++'s credentials object (libgrpc++.a) defines SslCredentials and
// InsecureChannelCredentials, which boxd uses, next to the constructors of
// every other kind, so linking it pulls each of their C implementations out of
// libgrpc.a: OAuth2 token fetchers, an HTTP client, the AWS request signer,
// the ALTS handshaker and record protocol, the certificate distributor and
// verifiers of the experimental TLS credentials: 0.47 MB of the static
// binary. boxd sends its own bearer token in call metadata (lib/client) over
// TLS or plaintext and uses none of them. Defining their C entry
// points here, in the executable, keeps libgrpc.a's objects for them out of
// the link (a static archive member is linked only for a symbol nothing
// before it defines).
//
// Each one logs and returns no credentials, which grpc++ hands back as a null
// pointer; the ALTS option helpers do nothing. Only BOXD_STATIC builds compile
// this file (CMakeLists.txt); the signatures are those of the installed
// <grpc/grpc_security.h>, so a change in gRPC's API is a compile error here.
#include <grpc/grpc_security.h>
#include <grpc/support/log.h>

#include <cstddef>

namespace {

std::nullptr_t left_out(const char* what) {
  gpr_log(GPR_ERROR, "%s: not built into this static boxd", what);
  return nullptr;
}

}  // namespace

grpc_channel_credentials* grpc_google_default_credentials_create(grpc_call_credentials* /*call*/) {
  return left_out("Google default credentials");
}

grpc_call_credentials* grpc_google_compute_engine_credentials_create(void* /*reserved*/) {
  return left_out("compute engine credentials");
}

grpc_call_credentials* grpc_external_account_credentials_create(const char* /*json*/,
                                                                const char* /*scopes*/) {
  return left_out("external account credentials");
}

grpc_call_credentials* grpc_google_refresh_token_credentials_create(const char* /*token*/,
                                                                    void* /*reserved*/) {
  return left_out("refresh token credentials");
}

grpc_call_credentials* grpc_access_token_credentials_create(const char* /*token*/,
                                                            void* /*reserved*/) {
  return left_out("access token credentials");
}

grpc_call_credentials* grpc_google_iam_credentials_create(const char* /*token*/,
                                                          const char* /*selector*/,
                                                          void* /*reserved*/) {
  return left_out("IAM credentials");
}

grpc_call_credentials* grpc_sts_credentials_create(const grpc_sts_credentials_options* /*options*/,
                                                   void* /*reserved*/) {
  return left_out("STS credentials");
}

grpc_call_credentials* grpc_service_account_jwt_access_credentials_create(const char* /*key*/,
                                                                          gpr_timespec /*lifetime*/,
                                                                          void* /*reserved*/) {
  return left_out("JWT credentials");
}

grpc_call_credentials* grpc_metadata_credentials_create_from_plugin(
    grpc_metadata_credentials_plugin /*plugin*/, grpc_security_level /*level*/,
    void* /*reserved*/) {
  return left_out("metadata credentials plugins");
}

grpc_alts_credentials_options* grpc_alts_credentials_client_options_create() {
  return left_out("ALTS");
}

grpc_alts_credentials_options* grpc_alts_credentials_server_options_create() {
  return left_out("ALTS");
}

void grpc_alts_credentials_client_options_add_target_service_account(
    grpc_alts_credentials_options* /*options*/, const char* /*account*/) {}

void grpc_alts_credentials_options_destroy(grpc_alts_credentials_options* /*options*/) {}

grpc_channel_credentials* grpc_alts_credentials_create(
    const grpc_alts_credentials_options* /*options*/) {
  return left_out("ALTS credentials");
}

grpc_server_credentials* grpc_alts_server_credentials_create(
    const grpc_alts_credentials_options* /*options*/) {
  return left_out("ALTS server credentials");
}

grpc_channel_credentials* grpc_tls_credentials_create(grpc_tls_credentials_options* /*options*/) {
  return left_out("experimental TLS credentials");
}

grpc_server_credentials* grpc_tls_server_credentials_create(
    grpc_tls_credentials_options* /*options*/) {
  return left_out("experimental TLS server credentials");
}
