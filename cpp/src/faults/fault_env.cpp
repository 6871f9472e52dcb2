// FaultEnv (fault_env.hpp) and the test build's Env::default_env(). Compiled only when
// ENGRAM_FAULT_INJECTION is on.
#include "engram/fault_env.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace engram {
namespace {

std::string normal(const std::string& p) {
  std::string s = std::filesystem::path(p).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// content with its bytes at offset replaced by bytes (extending it when needed).
void overlay(std::string& content, std::uint64_t offset, const std::string& bytes) {
  if (content.size() < offset + bytes.size()) content.resize(offset + bytes.size(), '\0');
  std::memcpy(content.data() + offset, bytes.data(), bytes.size());
}

std::uint64_t next_random(std::uint64_t& s) noexcept {  // splitmix64
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

class FaultFile final : public WritableFile {
 public:
  FaultFile(FaultEnv& env, std::unique_ptr<WritableFile> base, std::string key, std::shared_ptr<FaultEnv::FileState> st)
      : env_(env), base_(std::move(base)), key_(std::move(key)), st_(std::move(st)) {}
  const std::string& path() const noexcept override { return base_->path(); }

  void write_at(std::uint64_t offset, std::string_view data) override {
    auto lock = env_.guard();
    const faults::IoFault f = env_.check(faults::IoOp::Write, path());
    const std::string_view part = f.err != 0 ? data.substr(0, data.size() / 2) : data;
    if (st_ && offset < st_->synced_size) env_.save_for_undo(*st_, key_, offset, offset + part.size());
    base_->write_at(offset, part);
    if (st_) st_->size = std::max(st_->size, offset + part.size());
    if (f.err != 0) {
      throw IoError(f.err, "cannot write " + path() + ": " + std::strerror(f.err) + " (injected fault, " +
                               std::to_string(part.size()) + " of " + std::to_string(data.size()) + " bytes written)");
    }
  }
  void sync() override {
    auto lock = env_.guard();
    env_.check(faults::IoOp::Sync, path());
    base_->sync();
    if (st_) {
      st_->synced_size = st_->size;
      st_->undo.clear();
    }
  }
  void truncate(std::uint64_t size) override {
    auto lock = env_.guard();
    env_.check(faults::IoOp::Truncate, path());
    if (st_ && size < st_->synced_size) env_.save_for_undo(*st_, key_, size, st_->synced_size);
    base_->truncate(size);
    if (st_) st_->size = size;
  }
  void close() override { base_->close(); }  // closing changes nothing on disk

 private:
  FaultEnv& env_;
  std::unique_ptr<WritableFile> base_;
  std::string key_;
  std::shared_ptr<FaultEnv::FileState> st_;  // null when not tracking
};

FaultEnv::FaultEnv(Env& base, bool track_unsynced) : base_(base), track_(track_unsynced) {}

void FaultEnv::set_plan(std::string_view text) {
  std::shared_ptr<const faults::Plan> p = text.empty() ? nullptr : faults::parse_plan(text);
  std::lock_guard lock(plan_mu_);
  plan_ = std::move(p);
}

faults::IoFault FaultEnv::check(faults::IoOp op, const std::string& path) {
  if (dead_.load(std::memory_order_acquire)) {
    throw IoError(EIO, std::string("cannot ") + faults::io_op_name(op) + " " + path + ": " + std::strerror(EIO) +
                           " (simulated power loss: the machine is off)");
  }
  std::shared_ptr<const faults::Plan> plan;
  {
    std::lock_guard lock(plan_mu_);
    plan = plan_;
  }
  const faults::IoFault f = plan ? faults::io_fault(*plan, op, path) : faults::io_fault(op, path);
  if (f.err == 0) return f;
  errors_injected_.fetch_add(1, std::memory_order_relaxed);
  if (f.partial && op == faults::IoOp::Write) return f;  // the caller writes half, then throws
  throw IoError(f.err, std::string("cannot ") + faults::io_op_name(op) + " " + path + ": " + std::strerror(f.err) +
                           " (injected fault)");
}

std::shared_ptr<FaultEnv::FileState> FaultEnv::state_for(const std::string& key) {
  auto it = files_.find(key);
  if (it != files_.end()) return it->second;
  // A file this Env did not write (it existed before): all of it counts as synced.
  auto st = std::make_shared<FileState>();
  st->size = st->synced_size = base_.exists(key) ? base_.file_size(key) : 0;
  files_.emplace(key, st);
  return st;
}

void FaultEnv::save_for_undo(FileState& st, const std::string& key, std::uint64_t from, std::uint64_t to) {
  to = std::min(to, st.synced_size);
  if (from >= to) return;
  // Bytes past the current end (cut by an earlier truncate) come back short: that truncate's
  // own undo entry, older and applied later, restores them.
  st.undo.push_back({from, base_.read_range(key, from, static_cast<std::size_t>(to - from))});
}

std::string FaultEnv::synced_content(const std::string& key) {
  std::string content = base_.read_file(key);
  const auto it = files_.find(key);
  if (it == files_.end()) return content;
  const FileState& st = *it->second;
  for (auto u = st.undo.rbegin(); u != st.undo.rend(); ++u) overlay(content, u->offset, u->bytes);
  content.resize(std::min<std::uint64_t>(content.size(), st.synced_size));
  return content;
}

void FaultEnv::remove_tree(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  const std::string prefix = dir + "/";
  std::erase_if(files_, [&](const auto& kv) { return kv.first.rfind(prefix, 0) == 0; });
}

void FaultEnv::power_loss(LossMode mode, std::uint64_t seed) {
  if (!track_) throw std::logic_error("FaultEnv::power_loss needs track_unsynced");
  std::lock_guard lock(mu_);
  dead_.store(true, std::memory_order_release);
  ++stats_.power_losses;
  std::uint64_t rng = seed;
  // 1. File data: back to the synced content (plus, in KeepRandomPrefix, part of what followed).
  for (auto& [key, st] : files_) {
    if (!base_.exists(key) || base_.is_directory(key)) continue;
    std::string content = base_.read_file(key);
    const std::size_t before = content.size();
    for (auto u = st->undo.rbegin(); u != st->undo.rend(); ++u) overlay(content, u->offset, u->bytes);
    std::uint64_t keep = st->synced_size;
    if (mode == LossMode::KeepRandomPrefix && content.size() > keep) {
      keep += next_random(rng) % (content.size() - keep + 1);
    }
    content.resize(std::min<std::uint64_t>(content.size(), keep));
    if (!st->undo.empty() || content.size() != before) {
      stats_.bytes_dropped += before > content.size() ? before - content.size() : 0;
      base_.write_whole_file(key, content, true);
    }
    st->undo.clear();
    st->size = st->synced_size = content.size();
  }
  // 2. Directory changes never synced, newest first.
  for (auto e = pending_.rbegin(); e != pending_.rend(); ++e) {
    ++stats_.entries_undone;
    switch (e->kind) {
      case Entry::Kind::Create:
        if (base_.exists(e->path)) base_.remove_file(e->path);
        files_.erase(e->path);
        break;
      case Entry::Kind::Mkdir: remove_tree(e->path); break;
      case Entry::Kind::Rename:
        if (base_.exists(e->path)) {
          base_.rename(e->path, e->from);
          if (auto it = files_.find(e->path); it != files_.end()) {
            files_[e->from] = it->second;
            files_.erase(e->path);
          }
        }
        [[fallthrough]];
      case Entry::Kind::Remove:
        if (e->restore) {
          base_.write_whole_file(e->path, *e->restore, true);
          auto st = std::make_shared<FileState>();
          st->size = st->synced_size = e->restore->size();
          files_[e->path] = st;
        }
        break;
    }
  }
  pending_.clear();
}

void FaultEnv::revive() {
  std::lock_guard lock(mu_);
  dead_.store(false, std::memory_order_release);
}

FaultEnv::Stats FaultEnv::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.errors_injected = errors_injected_.load(std::memory_order_relaxed);
  s.pending_entries = pending_.size();
  return s;
}

std::unique_ptr<WritableFile> FaultEnv::create_file(const std::string& path) {
  auto lock = guard();
  check(faults::IoOp::Open, path);
  if (!track_) return std::make_unique<FaultFile>(*this, base_.create_file(path), path, nullptr);
  const std::string key = normal(path);
  const bool existed = base_.exists(key);
  std::shared_ptr<FileState> st;
  if (existed) {  // O_TRUNC of a file: its synced content comes back if the loss comes first
    st = state_for(key);
    save_for_undo(*st, key, 0, st->synced_size);
  }
  auto file = base_.create_file(path);
  if (existed) {
    st->size = 0;
  } else {
    st = std::make_shared<FileState>();
    files_[key] = st;
    pending_.push_back({Entry::Kind::Create, key, "", std::nullopt, {parent_dir(key)}});
  }
  return std::make_unique<FaultFile>(*this, std::move(file), key, st);
}

std::string FaultEnv::read_file(const std::string& path) {
  auto lock = guard();
  check(faults::IoOp::Read, path);
  return base_.read_file(path);
}

std::string FaultEnv::read_range(const std::string& path, std::uint64_t offset, std::size_t n) {
  auto lock = guard();
  check(faults::IoOp::Read, path);
  return base_.read_range(path, offset, n);
}

bool FaultEnv::exists(const std::string& path) {
  auto lock = guard();
  check(faults::IoOp::Stat, path);
  return base_.exists(path);
}

bool FaultEnv::is_directory(const std::string& path) {
  auto lock = guard();
  check(faults::IoOp::Stat, path);
  return base_.is_directory(path);
}

std::uint64_t FaultEnv::file_size(const std::string& path) {
  auto lock = guard();
  check(faults::IoOp::Stat, path);
  return base_.file_size(path);
}

std::vector<std::string> FaultEnv::list_dir(const std::string& dir) {
  auto lock = guard();
  check(faults::IoOp::ListDir, dir);
  return base_.list_dir(dir);
}

bool FaultEnv::create_dir(const std::string& dir) {
  auto lock = guard();
  check(faults::IoOp::Mkdir, dir);
  const bool created = base_.create_dir(dir);
  if (created && track_) {
    const std::string key = normal(dir);
    pending_.push_back({Entry::Kind::Mkdir, key, "", std::nullopt, {parent_dir(key)}});
  }
  return created;
}

void FaultEnv::sync_dir(const std::string& dir) {
  auto lock = guard();
  check(faults::IoOp::SyncDir, dir);
  base_.sync_dir(dir);
  if (!track_) return;
  const std::string key = normal(dir);
  for (Entry& e : pending_) std::erase(e.dirs, key);
  std::erase_if(pending_, [](const Entry& e) { return e.dirs.empty(); });
}

void FaultEnv::rename(const std::string& from, const std::string& to) {
  auto lock = guard();
  check(faults::IoOp::Rename, to);
  if (!track_) return base_.rename(from, to);
  const std::string kf = normal(from), kt = normal(to);
  std::optional<std::string> restore;
  if (base_.exists(kt)) restore = synced_content(kt);
  const std::shared_ptr<FileState> st = state_for(kf);
  base_.rename(from, to);
  files_.erase(kf);
  files_[kt] = st;
  std::vector<std::string> dirs{parent_dir(kt)};
  if (parent_dir(kf) != dirs[0]) dirs.push_back(parent_dir(kf));
  pending_.push_back({Entry::Kind::Rename, kt, kf, std::move(restore), std::move(dirs)});
}

void FaultEnv::remove_file(const std::string& path) {
  auto lock = guard();
  check(faults::IoOp::Unlink, path);
  if (!track_) return base_.remove_file(path);
  const std::string key = normal(path);
  std::string content = synced_content(key);
  base_.remove_file(path);
  files_.erase(key);
  pending_.push_back({Entry::Kind::Remove, key, "", std::move(content), {parent_dir(key)}});
}

void FaultEnv::truncate_file(const std::string& path, std::uint64_t size) {
  auto lock = guard();
  check(faults::IoOp::Truncate, path);
  if (!track_) return base_.truncate_file(path, size);
  const std::string key = normal(path);
  const std::shared_ptr<FileState> st = state_for(key);
  if (size < st->synced_size) save_for_undo(*st, key, size, st->synced_size);
  base_.truncate_file(path, size);
  st->size = size;
}

void FaultEnv::sync_file(const std::string& path) {
  auto lock = guard();
  check(faults::IoOp::Sync, path);
  base_.sync_file(path);
  if (!track_) return;
  const std::shared_ptr<FileState> st = state_for(normal(path));
  st->synced_size = st->size;
  st->undo.clear();
}

std::unique_ptr<FileLock> FaultEnv::lock_file(const std::string& path) {
  auto lock = guard();
  check(faults::IoOp::Lock, path);
  return base_.lock_file(path);
}

// The test build's default: the process fault plan over POSIX, no power-loss bookkeeping.
Env& Env::default_env() {
  static FaultEnv* env = new FaultEnv(Env::posix(), false);  // never destroyed: used until exit
  return *env;
}

}  // namespace engram
