// Where and with what a run happened, for the artifact: the build (compiler,
// flags), the machine (OS, kernel, CPU) and the source (git).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace pounce::bench {

// The compiler and build of this binary. Build type and flags come from
// compile definitions when the build passes them (POUNCE_BUILD_TYPE,
// POUNCE_CXX_FLAGS); otherwise they are inferred from NDEBUG and
// __OPTIMIZE__ and marked as such.
nlohmann::json build_info();

// OS (PRETTY_NAME of /etc/os-release), kernel (uname -r), CPU model and
// counts (online, and allowed to this process), load average at the start.
nlohmann::json host_info();

// `git rev-parse HEAD` in `dir`, or "unknown" outside a repository or
// without git. `dirty` tells whether tracked files differ from HEAD.
std::string git_sha(const std::string& dir, bool* dirty);

// UTC, ISO 8601 with seconds: 2026-11-27T19:14:12Z.
std::string utc_timestamp();
// bench-20261127T191412Z-1a2b3c4d: sortable, unique enough per machine.
std::string make_artifact_id();

}  // namespace pounce::bench
