// Inside the gRPC Client (only lib/client's sources include this): the
// credentials, the lazily created channel, and the one path every unary
// call takes, Impl::call:
//
//   bearer token (direct, cached or exchanged; not logged in -> Error)
//   -> the stub (channel created on first use, TLS or h2c by transport.hpp)
//   -> a context with `authorization` + `x-boxd-client` and a 60 s deadline
//   -> the RPC (its -vv log line comes from the channel's interceptor,
//      client_log.cpp)
//   -> x-boxd-cli-latest noted from the answer
//   -> OK: the response; UNAUTHENTICATED for a token this process did not
//      just obtain: dropped, exchanged again, retried once; UNAVAILABLE with
//      a cached transport that the server now answers differently: retried
//      once on a new channel; anything else: error_from_call (call_error.hpp)
//
// Streams (exec, file transfers, logs) take stream_context() instead: the
// same credentials, no deadline, no retry (their input may be consumed).
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "boxd/api/v1/api.grpc.pb.h"
#include "client/client.hpp"
#include "client/token_cache.hpp"
#include "client/transport.hpp"

namespace boxd::client {

struct Client::Impl {
  ResolvedConfig config;
  TokenCache cache = TokenCache::default_cache();
  TransportCache transport_cache = TransportCache::default_cache();
  std::optional<TransportChoice> transport;  // decided with the channel

  std::mutex mutex;  // guards everything below
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<api::BoxdApi::Stub> stub;
  std::string jwt;  // the token in use (from the key)
  std::int64_t jwt_expires_at = 0;
  std::string cli_latest;  // x-boxd-cli-latest seen on a response

  explicit Impl(ResolvedConfig c);

  template <typename Request, typename Response>
  using UnaryMethod = grpc::Status (api::BoxdApi::Stub::*)(grpc::ClientContext*, const Request&,
                                                           Response*);

  // The one unary call path (see the top of this file).
  template <typename Request, typename Response>
  Response call(UnaryMethod<Request, Response> method, const Request& request) {
    for (int attempt = 0;; ++attempt) {
      bool fresh = false;
      const std::string token = bearer(fresh);
      api::BoxdApi::Stub& s = get_stub();
      grpc::ClientContext context;
      prepare(context, token);
      context.set_deadline(std::chrono::system_clock::now() + k_unary_deadline);
      Response response;
      const grpc::Status status = (s.*method)(&context, request, &response);
      if (unary_done(context, status, attempt, fresh)) {
        return response;
      }
    }
  }

  // A context for a stream: credentials, no deadline.
  std::unique_ptr<grpc::ClientContext> stream_context();

  // The bearer token for the next call. `fresh` tells whether it was
  // obtained by an exchange just now (then a refusal is final).
  std::string bearer(bool& fresh);
  api::BoxdApi::Stub& get_stub();
  // The channel get_stub() uses (made first if need be), for the raw
  // streams of zero_copy.hpp.
  std::shared_ptr<grpc::Channel> get_channel();
  void prepare(grpc::ClientContext& context, const std::string& token) const;
  std::string source_of(const std::string& key) const;

  static constexpr auto k_unary_deadline = std::chrono::seconds(60);

 private:
  // After one attempt of a unary call: true when it succeeded, false when it
  // is to be retried; throws the call's Error otherwise.
  bool unary_done(const grpc::ClientContext& context, const grpc::Status& status, int attempt,
                  bool fresh);
  bool uses_key() const;
  bool decide_transport(bool fresh);
  bool transport_changed();
  void drop_token();
  void note_metadata(const grpc::ClientContext& context);
  std::string exchange_locked(std::int64_t now);
};

// The client's id in `x-boxd-client` and the user agent.
std::string client_id();

}  // namespace boxd::client
