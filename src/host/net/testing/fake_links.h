// FakeLinks: in-memory Links with the same contract as RtnlLinks (shared contract test in
// links_contract_test.cc). Tests inspect the resulting state with get_link()/list_links().
// fail_next_for_test() makes the next mutating call fail, to exercise rollbacks.
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "host/net/links.h"

namespace lobster::net::testing {

class FakeLinks final : public Links {
 public:
  Result<EnsureResult> ensure_tap(const TapSpec& spec) override {
    if (!valid_ifname(spec.name)) {
      return make_error(ErrorCode::kValidationFailed, "invalid TAP name '{}'", spec.name);
    }
    if (auto err = take_failure()) {
      return std::unexpected(*err);
    }
    EnsureResult r;
    auto it = links_.find(spec.name);
    if (it != links_.end() && it->second.kind != "tun") {
      return make_error(ErrorCode::kTapCreateFailed,
                        "create TAP {}: a link of kind '{}' already has that name", spec.name,
                        it->second.kind);
    }
    if (it == links_.end()) {
      LinkInfo l;
      l.name = spec.name;
      l.index = next_index_++;
      l.kind = "tun";
      it = links_.emplace(spec.name, std::move(l)).first;
      r.created = true;
      r.changed = true;
    }
    LinkInfo& l = it->second;
    std::vector<std::pair<Ipv4, int>> want = {{spec.address, spec.prefix}};
    if (l.tun_owner != spec.owner_uid || l.tun_group != spec.owner_gid || l.addresses != want ||
        !l.up) {
      r.changed = true;
    }
    l.tun_owner = spec.owner_uid;
    l.tun_group = spec.owner_gid;
    l.addresses = want;
    l.up = true;
    return r;
  }

  Result<bool> delete_link(std::string_view name) override {
    if (!valid_ifname(name)) {
      return make_error(ErrorCode::kValidationFailed, "invalid interface name '{}'", name);
    }
    if (auto err = take_failure()) {
      return std::unexpected(*err);
    }
    return links_.erase(std::string(name)) > 0;
  }

  Result<std::optional<LinkInfo>> get_link(std::string_view name) override {
    if (!valid_ifname(name)) {
      return make_error(ErrorCode::kValidationFailed, "invalid interface name '{}'", name);
    }
    auto it = links_.find(std::string(name));
    if (it == links_.end()) {
      return std::optional<LinkInfo>();
    }
    return std::optional<LinkInfo>(it->second);
  }

  Result<std::vector<LinkInfo>> list_links(std::string_view prefix) override {
    std::vector<LinkInfo> out;
    for (const auto& [name, l] : links_) {
      if (name.starts_with(prefix)) {
        out.push_back(l);
      }
    }
    return out;  // std::map iterates in name order
  }

  // Adds a non-TAP link (e.g. "eth0") so tests can check name clashes and prefix filtering.
  void add_foreign_link_for_test(const std::string& name, const std::string& kind) {
    LinkInfo l;
    l.name = name;
    l.index = next_index_++;
    l.kind = kind;
    links_[name] = l;
  }

  // The next mutating call fails with `error`.
  void fail_next_for_test(Error error) { failure_ = std::move(error); }

  size_t size() const { return links_.size(); }

 private:
  std::optional<Error> take_failure() {
    std::optional<Error> e = std::move(failure_);
    failure_.reset();
    return e;
  }

  std::map<std::string, LinkInfo, std::less<>> links_;
  std::optional<Error> failure_;
  int next_index_ = 100;
};

}  // namespace lobster::net::testing
