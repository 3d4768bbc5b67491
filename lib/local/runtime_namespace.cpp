// The "namespace" runtime (being written): until it lands, make_runtime()
// reports it unavailable and "auto" falls back to the process runtime.
#include "local/runtime_support.hpp"

namespace boxd::local {

bool namespace_runtime_supported(std::string* why) {
  if (why != nullptr) {
    *why = "the namespace runtime is not implemented yet";
  }
  return false;
}

std::unique_ptr<Runtime> make_namespace_runtime() { return nullptr; }

int box_init_main(int /*argc*/, char** /*argv*/) { return 1; }

}  // namespace boxd::local
