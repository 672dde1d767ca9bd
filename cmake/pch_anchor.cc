// The one source of the precompiled-header holder targets (lobster_pch_lib, lobster_pch_test in
// LobsterHelpers.cmake). They exist only to build the PCH that every other target reuses.
namespace lobster::pch_anchor {}
