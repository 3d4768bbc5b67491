// The box configuration flags that `box create` and `template create` share
// (--image, --vcpu, --memory, --disk, --auto-suspend-timeout,
// --auto-destroy-timeout),
// declared once so that their names, checks and help never drift apart.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "boxd/validators.hpp"
#include "common/sizes.hpp"

namespace boxd::cli {

// Options needs: std::string image; unsigned vcpu; std::uint64_t memory_bytes, disk_bytes;
// std::optional<std::uint32_t> auto_suspend_timeout_secs, auto_destroy_timeout_secs.
template <typename Options>
void define_vm_config_flags(CLI::App* cmd, Options& options) {
  cmd->add_option("--image", options.image,
                  "Image reference (default: the server's default image)");
  cmd->add_option("--vcpu", options.vcpu, "Number of vCPUs (default: the server's)")
      ->check(CLI::Range(1U, 1024U));
  cmd->add_option_function<std::string>(
         "--memory",
         [&options](const std::string& text) { options.memory_bytes = *parse_size(text); },
         "Memory size (at least 64M): 512M, 4G, 1.5G, 10GiB or bytes")
      ->type_name("SIZE")
      ->check(memory_validator());
  cmd->add_option_function<std::string>(
         "--disk", [&options](const std::string& text) { options.disk_bytes = *parse_size(text); },
         "Disk size (the box's own disk; default: the server's): 10G, 20GiB or bytes")
      ->type_name("SIZE")
      ->check(size_validator());
  cmd->add_option_function<std::uint32_t>(
         "--auto-suspend-timeout",
         [&options](const std::uint32_t& secs) { options.auto_suspend_timeout_secs = secs; },
         "Suspend after S seconds without inbound traffic (0 = never)")
      ->type_name("S");
  cmd->add_option_function<std::uint32_t>(
         "--auto-destroy-timeout",
         [&options](const std::uint32_t& secs) { options.auto_destroy_timeout_secs = secs; },
         "Destroy after S seconds (0 = never)")
      ->type_name("S");
}

}  // namespace boxd::cli
