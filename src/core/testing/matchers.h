// Shared gtest matchers. Always assert the specific error code; there is deliberately no
// "is any error" matcher.
//
//   EXPECT_THAT(store.find("x"), HasError(ErrorCode::kTenantNotFound));
//   ASSERT_THAT(store.create(t), IsOk());
#pragma once

#include <gmock/gmock.h>

#include "core/error.h"

namespace lobster::testing {

MATCHER(IsOk, "is ok") {
  if (arg.has_value()) return true;
  *result_listener << "error: " << arg.error().to_string();
  return false;
}

MATCHER_P(HasError, code, std::string("has error ") + std::string(::lobster::code_name(code))) {
  if (arg.has_value()) {
    *result_listener << "has a value";
    return false;
  }
  *result_listener << "error: " << arg.error().to_string();
  return arg.error().code == code;
}

}  // namespace lobster::testing
