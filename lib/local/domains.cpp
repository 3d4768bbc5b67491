#include "local/domains.hpp"

#include <algorithm>
#include <cctype>

#include "common/log.hpp"
#include "local/fault.hpp"
#include "local/rpc_helpers.hpp"

namespace boxd::local {

namespace {

std::string normalize_domain(std::string domain) {
  std::transform(domain.begin(), domain.end(), domain.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!domain.empty() && domain.back() == '.') {
    domain.pop_back();
  }
  return domain;
}

void check_domain(const std::string& domain, const std::string& given) {
  const auto invalid = [&](const std::string& why) {
    fail(Fault::InvalidArgument, "invalid domain '" + given + "': " + why);
  };
  if (domain.empty()) {
    fail(Fault::InvalidArgument, "a domain is required");
  }
  if (domain.size() > 253) {
    invalid("longer than 253 characters");
  }
  std::size_t labels = 0;
  std::size_t start = 0;
  while (start <= domain.size()) {
    auto end = domain.find('.', start);
    if (end == std::string::npos) {
      end = domain.size();
    }
    const std::string label = domain.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
        !std::all_of(label.begin(), label.end(), [](unsigned char c) {
          return std::islower(c) || std::isdigit(c) || c == '-';
        })) {
      invalid("use dot-separated labels of letters, digits and '-' (e.g. app.example.com)");
    }
    ++labels;
    start = end + 1;
  }
  if (labels < 2) {
    invalid("a domain has at least two labels (e.g. example.com)");
  }
  // Names under .localhost are the box URLs of this server (<box>.<user>.
  // localhost): a domain there would take another tenant's URL.
  if (domain == "localhost" || domain.ends_with(".localhost")) {
    invalid("names under .localhost are box URLs of this server");
  }
}

}  // namespace

BoundDomain Domains::bind(const std::string& user, const std::string& given,
                          const std::string& vm) {
  const std::string domain = normalize_domain(given);
  check_domain(domain, given);
  const auto box = m_boxes.require(user, vm);
  m_store.update([&](StoreData& data) {
    for (const auto& d : data.domains) {
      const bool box_alive = std::any_of(data.boxes.begin(), data.boxes.end(),
                                         [&](const BoxRecord& b) { return b.id == d.box_id; });
      if (d.domain == domain && box_alive) {
        fail(Fault::AlreadyExists, "domain '" + domain + "' is already bound");
      }
    }
    std::erase_if(data.domains, [&](const DomainRecord& d) { return d.domain == domain; });
    rpc::check_record_room(
        data.domains, [&](const DomainRecord& d) { return d.owner == user; },
        m_store.record_limit(), "domains");
    data.domains.push_back(DomainRecord{domain, user, box.id, rpc::now_secs()});
  });
  logging::info("domain " + domain + " bound to box " + box.name + " (" + user + ")");
  return BoundDomain{domain, box.id, box.name};
}

void Domains::unbind(const std::string& user, const std::string& given) {
  const std::string domain = normalize_domain(given);
  m_store.update([&](StoreData& data) {
    const auto removed = std::erase_if(
        data.domains, [&](const DomainRecord& d) { return d.domain == domain && d.owner == user; });
    if (removed == 0 || domain.empty()) {
      fail(Fault::NotFound, "domain '" + given + "' not found");
    }
  });
  logging::info("domain " + domain + " unbound by " + user);
}

std::vector<BoundDomain> Domains::list(const std::string& user) const {
  return m_store.read([&](const StoreData& data) {
    std::vector<DomainRecord> mine;
    for (const auto& d : data.domains) {
      if (d.owner == user) {
        mine.push_back(d);
      }
    }
    std::sort(mine.begin(), mine.end(),
              [](const DomainRecord& a, const DomainRecord& b) { return a.domain < b.domain; });
    std::vector<BoundDomain> out;
    for (const auto& d : mine) {
      const auto box = std::find_if(data.boxes.begin(), data.boxes.end(),
                                    [&](const BoxRecord& b) { return b.id == d.box_id; });
      if (box != data.boxes.end()) {  // else its box was destroyed: the binding went with it
        out.push_back(BoundDomain{d.domain, d.box_id, box->name});
      }
    }
    return out;
  });
}

}  // namespace boxd::local
