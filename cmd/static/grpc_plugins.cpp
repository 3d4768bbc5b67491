// The gRPC core configuration of the static boxd: which resolvers, load
// balancing policies, filters and handshakers gRPC registers at grpc_init().
//
// Why: gRPC (Debian's libgrpc.a, 1.51) builds its configuration in
// grpc_core::BuildCoreConfiguration, which calls the registration function of
// every plugin it was built with, xDS (client, resolver, cluster policies, RBAC
// and fault injection filters, file-watcher certificates), RLS, grpclb,
// google-c2p, and the priority, weighted-target, outlier-detection and
// ring-hash policies among them. One call is enough for the linker to pull each
// of them out of the archive, with the upb tables and re2 they bring: about
// 2.4 MB of the static binary, none of which boxd uses (it talks to one
// host:port, plaintext or TLS, with no xDS or balancer). A static archive
// member is only linked for a symbol nothing else defines: this file, linked
// into the executable itself, defines BuildCoreConfiguration first, so
// libgrpc.a's own registry object (and what only it references) stays out.
//
// Only BOXD_STATIC builds compile this file (CMakeLists.txt); the dev and
// asan builds use libgrpc.so's full registry. It must match the gRPC version
// it links (the names below are 1.51's, declared in its registry source): a
// function that gRPC renames or drops is a link error here, not a silent gap.
// The order is gRPC's own with the plugins left out removed; it matters for
// the handshakers (the last registered runs first) and for filters of equal
// priority.
//
// Kept: the client channel (retries, service config parsers, health checks),
// pick_first (the default) and round_robin, the DNS resolvers (c-ares and
// native, GRPC_DNS_RESOLVER picks), the ipv4/ipv6/unix address resolvers,
// http_proxy / https_proxy support, the HTTP, deadline, message size, idle,
// authority and security filters, TLS and insecure credentials, the resource
// quota. tests/packaging/test_deb.sh runs the e2e suites over the packaged
// (static) binary: gRPC over TCP with DNS names and addresses, with and
// without TLS.

namespace grpc_core {

// Stands in for gRPC's internal core_configuration.h (not installed by
// Debian): only the name of the nested Builder class is needed to declare the
// functions, which the linker matches by their mangled names.
class CoreConfiguration {
 public:
  class Builder;
};
using Builder = CoreConfiguration::Builder;

void BuildCoreConfiguration(Builder* builder);

void RegisterHttpConnectHandshaker(Builder* builder);
void RegisterTCPConnectHandshaker(Builder* builder);
void RegisterPickFirstLbPolicy(Builder* builder);
void RegisterRoundRobinLbPolicy(Builder* builder);
void BuildClientChannelConfiguration(Builder* builder);
void SecurityRegisterHandshakerFactories(Builder* builder);
void RegisterClientAuthorityFilter(Builder* builder);
void RegisterChannelIdleFilters(Builder* builder);
void RegisterHttpFilters(Builder* builder);
void RegisterDeadlineFilter(Builder* builder);
void RegisterMessageSizeFilter(Builder* builder);
void RegisterServiceConfigChannelArgFilter(Builder* builder);
void RegisterResourceQuota(Builder* builder);
void RegisterAresDnsResolver(Builder* builder);
void RegisterNativeDnsResolver(Builder* builder);
void RegisterSockaddrResolver(Builder* builder);
void RegisterHttpProxyMapper(Builder* builder);
void RegisterSecurityFilters(Builder* builder);
void RegisterBuiltins(Builder* builder);

}  // namespace grpc_core

namespace grpc_event_engine::experimental {
void RegisterEventEngineChannelArgPreconditioning(grpc_core::CoreConfiguration::Builder* builder);
}  // namespace grpc_event_engine::experimental

void grpc_core::BuildCoreConfiguration(Builder* builder) {
  grpc_event_engine::experimental::RegisterEventEngineChannelArgPreconditioning(builder);
  // Handshakers: registered in reverse order of use (TCP connect runs first).
  RegisterHttpConnectHandshaker(builder);
  RegisterTCPConnectHandshaker(builder);
  RegisterPickFirstLbPolicy(builder);
  RegisterRoundRobinLbPolicy(builder);
  BuildClientChannelConfiguration(builder);
  SecurityRegisterHandshakerFactories(builder);
  RegisterClientAuthorityFilter(builder);
  RegisterChannelIdleFilters(builder);
  RegisterHttpFilters(builder);
  RegisterDeadlineFilter(builder);
  RegisterMessageSizeFilter(builder);
  RegisterServiceConfigChannelArgFilter(builder);
  RegisterResourceQuota(builder);
  RegisterAresDnsResolver(builder);
  RegisterNativeDnsResolver(builder);
  RegisterSockaddrResolver(builder);
  RegisterHttpProxyMapper(builder);
  // Last, as in gRPC's own registry: the security filters, then the
  // connected/lame/server-top filters every channel ends with.
  RegisterSecurityFilters(builder);
  RegisterBuiltins(builder);
}
