#include "vmm/firecracker/testing/swagger_validator.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <limits>
#include <vector>

#include "core/fs.h"

namespace lobster::vmm::firecracker::testing {
namespace {

using nlohmann::json;

json scalar_to_json(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() == "!")
    return s;  // quoted: always a string
  if (s == "true")
    return true;
  if (s == "false")
    return false;
  if (s.empty() || s == "~" || s == "null")
    return nullptr;
  int64_t i = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
  if (ec == std::errc() && p == s.data() + s.size())
    return i;
  double d = 0;
  auto [pd, ecd] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ecd == std::errc() && pd == s.data() + s.size())
    return d;
  return s;
}

json node_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar_to_json(node);
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(node_to_json(item));
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node) out[kv.first.Scalar()] = node_to_json(kv.second);
      return out;
    }
  }
  return nullptr;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos)
      end = path.size();
    out.emplace_back(path.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c + 32);
  }
  return s;
}

std::string type_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::binary:
    case json::value_t::discarded:
      return "invalid";
  }
  return "invalid";
}

}  // namespace

Result<json> yaml_to_json(const std::string& yaml_text) {
  try {
    return node_to_json(YAML::Load(yaml_text));
  } catch (const YAML::Exception& e) {
    return make_error(ErrorCode::kValidationFailed, "YAML parse error: {}", e.what());
  }
}

Result<SwaggerValidator> SwaggerValidator::from_yaml(const std::string& yaml_text) {
  json doc = LOB_TRY(yaml_to_json(yaml_text));
  if (!doc.is_object() || !doc.contains("paths") || !doc.contains("definitions")) {
    return make_error(ErrorCode::kValidationFailed, "not a Swagger 2.0 document");
  }
  return SwaggerValidator(std::move(doc));
}

Result<SwaggerValidator> SwaggerValidator::from_file(const std::string& path) {
  std::string text = LOB_TRY(fs::read_file(path));
  return from_yaml(text);
}

std::string SwaggerValidator::version() const {
  return doc_.value("/info/version"_json_pointer, std::string());
}

Result<const json*> SwaggerValidator::resolve(const json& schema) const {
  const json* s = &schema;
  for (int hops = 0; s->is_object() && s->contains("$ref"); ++hops) {
    const std::string ref = (*s)["$ref"].get<std::string>();
    if (hops > 16 || !ref.starts_with("#/")) {
      return make_error(ErrorCode::kValidationFailed, "unsupported $ref '{}'", ref);
    }
    json::json_pointer ptr(ref.substr(1));
    if (!doc_.contains(ptr)) {
      return make_error(ErrorCode::kValidationFailed, "dangling $ref '{}'", ref);
    }
    s = &doc_.at(ptr);
  }
  return s;
}

Status SwaggerValidator::check(const json& schema_in, const json& value, const std::string& where,
                               int depth) const {
  if (depth > 32)
    return make_error(ErrorCode::kValidationFailed, "{}: schema too deep", where);
  const json& schema = *LOB_TRY(resolve(schema_in));
  auto fail = [&](const std::string& why) -> Status {
    return make_error(ErrorCode::kValidationFailed, "{}: {}", where, why);
  };
  const std::string actual = type_of(value);
  const std::string type = schema.value("type", std::string());
  if (!type.empty()) {
    const bool ok = type == actual || (type == "number" && actual == "integer");
    if (!ok)
      return fail("expected " + type + ", got " + actual);
  }
  if (auto e = schema.find("enum"); e != schema.end()) {
    bool found = false;
    for (const auto& option : *e) found = found || option == value;
    if (!found)
      return fail("value " + value.dump() + " is not one of " + e->dump());
  }
  if (value.is_number()) {
    const double n = value.get<double>();
    if (schema.contains("minimum") && n < schema["minimum"].get<double>()) {
      return fail(value.dump() + " is below the minimum " + schema["minimum"].dump());
    }
    if (schema.contains("maximum") && n > schema["maximum"].get<double>()) {
      return fail(value.dump() + " is above the maximum " + schema["maximum"].dump());
    }
    if (schema.value("format", "") == "int32" &&
        (n < std::numeric_limits<int32_t>::min() || n > std::numeric_limits<int32_t>::max())) {
      return fail(value.dump() + " does not fit int32");
    }
  }
  if (value.is_array() && schema.contains("items")) {
    for (size_t i = 0; i < value.size(); ++i) {
      LOB_TRY(check(schema["items"], value[i], where + "[" + std::to_string(i) + "]", depth + 1));
    }
  }
  if (value.is_object()) {
    for (const auto& req : schema.value("required", json::array())) {
      if (!value.contains(req.get<std::string>())) {
        return fail("missing required field '" + req.get<std::string>() + "'");
      }
    }
    const json props = schema.value("properties", json::object());
    for (const auto& [key, item] : value.items()) {
      if (props.contains(key)) {
        LOB_TRY(check(props[key], item, where + "." + key, depth + 1));
        continue;
      }
      auto extra = schema.find("additionalProperties");
      if (extra == schema.end()) {
        if (strict_ && !props.empty())
          return fail("unknown field '" + key + "'");
      } else if (extra->is_boolean()) {
        if (!extra->get<bool>())
          return fail("unknown field '" + key + "'");
      } else {
        LOB_TRY(check(*extra, item, where + "." + key, depth + 1));
      }
    }
  }
  return ok();
}

Status SwaggerValidator::validate(const std::string& method, const std::string& target,
                                  const std::string& body) const {
  std::string path = target.substr(0, target.find('?'));
  const std::string what = method + " " + path;
  const auto segments = split_path(path);
  const json* op_paths = nullptr;
  std::map<std::string, std::string> params;
  for (const auto& [templ, item] : doc_["paths"].items()) {
    const auto t = split_path(templ);
    if (t.size() != segments.size())
      continue;
    std::map<std::string, std::string> bound;
    bool match = true;
    for (size_t i = 0; i < t.size() && match; ++i) {
      if (t[i].size() > 2 && t[i].front() == '{' && t[i].back() == '}') {
        bound[t[i].substr(1, t[i].size() - 2)] = segments[i];
      } else {
        match = t[i] == segments[i];
      }
    }
    if (match) {
      op_paths = &item;
      params = std::move(bound);
      break;
    }
  }
  if (op_paths == nullptr) {
    return make_error(ErrorCode::kValidationFailed, "{}: path not in the swagger", what);
  }
  auto op_it = op_paths->find(lower(method));
  if (op_it == op_paths->end()) {
    return make_error(ErrorCode::kValidationFailed, "{}: method not allowed on this path", what);
  }
  const json* body_param = nullptr;
  // value() returns copies: iterate the document's own array so body_param stays valid.
  if (auto params_it = op_it->find("parameters"); params_it != op_it->end()) {
    for (const auto& p : *params_it) {
      if (p.value("in", "") == "body") {
        body_param = &p;
      }
    }
  }
  if (body_param == nullptr) {
    if (!body.empty()) {
      return make_error(ErrorCode::kValidationFailed, "{}: takes no body", what);
    }
    return ok();
  }
  if (body.empty()) {
    if (body_param->value("required", false)) {
      return make_error(ErrorCode::kValidationFailed, "{}: body is required", what);
    }
    return ok();
  }
  json value = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return make_error(ErrorCode::kValidationFailed, "{}: body is not valid JSON", what);
  }
  Status s = check((*body_param)["schema"], value, "body", 0);
  if (!s) {
    Error e = std::move(s).error();
    e.message = what + ": " + e.message;
    return make_error(std::move(e));
  }
  // Rules stated in the swagger's prose (and enforced by Firecracker's parsers).
  for (const auto& [name, id] : params) {
    const std::string field = name == "id" ? "id" : name;
    if (value.is_object() && value.contains(field) && value[field] != id) {
      return make_error(ErrorCode::kValidationFailed, "{}: body.{} {} differs from the path", what,
                        field, value[field].dump());
    }
  }
  if (path == "/snapshot/load") {
    const bool file = value.contains("mem_file_path");
    const bool backend = value.contains("mem_backend");
    if (file == backend) {
      return make_error(ErrorCode::kValidationFailed,
                        "{}: exactly one of mem_file_path and mem_backend must be present", what);
    }
  }
  return ok();
}

}  // namespace lobster::vmm::firecracker::testing
