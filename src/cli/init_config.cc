#include "cli/init_config.h"

namespace lobster::cli {

Status validate_domain(const std::string& domain) {
  auto bad = [&](const char* why) {
    Error e{ErrorCode::kValidationFailed, fmt::format("invalid --domain \"{}\": {}", domain, why)};
    e.hint = "use a DNS name such as lobster.localhost or agents.example.com";
    return make_error(std::move(e));
  };
  if (domain.empty() || domain.size() > 253)
    return bad("expected 1..253 characters");
  size_t start = 0;
  while (start <= domain.size()) {
    size_t end = domain.find('.', start);
    if (end == std::string::npos)
      end = domain.size();
    std::string_view label(domain.data() + start, end - start);
    if (label.empty() || label.size() > 63)
      return bad("each label needs 1..63 characters");
    if (label.front() == '-' || label.back() == '-')
      return bad("a label starts or ends with '-'");
    for (char c : label) {
      bool allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      if (!allowed)
        return bad("only lower-case letters, digits, '-' and '.' are allowed");
    }
    start = end + 1;
  }
  return ok();
}

Result<ConfigPlan> plan_init_config(const std::optional<std::string>& existing,
                                    const std::optional<std::string>& domain, const Paths& paths) {
  if (domain)
    LOB_TRY(validate_domain(*domain));
  ConfigPlan plan;
  if (!existing) {
    plan.config = Config::defaults(paths);
    if (domain)
      plan.config.caddy.domain = *domain;
    plan.new_text = config_to_json(plan.config).dump(2) + "\n";
    plan.action = "written";
    return plan;
  }
  auto current = parse_config(*existing, paths);
  if (!current) {
    Error e = current.error();
    e.message = paths.config_file() + ": " + e.message;
    e.hint = "fix or remove " + paths.config_file() + " and run init again (nothing was changed)";
    return make_error(std::move(e));
  }
  plan.config = std::move(*current);
  if (!domain || *domain == plan.config.caddy.domain) {
    plan.action = "kept";
    return plan;
  }
  // Patch the document rather than re-serialising the Config, so the operator's file keeps
  // exactly its keys; parse_config above proved it is an object with a valid "caddy" (if any).
  nlohmann::json doc = nlohmann::json::parse(*existing, nullptr, /*allow_exceptions=*/false);
  doc["caddy"]["domain"] = *domain;
  std::string text = doc.dump(2) + "\n";
  plan.config = LOB_TRY(parse_config(text, paths));
  plan.new_text = std::move(text);
  plan.action = "updated";
  return plan;
}

}  // namespace lobster::cli
