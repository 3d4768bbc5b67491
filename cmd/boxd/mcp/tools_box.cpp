// Tools that look at boxes: box_list, box_get, box_logs, and box_forward
// (the proxy URL of a port).
#include <fmt/format.h>

#include "boxd/box/get.hpp"
#include "boxd/mcp/tool.hpp"
#include "boxd/output.hpp"
#include "boxd/proxy/proxy.hpp"
#include "common/error.hpp"

namespace boxd::cli::mcp {

namespace {

json box_document(const api::v1::GetVmResponse& box) {
  json doc = proto_to_json(box);
  doc["url"] = box_url(box);
  return doc;
}

json run_list(ToolContext& t) {
  json boxes = json::array();
  for (const auto& box : t.client.list_vms()) {
    if (t.policy.visible(box.name())) {
      boxes.push_back(box_document(box));
    }
  }
  return {{"boxes", boxes}, {"count", boxes.size()}};
}

json run_get(ToolContext& t) {
  const std::string box = t.policy.resolve(t.client, arg_string(t.args, "box", true));
  return box_document(t.client.get_vm(box));
}

// The console log, its last max_output bytes.
json run_logs(ToolContext& t) {
  const std::string box = t.policy.resolve(t.client, arg_string(t.args, "box", true));
  std::string log;
  std::uint64_t total = 0;
  const std::size_t max = t.limits.max_output;
  t.client.stream_logs(
      box, false,
      [&](std::string_view data) {
        total += data.size();
        log.append(data);
        if (log.size() > 2 * max) {
          log.erase(0, log.size() - max);
        }
      },
      &t.call.call_cancel());
  Capped capped = cap_tail(std::move(log), max);
  return {{"box", box},
          {"log", capped.data},
          {"bytes", total},
          {"truncated", total > capped.data.size()},
          {"output_limit_bytes", max}};
}

json forward_document(const std::string& box, const api::v1::ProxyInfo& proxy) {
  return {{"box", box},
          {"port", proxy.effective_port()},
          {"proxy", proxy.is_default() ? "" : proxy.name()},
          {"url", proxy_url(proxy)}};
}

json run_forward(ToolContext& t) {
  const std::string box = t.policy.resolve(t.client, arg_string(t.args, "box", true));
  const auto port = arg_int(t.args, "port");
  if (!port || *port < 1 || *port > 65535) {
    throw Error(ErrorClass::Usage, "'port' must be a port number (1-65535)");
  }
  for (const auto& proxy : t.client.list_proxies(box)) {
    if (proxy.effective_port() == static_cast<std::uint32_t>(*port)) {
      return forward_document(box, proxy);
    }
  }
  std::string name = arg_string(t.args, "name");
  if (name.empty()) {
    name = fmt::format("port{}", *port);
  }
  return forward_document(box, t.client.create_proxy(box, name, static_cast<std::uint32_t>(*port)));
}

}  // namespace

void add_box_tools(std::vector<Tool>& tools) {
  json list_output = schema_object(
      {{"boxes", {{"type", "array"}, {"items", box_schema()}}}, {"count", schema_integer("")}},
      {"boxes", "count"});
  tools.push_back(
      {"box_list", "List boxes",
       "List the boxes you can use, with their status (running, stopped, suspended...), "
       "size and URL.",
       schema_object(json::object()), list_output, true, false, true, run_list});
  tools.push_back({"box_get", "Show a box", "One box's details: status, size, image, URL, limits.",
                   schema_object({{"box", box_arg()}}, {"box"}), box_schema(), true, false, true,
                   run_get});
  tools.push_back({"box_logs", "Read a box's console log",
                   "The box's console log (what its init printed). Long logs are cut to their end; "
                   "`truncated` says so and `output_limit_bytes` is the cap.",
                   schema_object({{"box", box_arg()}}, {"box"}),
                   schema_object({{"box", schema_string("")},
                                  {"log", schema_string("The log text (its end when truncated)")},
                                  {"bytes", schema_integer("Size of the whole log")},
                                  {"truncated", schema_boolean("")},
                                  {"output_limit_bytes", schema_integer("")}},
                                 {"box", "log", "truncated"}),
                   true, false, true, run_logs});
  tools.push_back(
      {"box_forward", "Get the URL of a port",
       "The HTTP(S) URL through which a port of the box is reached from outside (its proxy). "
       "Reuses a proxy already on that port, else creates one.",
       schema_object(
           {{"box", box_arg()},
            {"port", schema_integer("Port a server in the box listens on", 1)},
            {"name", schema_string("Proxy name when one is created (default: port<PORT>)")}},
           {"box", "port"}),
       schema_object({{"box", schema_string("")},
                      {"port", schema_integer("")},
                      {"proxy", schema_string("Proxy name; empty for the default proxy")},
                      {"url", schema_string("")}},
                     {"box", "port", "url"}),
       false, false, true, run_forward});
}

}  // namespace boxd::cli::mcp
