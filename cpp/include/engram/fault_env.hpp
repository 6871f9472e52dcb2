// FaultEnv: an Env (env.hpp) that injects I/O errors and simulates power loss. Test build only.
//
// I/O errors: the ioerror clauses of a fault plan (docs/faults.md) pick operations by kind, path
// glob and call number or probability; a picked operation throws IoError with that errno without
// reaching the file system (a write with `partial` writes half its data first, as a real ENOSPC
// may). An Env uses the process plan (faults::set_plan, ENGRAM_FAULTS) unless set_plan gave it
// one of its own.
//
// Power loss (track_unsynced): the Env records, per file, the size up to which its data was last
// synced and the synced bytes that later writes or truncations overwrote, and, per directory,
// the entries created, renamed, removed or made since that directory was last synced.
// power_loss() then leaves the files as a power cut may leave them: every file cut back to its
// synced content (or, with KeepRandomPrefix, to its synced content plus a random prefix of what
// followed, as a disk that wrote some pages before the cut), and every directory change not
// followed by a sync of its directory undone (a new file or directory disappears, a rename is
// reversed, a removed file comes back with its synced content). `kill -9` cannot show this: the
// page cache survives a killed process. From power_loss() until revive() every operation fails
// with EIO, as on a machine that is off, so nothing written after the cut can be acknowledged.
//
// Locking: with track_unsynced every operation runs under one mutex (a power loss falls between
// two operations, never inside one); without it operations only consult the plan.
#pragma once

#ifndef ENGRAM_FAULT_INJECTION
#error "fault_env.hpp is part of the test build (ENGRAM_FAULT_INJECTION=ON)"
#endif

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engram/env.hpp"
#include "engram/fault.hpp"

namespace engram {

class FaultEnv final : public Env {
 public:
  explicit FaultEnv(Env& base, bool track_unsynced = true);

  // ioerror rules of this Env only (and its seed); empty text: back to the process plan.
  void set_plan(std::string_view text);

  enum class LossMode { DropUnsynced, KeepRandomPrefix };
  void power_loss(LossMode mode = LossMode::DropUnsynced, std::uint64_t seed = 0);
  void revive();
  bool dead() const noexcept { return dead_.load(std::memory_order_acquire); }

  struct Stats {
    std::uint64_t errors_injected = 0;
    std::uint64_t power_losses = 0;
    std::uint64_t bytes_dropped = 0;    // unsynced file data thrown away
    std::uint64_t entries_undone = 0;   // directory changes reversed
    std::uint64_t pending_entries = 0;  // directory changes not yet synced, now
  };
  Stats stats() const;

  std::unique_ptr<WritableFile> create_file(const std::string& path) override;
  std::string read_file(const std::string& path) override;
  std::string read_range(const std::string& path, std::uint64_t offset, std::size_t n) override;
  bool exists(const std::string& path) override;
  bool is_directory(const std::string& path) override;
  std::uint64_t file_size(const std::string& path) override;
  std::vector<std::string> list_dir(const std::string& dir) override;
  bool create_dir(const std::string& dir) override;
  void sync_dir(const std::string& dir) override;
  void rename(const std::string& from, const std::string& to) override;
  void remove_file(const std::string& path) override;
  void truncate_file(const std::string& path, std::uint64_t size) override;
  void sync_file(const std::string& path) override;
  std::unique_ptr<FileLock> lock_file(const std::string& path) override;

 private:
  friend class FaultFile;
  struct FileState {
    std::uint64_t size = 0;         // current size, as this Env wrote it
    std::uint64_t synced_size = 0;  // size at the last sync
    struct Undo {
      std::uint64_t offset;
      std::string bytes;
    };
    std::vector<Undo> undo;  // synced bytes overwritten or cut since the last sync, oldest first
  };
  struct Entry {  // a directory change not yet made durable
    enum class Kind { Create, Mkdir, Rename, Remove } kind;
    std::string path;                    // created, made, removed or renamed-to path
    std::string from;                    // Rename: the source
    std::optional<std::string> restore;  // Remove, Rename over a file: that file's synced content
    std::vector<std::string> dirs;       // directories still to be synced before it is durable
  };

  // Throws IoError when the machine is off or the plan picks this operation; returns the fault
  // for a partial write (err 0: none).
  faults::IoFault check(faults::IoOp op, const std::string& path);
  std::shared_ptr<FileState> state_for(const std::string& path);  // mu_ held; adopts untracked files
  std::string synced_content(const std::string& path);            // mu_ held
  void save_for_undo(FileState& st, const std::string& path, std::uint64_t from, std::uint64_t to);
  void remove_tree(const std::string& dir);  // mu_ held
  std::unique_lock<std::mutex> guard() { return track_ ? std::unique_lock(mu_) : std::unique_lock<std::mutex>(); }

  Env& base_;
  const bool track_;
  mutable std::mutex mu_;
  std::atomic<bool> dead_{false};
  mutable std::mutex plan_mu_;
  std::shared_ptr<const faults::Plan> plan_;  // guarded by plan_mu_
  std::map<std::string, std::shared_ptr<FileState>> files_;
  std::vector<Entry> pending_;
  Stats stats_;
  std::atomic<std::uint64_t> errors_injected_{0};
};

}  // namespace engram
