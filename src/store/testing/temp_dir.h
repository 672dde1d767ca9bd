// The store tests' name for the shared test TempDir (core/testing/temp_dir.h).
#pragma once

#include "core/testing/temp_dir.h"

namespace lobster::store::testing {
using ::lobster::testing::TempDir;
}  // namespace lobster::store::testing
