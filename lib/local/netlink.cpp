// See netlink.hpp. The messages are what iproute2 sends for the same steps
// (`ip link add NAME type veth peer name PEER netns N`, `ip link set NAME
// master M`, `bridge link set dev NAME isolated on`, `ip addr add`, `ip route
// add default via G`, `ip link del NAME`), built by hand: a header, a fixed
// struct, then attributes (nested ones for link kinds and bridge ports).
#include "local/netlink.hpp"

#include "common/error.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <exception>
#include <optional>
#include <thread>

namespace boxd::local::netlink {

namespace {

constexpr std::size_t k_nl_receive_bytes = 32768;
// How often a dump that a change interrupted is asked again.
constexpr int k_dump_attempts = 8;

// A request being built: the netlink header, then the family's struct,
// then attributes, each padded to 4 bytes.
class NlMessage {
 public:
  NlMessage(std::uint16_t type, std::uint16_t flags) {
    m_bytes.resize(NLMSG_HDRLEN);
    header()->nlmsg_type = type;
    header()->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | flags);
  }
  template <typename T>
  T* fixed() {  // the family's struct, zeroed; right after the header
    const std::size_t at = m_bytes.size();
    m_bytes.resize(at + NLMSG_ALIGN(sizeof(T)));
    return reinterpret_cast<T*>(m_bytes.data() + at);
  }
  void attr(std::uint16_t type, const void* data, std::size_t size) {
    const std::size_t at = m_bytes.size();
    m_bytes.resize(at + RTA_ALIGN(RTA_LENGTH(size)));
    auto* rta = reinterpret_cast<rtattr*>(m_bytes.data() + at);
    rta->rta_type = type;
    rta->rta_len = static_cast<std::uint16_t>(RTA_LENGTH(size));
    if (size > 0) {
      std::memcpy(RTA_DATA(rta), data, size);
    }
  }
  void attr_string(std::uint16_t type, const std::string& text) {
    attr(type, text.c_str(), text.size() + 1);
  }
  void attr_u32(std::uint16_t type, std::uint32_t value) { attr(type, &value, sizeof value); }
  void attr_u8(std::uint16_t type, std::uint8_t value) { attr(type, &value, sizeof value); }
  // begin_nest returns the offset end_nest needs.
  std::size_t begin_nest(std::uint16_t type) {
    const std::size_t at = m_bytes.size();
    attr(type, nullptr, 0);
    return at;
  }
  void end_nest(std::size_t at) {
    reinterpret_cast<rtattr*>(m_bytes.data() + at)->rta_len =
        static_cast<std::uint16_t>(m_bytes.size() - at);
  }
  std::vector<char>& finish() {
    header()->nlmsg_len = static_cast<std::uint32_t>(m_bytes.size());
    return m_bytes;
  }

 private:
  nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(m_bytes.data()); }
  std::vector<char> m_bytes;
};

// The kernel's own words for a failure when it sent them (extended ACK).
std::string nl_error_text(const nlmsghdr& message, int error) {
  std::string text = std::strerror(-error);
  if ((message.nlmsg_flags & NLM_F_ACK_TLVS) == 0) {
    return text;
  }
  const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(&message));
  std::size_t offset = NLMSG_HDRLEN + sizeof(nlmsgerr);
  if ((message.nlmsg_flags & NLM_F_CAPPED) == 0) {
    if (err->msg.nlmsg_len < NLMSG_HDRLEN) {
      return text;
    }
    offset += err->msg.nlmsg_len - NLMSG_HDRLEN;
  }
  const char* base = reinterpret_cast<const char*>(&message);
  while (offset + sizeof(nlattr) <= message.nlmsg_len) {
    const auto* attr = reinterpret_cast<const nlattr*>(base + offset);
    if (attr->nla_len < sizeof(nlattr) || offset + attr->nla_len > message.nlmsg_len) {
      break;
    }
    if ((attr->nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      const char* words = base + offset + NLA_HDRLEN;
      return text + " (" + std::string(words, strnlen(words, attr->nla_len - NLA_HDRLEN)) + ")";
    }
    offset += NLA_ALIGN(attr->nla_len);
  }
  return text;
}

std::string nl_ipv4_text(std::uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 255) + "." +
         std::to_string((address >> 8) & 255) + "." + std::to_string(address & 255);
}

// What one answer message means for the request with sequence number seq:
// its end (0 or the kernel's negative errno) or nothing (more to come).
std::optional<int> nl_answer(const nlmsghdr& message, std::uint32_t seq, bool dump,
                             std::string& why) {
  if (message.nlmsg_seq != seq) {
    return std::nullopt;  // an answer to an earlier request that gave up
  }
  if (message.nlmsg_type == NLMSG_DONE) {
    return 0;
  }
  if (message.nlmsg_type != NLMSG_ERROR) {
    return std::nullopt;
  }
  if (message.nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) {
    why = "a short netlink error message";
    return -EBADMSG;
  }
  const int error = static_cast<const nlmsgerr*>(NLMSG_DATA(&message))->error;
  if (error == 0 && dump) {
    return std::nullopt;  // a dump ends with NLMSG_DONE
  }
  if (error != 0) {
    why = nl_error_text(message, error);
  }
  return error;
}

ifinfomsg* nl_link_header(NlMessage& message, int index = 0, unsigned char family = AF_UNSPEC) {
  auto* info = message.fixed<ifinfomsg>();
  info->ifi_family = family;
  info->ifi_index = index;
  return info;
}

}  // namespace

Route::Route() : m_fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) {
  if (!m_fd.valid()) {
    throw Error(ErrorClass::Internal, std::string("netlink: cannot open a NETLINK_ROUTE socket: ") +
                                          std::strerror(errno));
  }
  const int on = 1;
  // Best effort: the kernel's reason in errors, without the request echoed.
  (void)setsockopt(m_fd.get(), SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof on);
  (void)setsockopt(m_fd.get(), SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof on);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (bind(m_fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    throw Error(ErrorClass::Internal, std::string("netlink: cannot bind a NETLINK_ROUTE socket: ") +
                                          std::strerror(errno));
  }
  // Connected to the kernel (port 0), the socket takes messages from the
  // kernel only: any process on this host may send to a netlink port it
  // finds in /proc/net/netlink, and a forged RTM_NEWLINK answer would make
  // index() return another link (the host's NIC put into a box bridge).
  // The kernel refuses such a sender with ECONNREFUSED.
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (connect(m_fd.get(), reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) != 0) {
    throw Error(ErrorClass::Internal,
                std::string("netlink: cannot connect a NETLINK_ROUTE socket to the kernel: ") +
                    std::strerror(errno));
  }
}

std::uint32_t Route::port_id() const {
  sockaddr_nl local{};
  socklen_t size = sizeof local;
  if (getsockname(m_fd.get(), reinterpret_cast<sockaddr*>(&local), &size) != 0) {
    return 0;
  }
  return local.nl_pid;
}

int Route::transact(std::vector<char>& request,
                    const std::function<void(const nlmsghdr&)>& on_message, std::string& why) {
  auto* header = reinterpret_cast<nlmsghdr*>(request.data());
  header->nlmsg_seq = ++m_seq;
  header->nlmsg_flags |= NLM_F_ACK;
  const bool dump = (header->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(m_fd.get(), request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof kernel) < 0) {
    const int error = errno;
    why = std::strerror(error);
    return -error;
  }
  std::vector<char> buffer(k_nl_receive_bytes);
  bool interrupted = false;
  for (;;) {
    sockaddr_nl sender{};
    iovec data{buffer.data(), buffer.size()};
    msghdr received{};
    received.msg_name = &sender;
    received.msg_namelen = sizeof sender;
    received.msg_iov = &data;
    received.msg_iovlen = 1;
    const ssize_t got = recvmsg(m_fd.get(), &received, 0);
    if (got < 0) {
      const int error = errno;
      if (error == EINTR) {
        continue;
      }
      why = std::strerror(error);
      return -error;
    }
    if (sender.nl_pid != 0 || (received.msg_flags & MSG_TRUNC) != 0) {
      continue;  // not the kernel (connect() already refuses those), or cut short
    }
    const auto length = static_cast<std::size_t>(got);
    // Each message, 4-byte aligned one after the other (NLMSG_NEXT by hand).
    for (std::size_t offset = 0; offset + sizeof(nlmsghdr) <= length;) {
      const auto* message = reinterpret_cast<const nlmsghdr*>(buffer.data() + offset);
      if (message->nlmsg_len < sizeof(nlmsghdr) || offset + message->nlmsg_len > length) {
        break;
      }
      offset += NLMSG_ALIGN(message->nlmsg_len);
      if (dump && message->nlmsg_seq == m_seq && (message->nlmsg_flags & NLM_F_DUMP_INTR) != 0) {
        interrupted = true;  // on the parts made after a change, NLMSG_DONE included
      }
      if (const auto done = nl_answer(*message, m_seq, dump, why)) {
        if (*done == 0 && interrupted) {
          why = "interrupted by a change meanwhile";
          return -EINTR;
        }
        return *done;
      }
      if (message->nlmsg_seq == m_seq && message->nlmsg_type != NLMSG_ERROR && on_message) {
        on_message(*message);
      }
    }
  }
}

int Route::dump(std::vector<char>& request, const std::function<void(const nlmsghdr&)>& on_message,
                std::string& why) {
  for (int attempt = 1;; ++attempt) {
    std::vector<std::vector<char>> answers;
    const int error = transact(
        request,
        [&answers](const nlmsghdr& answer) {
          const auto* bytes = reinterpret_cast<const char*>(&answer);
          answers.emplace_back(bytes, bytes + answer.nlmsg_len);
        },
        why);
    if (error == -EINTR && attempt < k_dump_attempts) {
      continue;
    }
    if (error == -EINTR) {
      why = "interrupted by changes " + std::to_string(k_dump_attempts) + " times";
    }
    if (error != 0) {
      return error;
    }
    for (const auto& answer : answers) {
      on_message(*reinterpret_cast<const nlmsghdr*>(answer.data()));
    }
    return 0;
  }
}

void Route::must(std::vector<char>& request, const std::string& what) {
  std::string why;
  if (transact(request, nullptr, why) != 0) {
    throw Error(ErrorClass::Internal, "netlink: " + what + ": " + why);
  }
}

int Route::index(const std::string& name) {
  NlMessage message(RTM_GETLINK, 0);
  nl_link_header(message);
  message.attr_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  message.attr_string(IFLA_IFNAME, name);
  int found = 0;
  std::string why;
  const int error = transact(
      message.finish(),
      [&found](const nlmsghdr& answer) {
        if (answer.nlmsg_type == RTM_NEWLINK &&
            answer.nlmsg_len >= NLMSG_LENGTH(sizeof(ifinfomsg))) {
          found = static_cast<const ifinfomsg*>(NLMSG_DATA(&answer))->ifi_index;
        }
      },
      why);
  if (error == -ENODEV) {
    return 0;
  }
  if (error != 0) {
    throw Error(ErrorClass::Internal, "netlink: find link " + name + ": " + why);
  }
  return found;
}

int Route::must_index(const std::string& name) {
  const int found = index(name);
  if (found == 0) {
    throw Error(ErrorClass::Internal, "netlink: no link " + name);
  }
  return found;
}

void Route::add_veth(const std::string& name, const std::string& peer, int peer_netns_fd) {
  NlMessage message(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  nl_link_header(message);
  message.attr_string(IFLA_IFNAME, name);
  const std::size_t info = message.begin_nest(IFLA_LINKINFO);
  message.attr_string(IFLA_INFO_KIND, "veth");
  const std::size_t data = message.begin_nest(IFLA_INFO_DATA);
  const std::size_t peer_info = message.begin_nest(VETH_INFO_PEER);
  nl_link_header(message);  // the peer's ifinfomsg, then its attributes
  message.attr_string(IFLA_IFNAME, peer);
  message.attr_u32(IFLA_NET_NS_FD, static_cast<std::uint32_t>(peer_netns_fd));
  message.end_nest(peer_info);
  message.end_nest(data);
  message.end_nest(info);
  must(message.finish(), "add veth " + name + " (peer " + peer + ")");
}

void Route::add_bridge(const std::string& name) {
  NlMessage message(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  nl_link_header(message);
  message.attr_string(IFLA_IFNAME, name);
  const std::size_t info = message.begin_nest(IFLA_LINKINFO);
  message.attr_string(IFLA_INFO_KIND, "bridge");
  message.end_nest(info);
  must(message.finish(), "add bridge " + name);
}

void Route::set_master(const std::string& name, const std::string& master) {
  const int master_index = must_index(master);
  NlMessage message(RTM_NEWLINK, 0);
  nl_link_header(message, must_index(name));
  message.attr_u32(IFLA_MASTER, static_cast<std::uint32_t>(master_index));
  must(message.finish(), "set " + name + " master " + master);
}

void Route::set_isolated(const std::string& port) {
  NlMessage message(RTM_SETLINK, 0);
  nl_link_header(message, must_index(port), AF_BRIDGE);
  const std::size_t protinfo = message.begin_nest(IFLA_PROTINFO | NLA_F_NESTED);
  message.attr_u8(IFLA_BRPORT_ISOLATED, 1);
  message.end_nest(protinfo);
  must(message.finish(), "set bridge port " + port + " isolated");
}

void Route::set_up(const std::string& name) {
  NlMessage message(RTM_NEWLINK, 0);
  ifinfomsg* info = nl_link_header(message, must_index(name));
  info->ifi_change = IFF_UP;
  info->ifi_flags = IFF_UP;
  must(message.finish(), "set " + name + " up");
}

void Route::add_address(const std::string& name, std::uint32_t address, int prefix) {
  NlMessage message(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* info = message.fixed<ifaddrmsg>();
  info->ifa_family = AF_INET;
  info->ifa_prefixlen = static_cast<unsigned char>(prefix);
  info->ifa_scope = RT_SCOPE_UNIVERSE;
  info->ifa_index = static_cast<std::uint32_t>(must_index(name));
  const std::uint32_t wire = htonl(address);
  message.attr(IFA_LOCAL, &wire, sizeof wire);
  message.attr(IFA_ADDRESS, &wire, sizeof wire);
  must(message.finish(),
       "add address " + nl_ipv4_text(address) + "/" + std::to_string(prefix) + " to " + name);
}

// A dump the kernel did not flag as interrupted can still have missed an
// address that moved between its parts (seen once in ~20 flushes under
// churn, kernel 6.18): so each flush ends with a dump that finds nothing,
// or after k_flush_passes passes (what is left then came meanwhile).
constexpr int k_flush_passes = 4;

void Route::flush_addresses(const std::string& name) {
  for (int pass = 0; pass < k_flush_passes; ++pass) {
    if (flush_addresses_once(name) == 0) {
      return;
    }
  }
}

std::size_t Route::flush_addresses_once(const std::string& name) {
  const int link = must_index(name);
  NlMessage request(RTM_GETADDR, NLM_F_DUMP);
  request.fixed<ifaddrmsg>()->ifa_family = AF_INET;
  std::vector<std::pair<ifaddrmsg, std::uint32_t>> found;  // header, IFA_LOCAL (wire order)
  std::string why;
  const int error = dump(
      request.finish(),
      [link, &found](const nlmsghdr& answer) {
        if (answer.nlmsg_type != RTM_NEWADDR ||
            answer.nlmsg_len < NLMSG_LENGTH(sizeof(ifaddrmsg))) {
          return;
        }
        const auto* info = static_cast<const ifaddrmsg*>(NLMSG_DATA(&answer));
        if (static_cast<int>(info->ifa_index) != link) {
          return;
        }
        const auto* base = reinterpret_cast<const char*>(&answer);
        std::size_t offset = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifaddrmsg));
        while (offset + sizeof(rtattr) <= answer.nlmsg_len) {
          const auto* rta = reinterpret_cast<const rtattr*>(base + offset);
          if (rta->rta_len < sizeof(rtattr) || offset + rta->rta_len > answer.nlmsg_len) {
            break;
          }
          if (rta->rta_type == IFA_LOCAL && RTA_PAYLOAD(rta) == sizeof(std::uint32_t)) {
            std::uint32_t local = 0;
            std::memcpy(&local, RTA_DATA(rta), sizeof local);
            found.emplace_back(*info, local);
          }
          offset += RTA_ALIGN(rta->rta_len);
        }
      },
      why);
  if (error != 0) {
    throw Error(ErrorClass::Internal, "netlink: list addresses of " + name + ": " + why);
  }
  for (const auto& [header, local] : found) {
    NlMessage removal(RTM_DELADDR, 0);
    *removal.fixed<ifaddrmsg>() = header;
    removal.attr(IFA_LOCAL, &local, sizeof local);
    std::string ignored;
    transact(removal.finish(), nullptr, ignored);  // gone meanwhile: fine
  }
  return found.size();
}

void Route::add_default_route(std::uint32_t gateway) {
  NlMessage message(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  auto* info = message.fixed<rtmsg>();
  info->rtm_family = AF_INET;
  info->rtm_table = RT_TABLE_MAIN;
  info->rtm_protocol = RTPROT_BOOT;
  info->rtm_scope = RT_SCOPE_UNIVERSE;
  info->rtm_type = RTN_UNICAST;
  const std::uint32_t wire = htonl(gateway);
  message.attr(RTA_GATEWAY, &wire, sizeof wire);
  must(message.finish(), "add default route via " + nl_ipv4_text(gateway));
}

bool Route::delete_link(const std::string& name) {
  NlMessage message(RTM_DELLINK, 0);
  nl_link_header(message);
  message.attr_string(IFLA_IFNAME, name);
  std::string why;
  const int error = transact(message.finish(), nullptr, why);
  if (error == -ENODEV) {
    return false;
  }
  if (error != 0) {
    throw Error(ErrorClass::Internal, "netlink: delete link " + name + ": " + why);
  }
  return true;
}

bool delete_links(const std::vector<std::string>& names) {
  try {
    Route route;
    bool all = true;
    for (const auto& name : names) {
      try {
        route.delete_link(name);
      } catch (const std::exception&) {
        all = false;
      }
    }
    return all;
  } catch (const std::exception&) {
    return false;
  }
}

void in_netns(int netns_fd, const std::function<void()>& fn) {
  std::exception_ptr failure;
  std::thread worker([&] {
    try {
      if (setns(netns_fd, CLONE_NEWNET) != 0) {
        throw Error(ErrorClass::Internal,
                    std::string("cannot join a network namespace: ") + std::strerror(errno));
      }
      fn();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  worker.join();
  if (failure) {
    std::rethrow_exception(failure);
  }
}

bool write_sysctl(const std::string& path, const std::string& value) {
  const UniqueFd fd(open(("/proc/sys/" + path).c_str(), O_WRONLY | O_CLOEXEC));
  return fd.valid() &&
         write(fd.get(), value.data(), value.size()) == static_cast<ssize_t>(value.size());
}

}  // namespace boxd::local::netlink
