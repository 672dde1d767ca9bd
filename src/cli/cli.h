// The `lobsterd` command line (CLI11). Global options: --root DIR (or LOBSTERD_ROOT), --json,
// --version. Commands are registered in commands.cc.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace lobster::cli {

// Parses `args` (args[0] is the program name), runs the chosen command and returns the
// process exit code. Output goes to `out`/`err`; prompts read `in` when `interactive`.
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
            std::istream& in, bool interactive);

// main(): run_cli on the real argv and stdio.
int main_entry(int argc, char** argv);

}  // namespace lobster::cli
