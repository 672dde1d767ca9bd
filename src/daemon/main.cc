// The `lobsterd` binary: CLI and daemon in one executable (`lobsterd daemon` runs the daemon).
#include "cli/cli.h"

int main(int argc, char** argv) { return lobster::cli::main_entry(argc, argv); }
