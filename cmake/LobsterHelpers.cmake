# Build helpers shared by every module (modelled on abseil's CMake helpers).
#
#   lobster_module(NAME net SRCS links.cc DEPS core)       -> static library lobster_net
#   lobster_test(NAME net_links SRCS links_test.cc DEPS net [LABELS unit] [TIMEOUT s])
#   lobster_binary(NAME lobsterd SRCS main.cc DEPS cli)
#
# Every target gets the project's warning set; -Werror unless LOBSTER_WERROR is OFF.
#
# Build speed (the whole test command must stay well under 30 minutes on 2 cores; most of a
# translation unit's time went into parsing and instantiating fmt, nlohmann/json and gtest/gmock):
#   LOBSTER_PCH   every module, binary and test reuses one of two precompiled headers
#                 (third-party and standard headers only, never ours): lobster_pch_lib for
#                 modules and binaries, lobster_pch_test (adds gtest/gmock) for tests. A target
#                 whose compile definitions change what those headers mean would make GCC reject
#                 the PCH (-Winvalid-pch, an error under -Werror): give such a target
#                 `set_target_properties(T PROPERTIES DISABLE_PRECOMPILE_HEADERS ON)`.
#                 clang-tidy/clangd cannot read GCC's .gch files: give them a build directory
#                 configured with -DLOBSTER_PCH=OFF.
#   lld           linked with ld.lld when the compiler accepts -fuse-ld=lld.

#   ccache        used as the compiler launcher when installed (LOBSTER_CCACHE, default ON) and
#                 no launcher was given: a rebuild of unchanged sources (a second clone, the
#                 next CI run on the same host) is a cache hit. The launcher sets what the PCH
#                 and relocated clones need, independent of the caller's environment:
#                 sloppiness for GCC's PCH, base_dir = the source tree (clones at other paths
#                 hit), no cwd hash (debug builds in other directories hit too).

option(LOBSTER_CCACHE "Use ccache as the compiler launcher when it is installed" ON)
if(LOBSTER_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  find_program(LOBSTER_CCACHE_PROGRAM ccache)
  if(LOBSTER_CCACHE_PROGRAM)
    set(LOBSTER_LAUNCHER
        ${CMAKE_COMMAND} -E env
        CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
        CCACHE_BASEDIR=${PROJECT_SOURCE_DIR} CCACHE_NOHASHDIR=1 ${LOBSTER_CCACHE_PROGRAM})
    set(CMAKE_C_COMPILER_LAUNCHER ${LOBSTER_LAUNCHER})
    set(CMAKE_CXX_COMPILER_LAUNCHER ${LOBSTER_LAUNCHER})
    message(STATUS "ccache: ${LOBSTER_CCACHE_PROGRAM}")
  endif()
endif()

set(LOBSTER_WARNINGS
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wswitch-enum
    -Wnon-virtual-dtor -Wno-missing-field-initializers)
if(LOBSTER_WERROR)
  list(APPEND LOBSTER_WARNINGS -Werror)
endif()
# GCC 12 at -O2/-O3 reports impossible sizes inside libstdc++'s own std::string code for
# ordinary `"literal" + std::string` (GCC bugs 105329, 105651; at -O2 also as -Warray-bounds
# on a moved temporary, bug 107852): switch those off for GCC < 13 only; the sanitizer build
# still catches real overflows.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  list(APPEND LOBSTER_WARNINGS -Wno-restrict -Wno-stringop-overflow -Wno-array-bounds)
endif()

set(LOBSTER_SANITIZER_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer
                            -fno-sanitize-recover=all)

function(lobster_apply_flags target)
  target_compile_options(${target} PRIVATE ${LOBSTER_WARNINGS})
  if(LOBSTER_SANITIZE)
    target_compile_options(${target} PRIVATE ${LOBSTER_SANITIZER_FLAGS})
    target_link_options(${target} PRIVATE ${LOBSTER_SANITIZER_FLAGS})
  endif()
  if(LOBSTER_LINKER_FLAG)
    target_link_options(${target} PRIVATE ${LOBSTER_LINKER_FLAG})
  endif()
endfunction()

include(CheckLinkerFlag)
check_linker_flag(CXX -fuse-ld=lld LOBSTER_HAVE_LLD)
if(LOBSTER_HAVE_LLD)
  set(LOBSTER_LINKER_FLAG -fuse-ld=lld)
endif()

# The two precompiled-header holders. They carry exactly the flags and the third-party usage
# requirements (which bring the definitions the headers depend on, e.g. FMT_SHARED,
# GTEST_HAS_PTHREAD) that every module and every test has, so that REUSE_FROM is valid.
set(LOBSTER_PCH_LIB_HEADERS
    <algorithm> <chrono> <cstdint> <expected> <functional> <map> <memory> <mutex> <optional>
    <string> <string_view> <utility> <vector> <fmt/format.h> <nlohmann/json.hpp>)
if(LOBSTER_PCH)
  add_library(lobster_pch_lib STATIC ${PROJECT_SOURCE_DIR}/cmake/pch_anchor.cc)
  target_link_libraries(lobster_pch_lib PRIVATE nlohmann_json::nlohmann_json fmt::fmt
                                                Threads::Threads)
  lobster_apply_flags(lobster_pch_lib)
  target_precompile_headers(lobster_pch_lib PRIVATE ${LOBSTER_PCH_LIB_HEADERS})

  add_library(lobster_pch_test STATIC ${PROJECT_SOURCE_DIR}/cmake/pch_anchor.cc)
  target_link_libraries(lobster_pch_test PRIVATE nlohmann_json::nlohmann_json fmt::fmt
                        GTest::gtest GTest::gmock GTest::gtest_main Threads::Threads)
  lobster_apply_flags(lobster_pch_test)
  target_precompile_headers(lobster_pch_test PRIVATE ${LOBSTER_PCH_LIB_HEADERS}
                            <gtest/gtest.h> <gmock/gmock.h>)
endif()

# main() of every test: like GTest::gtest_main, plus honest skips (each skip printed with its
# reason and appended to $LOBSTER_SKIP_LOG; with CI set a skipped test fails its executable).
add_library(lobster_gtest_main STATIC ${PROJECT_SOURCE_DIR}/tests/common/gtest_main.cc)
target_link_libraries(lobster_gtest_main PUBLIC GTest::gtest GTest::gmock Threads::Threads)
lobster_apply_flags(lobster_gtest_main)

function(lobster_use_pch target holder)
  if(LOBSTER_PCH)
    target_precompile_headers(${target} REUSE_FROM ${holder})
  endif()
endfunction()

function(lobster_module)
  cmake_parse_arguments(M "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(lobster_${M_NAME} STATIC ${M_SRCS})
  target_include_directories(lobster_${M_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(lobster_${M_NAME} PUBLIC ${M_DEPS})
  lobster_apply_flags(lobster_${M_NAME})
  lobster_use_pch(lobster_${M_NAME} lobster_pch_lib)
  if(LOBSTER_SANITIZE)
    target_link_options(lobster_${M_NAME} INTERFACE ${LOBSTER_SANITIZER_FLAGS})
  endif()
endfunction()

function(lobster_binary)
  cmake_parse_arguments(B "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${B_NAME} ${B_SRCS})
  target_include_directories(${B_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${B_NAME} PRIVATE ${B_DEPS})
  lobster_apply_flags(${B_NAME})
  lobster_use_pch(${B_NAME} lobster_pch_lib)
endfunction()

# Tests default to the "unit" label. End-to-end tests pass LABELS e2e (they need root; with CI
# set, a test that cannot run fails, see tests/common/gtest_main.cc) and "slow" for the ones
# that boot VMs; `ctest -L unit` runs anywhere without root.
#
# scripts/test runs the e2e suites with `ctest -j <cores>` (each suite has its own network
# namespace and state root), so up to <cores> suites run at once, e.g. two suites with one
# 1-vCPU guest each on 2 cores (measured here: 639 s instead of 788 s for the e2e phase, all
# passing). What keeps them from starving each other:
#   - SERIAL: the suite runs alone (RUN_SERIAL), for suites that load every core on their own
#     (a 2-vCPU guest, several guests booting at once);
#   - RESOURCE_LOCK name...: suites naming the same lock never run at the same time (for
#     suites that share something on the host besides CPU).
function(lobster_test)
  cmake_parse_arguments(T "SERIAL" "NAME;TIMEOUT" "SRCS;DEPS;LABELS;RESOURCE_LOCK" ${ARGN})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_executable(${T_NAME}_test ${T_SRCS})
  target_include_directories(${T_NAME}_test PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${T_NAME}_test PRIVATE ${T_DEPS} lobster_gtest_main)
  lobster_apply_flags(${T_NAME}_test)
  lobster_use_pch(${T_NAME}_test lobster_pch_test)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME}_test)
  # `lobster_unit_tests` builds exactly the unit tests (the sanitizer run needs nothing else).
  if("unit" IN_LIST T_LABELS)
    if(NOT TARGET lobster_unit_tests)
      add_custom_target(lobster_unit_tests)
    endif()
    add_dependencies(lobster_unit_tests ${T_NAME}_test)
    if(NOT LOBSTER_UNIT_TESTS_IN_ALL)
      set_target_properties(${T_NAME}_test PROPERTIES EXCLUDE_FROM_ALL ON)
    endif()
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
                       ENVIRONMENT "LOBSTER_SOURCE_DIR=${PROJECT_SOURCE_DIR};LOBSTER_BINARY_DIR=${PROJECT_BINARY_DIR}")
  if(T_RESOURCE_LOCK)
    set_tests_properties(${T_NAME} PROPERTIES RESOURCE_LOCK "${T_RESOURCE_LOCK}")
  endif()
  if(T_SERIAL)
    set_tests_properties(${T_NAME} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()

# `target` runs the built lobsterd and the guest binaries (through the image builder): build
# them first. The guest binaries exist only with LOBSTER_GUEST.
function(lobster_needs_lobsterd target)
  foreach(dep IN ITEMS lobsterd lobster-init lobster-testgw)
    if(TARGET ${dep})
      add_dependencies(${target} ${dep})
    endif()
  endforeach()
endfunction()
