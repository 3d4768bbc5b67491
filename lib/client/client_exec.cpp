// The Exec stream on the client side: Client::exec opens the bidi stream
// with the usual credentials (client_impl.hpp) and sends the first chunk;
// GrpcExecSession serialises writers (stdin relay and resize may come from
// different threads) while one reader drains output. No retry once the
// stream is open: stdin may already have been consumed.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <mutex>

#include "client/call_error.hpp"
#include "client/client.hpp"
#include "client/client_impl.hpp"
#include "common/error.hpp"
#include "common/zero_copy.hpp"

namespace boxd::client {

namespace {

constexpr std::size_t k_stdin_chunk_bytes = 1024 * 1024;
constexpr const char* k_exec_method = "/boxd.api.v1.BoxdApi/Exec";
constexpr int k_data_field = 1;  // ExecChunk.data

// Exec as a raw stream (zero_copy.hpp): ExecChunk messages built by hand
// on the way out, so stdin goes from a pooled buffer to the socket as is.
using ExecStream = grpc::ClientReaderWriter<grpc::ByteBuffer, api::ExecChunk>;

class GrpcExecSession final : public ExecSession {
 public:
  // on_unreachable: called when the call failed to connect before any output.
  GrpcExecSession(std::unique_ptr<grpc::ClientContext> context, std::unique_ptr<ExecStream> stream,
                  ResolvedConfig config, std::function<void()> on_unreachable)
      : m_context(std::move(context)),
        m_stream(std::move(stream)),
        m_config(std::move(config)),
        m_on_unreachable(std::move(on_unreachable)) {
    api::ExecChunk head;
    head.set_stdin(true);
    m_stdin_head = head.SerializeAsString();
  }

  ~GrpcExecSession() override {
    if (!m_finished) {
      m_context->TryCancel();
      api::ExecChunk ignored;
      while (m_stream->Read(&ignored)) {
      }
      m_stream->Finish();
    }
  }

  GrpcExecSession(const GrpcExecSession&) = delete;
  GrpcExecSession& operator=(const GrpcExecSession&) = delete;

  bool write_stdin(std::string_view data) override {
    std::size_t offset = 0;
    do {
      const std::size_t size = std::min(k_stdin_chunk_bytes, data.size() - offset);
      auto buffer = m_pool->take();
      std::copy_n(data.data() + offset, size, buffer.get());
      if (!send_stdin(std::move(buffer), size)) {
        return false;
      }
      offset += size;
    } while (offset < data.size());
    return true;
  }

  long write_stdin_from(int fd, std::size_t max, bool& sent) override {
    auto buffer = m_pool->take();
    const ssize_t n = ::read(fd, buffer.get(), std::min(max, k_stdin_chunk_bytes));
    sent = n <= 0 || send_stdin(std::move(buffer), static_cast<std::size_t>(n));
    return n;
  }

  bool resize(unsigned cols, unsigned rows) override {
    std::lock_guard lock(m_write_mutex);
    if (m_writes_done) {
      return false;
    }
    api::ExecChunk chunk;
    chunk.set_window_change(true);
    chunk.set_cols(cols);
    chunk.set_rows(rows);
    return m_stream->Write(serialized(chunk));
  }

  void close_stdin() override {
    std::lock_guard lock(m_write_mutex);
    if (!m_writes_done) {
      m_writes_done = true;
      m_stream->WritesDone();
    }
  }

  bool read(api::ExecChunk& chunk) override {
    while (m_stream->Read(&chunk)) {
      if (chunk.stdin() || chunk.window_change()) {
        continue;  // echoes of client-side chunk kinds: not output
      }
      m_had_output = true;
      return true;
    }
    return false;
  }

  void finish() override {
    if (m_finished) {
      return;
    }
    m_finished = true;
    const grpc::Status status = m_stream->Finish();
    if (!status.ok()) {
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE && !m_had_output &&
          m_on_unreachable) {
        m_on_unreachable();
      }
      throw error_from_call(status, m_config, m_had_output);
    }
  }

  void cancel() override { m_context->TryCancel(); }

 private:
  // One stdin chunk: the first `size` bytes of a pooled buffer.
  bool send_stdin(std::unique_ptr<char[]> buffer, std::size_t size) {
    std::lock_guard lock(m_write_mutex);
    if (m_writes_done) {
      return false;
    }
    return m_stream->Write(
        message_with_payload(m_stdin_head, k_data_field, m_pool->wrap(std::move(buffer), size)));
  }

  std::unique_ptr<grpc::ClientContext> m_context;
  std::unique_ptr<ExecStream> m_stream;
  const ResolvedConfig m_config;  // a copy: the session may outlive its Client
  std::function<void()> m_on_unreachable;
  const std::shared_ptr<SlicePool> m_pool = SlicePool::create(k_stdin_chunk_bytes);
  std::string m_stdin_head;  // ExecChunk{stdin: true}, serialized
  std::mutex m_write_mutex;
  bool m_writes_done = false;  // guarded by m_write_mutex
  bool m_had_output = false;
  bool m_finished = false;
};

// The command as sent: in tty mode with a TERM, docs/wire-contract.md
// section 3: always single-quoted, `export TERM='xterm-256color'; cmd`.
std::string command_with_term(const ExecRequest& request) {
  if (!request.tty || request.term.empty() || request.command.empty()) {
    return request.command;
  }
  std::string quoted;
  for (char c : request.term) {
    quoted += c == '\'' ? std::string("'\"'\"'") : std::string(1, c);
  }
  return "export TERM='" + quoted + "'; " + request.command;
}

api::ExecChunk first_chunk(const ExecRequest& request) {
  api::ExecChunk first;
  first.set_vm_id(request.vm);
  first.set_command(command_with_term(request));
  first.set_tty(request.tty);
  if (request.tty) {
    first.set_cols(request.cols);
    first.set_rows(request.rows);
  }
  return first;
}

}  // namespace

long ExecSession::write_stdin_from(int fd, std::size_t max, bool& sent) {
  std::string buffer(max, '\0');
  const ssize_t n = ::read(fd, buffer.data(), max);
  sent = n <= 0 || write_stdin(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
  return n;
}

std::unique_ptr<ExecSession> Client::exec(const ExecRequest& request) {
  // bearer() refreshes a token within five minutes of expiry, so a stream
  // does not start with a token about to lapse.
  auto context = m_impl->stream_context();
  if (request.deadline) {
    context->set_deadline(std::chrono::system_clock::now() + *request.deadline);
  }
  const auto channel = m_impl->get_channel();
  const grpc::internal::RpcMethod method(k_exec_method, grpc::internal::RpcMethod::BIDI_STREAMING,
                                         channel);
  std::unique_ptr<ExecStream> stream(
      grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, api::ExecChunk>::Create(
          channel.get(), method, context.get()));
  // A failed first write shows up as the stream's status on read/finish.
  stream->Write(serialized(first_chunk(request)));
  // A cached transport that no longer works is asked again on the next run
  // (no retry here: stdin may already be consumed).
  std::function<void()> forget_transport;
  std::optional<TransportChoice> choice;
  {
    std::lock_guard lock(m_impl->mutex);
    choice = m_impl->transport;
  }
  if (choice && choice->from_cache) {
    forget_transport = [cache = m_impl->transport_cache, target = m_impl->config.endpoint.target] {
      cache.drop(target);
    };
  }
  return std::make_unique<GrpcExecSession>(std::move(context), std::move(stream), m_impl->config,
                                           std::move(forget_transport));
}

}  // namespace boxd::client
