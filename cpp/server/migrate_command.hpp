// `engramd migrate`: converts a store between format versions without serving it (migrate.hpp;
// docs/format.md, Migration), so a deployment without Python can upgrade, dry-run and roll back.
#pragma once

#include <string>
#include <vector>

namespace engram::server {

// args: what follows "migrate". Prints JSON lines (progress, then the report) on stdout; returns
// the exit status: 0 converted (or nothing to do, or a dry run without blockers), 1 refused or
// failed (the message on stderr as a JSON line), 2 bad arguments.
int run_migrate_command(const std::vector<std::string>& args);

}  // namespace engram::server
