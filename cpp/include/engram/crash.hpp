// Named crash points for durability tests.
//
// ENGRAM_CRASH_AT=<point>[:<nth>] makes the nth call (default 1st) of crash_point("<point>")
// kill the process on the spot with SIGKILL: no destructors, no buffered I/O flushed, exactly
// what a power cut or `kill -9` leaves behind. The variable is read once, at the first call;
// unset (production), a crash point costs one relaxed atomic load. The points in use:
//   wal.before_fsync, wal.after_fsync, wal.torn_write (half a batch written),
//   checkpoint.before_rename, checkpoint.after_rename,
//   consolidation.pre_clustering, consolidation.mid_clustering, consolidation.pre_concept_write,
//   consolidation.mid_binding_write, consolidation.post_consolidation.
#pragma once

#include <string_view>

namespace engram {

void crash_point(std::string_view name) noexcept;
// Whether ENGRAM_CRASH_AT names this point (lets a caller set up a partial write first).
bool crash_armed(std::string_view name) noexcept;

}  // namespace engram
