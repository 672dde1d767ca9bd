// SwaggerValidator (test-only): checks an HTTP request against a Swagger 2.0 document, here
// Firecracker's official API definition (firecracker-swagger.yaml beside this file).
//
// Checked: method + path against `paths` (templated segments like {drive_id} match one
// segment), presence of a required body, and the body against its schema: `$ref`, `type`,
// `required`, `properties`, `additionalProperties`, `enum`, `items`, `minimum`/`maximum`,
// integer `format` ranges. Firecracker deserialises with serde's deny_unknown_fields, so an
// object schema that lists `properties` and declares no `additionalProperties` rejects unknown
// keys (strict mode, on by default). Rules the swagger states only in prose are checked too:
// path id == body id for drives / network interfaces / pmem, and exactly one of `mem_file_path`
// and `mem_backend` in a snapshot load.
//
//   auto v = LOB_TRY(SwaggerValidator::from_file(kSwaggerPath));
//   LOB_TRY(v.validate("PUT", "/drives/rootfs", body));   // kValidationFailed names the field
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace lobster::vmm::firecracker::testing {

class SwaggerValidator {
 public:
  static Result<SwaggerValidator> from_yaml(const std::string& yaml_text);
  static Result<SwaggerValidator> from_file(const std::string& path);

  // kValidationFailed: "PUT /drives/rootfs: body.rate_limiter.bandwidth.size: expected an
  // integer, got string". `body` is the raw request body ("" = none).
  Status validate(const std::string& method, const std::string& target,
                  const std::string& body) const;

  // info.version of the document ("1.17.0-dev").
  std::string version() const;
  const nlohmann::json& document() const { return doc_; }
  void set_strict_unknown_fields(bool strict) { strict_ = strict; }

 private:
  explicit SwaggerValidator(nlohmann::json doc) : doc_(std::move(doc)) {}
  Status check(const nlohmann::json& schema, const nlohmann::json& value, const std::string& where,
               int depth) const;
  Result<const nlohmann::json*> resolve(const nlohmann::json& schema) const;

  nlohmann::json doc_;
  bool strict_ = true;
};

// YAML (the subset Swagger files use) -> JSON. Plain scalars become numbers, booleans or null
// where YAML 1.2's core schema says so; quoted scalars stay strings. kValidationFailed on a
// YAML syntax error.
Result<nlohmann::json> yaml_to_json(const std::string& yaml_text);

}  // namespace lobster::vmm::firecracker::testing
