#include "guest/dispatch.h"

#include <cmath>
#include <optional>

#include "guest/protocol.h"

namespace lobster::guest {
namespace {

using nlohmann::json;

// A positive finite number (integer or floating) as whole milliseconds; nullopt otherwise.
std::optional<int64_t> positive_ms(const json& req, const char* key) {
  auto it = req.find(key);
  if (it == req.end() || !it->is_number()) {
    return std::nullopt;
  }
  if (it->is_number_unsigned()) {
    auto v = it->get<uint64_t>();
    if (v == 0 || v > static_cast<uint64_t>(INT64_MAX)) {
      return std::nullopt;
    }
    return static_cast<int64_t>(v);
  }
  if (it->is_number_integer()) {
    auto v = it->get<int64_t>();
    return v > 0 ? std::optional<int64_t>(v) : std::nullopt;
  }
  double d = it->get<double>();
  if (!std::isfinite(d) || d < 1.0 || d > 9.0e15) {
    return std::nullopt;
  }
  return static_cast<int64_t>(std::floor(d));
}

std::optional<std::string> non_empty_string(const json& req, const char* key) {
  auto it = req.find(key);
  if (it == req.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    return std::nullopt;
  }
  return it->get<std::string>();
}

}  // namespace

std::string_view log_service_name(LogService s) {
  switch (s) {
    case LogService::kGateway:
      return "gateway";
    case LogService::kAgent:
      return "agent";
    case LogService::kDropbear:
      return "dropbear";
  }
  return "gateway";
}

void Dispatcher::dispatch(std::string_view line, Port port, ReplyFn done) {
  json req = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (req.is_discarded()) {
    done(error_reply(kErrInvalidJson));
    return;
  }
  if (!req.is_object()) {
    done(error_reply(kErrInvalidRequest));
    return;
  }
  auto tok = req.find("token");
  std::string_view given;
  if (tok != req.end() && tok->is_string()) {
    given = tok->get_ref<const std::string&>();
  }
  // token_equals() rejects an empty expected token, so an unconfigured agent fails closed.
  if (!token_equals(token_, given)) {
    done(error_reply(kErrUnauthorized));
    return;
  }
  auto type_it = req.find("type");
  if (type_it == req.end() || !type_it->is_string()) {
    done(error_reply(kErrInvalidRequest));
    return;
  }
  const std::string& type = type_it->get_ref<const std::string&>();
  if (port == Port::kHealth && type != "health-ping") {
    done(error_reply("method not allowed on port 53"));
    return;
  }
  route(type, req, done);
}

void Dispatcher::route(const std::string& type, const json& req, ReplyFn& done) {
  if (type == "health-ping") {
    done(json{{"ok", true}, {"reply", "PONG"}});
  } else if (type == "inject-secrets") {
    auto it = req.find("secrets");
    if (it == req.end() || !it->is_object()) {
      done(error_reply("Invalid secrets"));
      return;
    }
    done(backend_.inject_secrets(*it));
  } else if (type == "launch-openclaw" || type == "ensure-gateway") {
    done(backend_.ensure_gateway());
  } else if (type == "get-stats") {
    done(backend_.get_stats());
  } else if (type == "get-logs") {
    LogService service = LogService::kGateway;
    auto it = req.find("service");
    if (it != req.end() && !it->is_null()) {
      std::string s = it->is_string() ? it->get<std::string>() : std::string();
      if (s == "gateway") {
        service = LogService::kGateway;
      } else if (s == "agent") {
        service = LogService::kAgent;
      } else if (s == "dropbear") {
        service = LogService::kDropbear;
      } else {
        done(error_reply("Invalid service (gateway|agent|dropbear)"));
        return;
      }
    }
    done(backend_.get_logs(service));
  } else if (type == "set-time") {
    auto ms = positive_ms(req, "timestampMs");
    if (!ms) {
      done(error_reply("Invalid timestampMs"));
      return;
    }
    done(backend_.set_time(*ms));
  } else if (type == "get-cron-schedules") {
    backend_.get_cron_schedules(std::move(done));
  } else if (type == "poke-cron") {
    backend_.poke_cron(std::move(done));
  } else if (type == "get-heartbeat-schedule") {
    backend_.get_heartbeat_schedule(std::move(done));
  } else if (type == "get-active-connections") {
    backend_.get_active_connections(std::move(done));
  } else if (type == "hold-acquire") {
    auto id = non_empty_string(req, "holdId");
    if (!id) {
      done(error_reply("Invalid holdId"));
      return;
    }
    auto ttl = positive_ms(req, "ttlMs");
    if (!ttl) {
      done(error_reply("Invalid ttlMs"));
      return;
    }
    done(backend_.hold_acquire(*id, *ttl));
  } else if (type == "hold-release") {
    auto id = non_empty_string(req, "holdId");
    if (!id) {
      done(error_reply("Invalid holdId"));
      return;
    }
    done(backend_.hold_release(*id));
  } else if (type == "shutdown") {
    done(backend_.shutdown());
  } else {
    done(error_reply("unknown method: " + type));
  }
}

}  // namespace lobster::guest
