// Hub: carries registry changes to long-polls and SSE watchers without ever
// blocking the registry. The registry's subscription callback only queues the
// event; a fan-out thread matches it against each watcher's filter, renders
// each JSON view once, and hands frames to the watchers, which write them on
// their own connection's strand.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include "api.hpp"

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace discovery::server {

// A long-poll waiting for the index to pass `index`.
class Waiter {
 public:
  virtual ~Waiter() = default;
  // Called once, from any thread: the index passed, or the server stops.
  virtual void wake() = 0;
};

// An SSE stream.
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  virtual const WatchStart& watch() const = 0;
  // A frame for the change with this index; from the fan-out thread.
  virtual void push(std::uint64_t index, std::shared_ptr<const std::string> frame) = 0;
  // The server stops: end the stream.
  virtual void close() = 0;
};

class Hub {
 public:
  Hub(Registry& registry, const Authorizer& authorizer);
  ~Hub();

  // Registers a waiter; wakes it at once if the index has already passed.
  std::uint64_t add_waiter(std::uint64_t index, std::shared_ptr<Waiter> waiter);
  void remove_waiter(std::uint64_t id);
  std::uint64_t add_watcher(std::shared_ptr<WatchSink> sink);
  void remove_watcher(std::uint64_t id);
  // Wakes every waiter and closes every watcher; later additions are refused
  // (add_waiter wakes at once, add_watcher closes at once).
  void shutdown();

 private:
  void run();
  void stop_fan_out();

  Registry& registry_;
  const Authorizer& authorizer_;

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<ChangeEvent> queue_;
  bool stopping_ = false;

  std::mutex members_mutex_;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, std::pair<std::uint64_t, std::shared_ptr<Waiter>>> waiters_;
  std::unordered_map<std::uint64_t, std::shared_ptr<WatchSink>> watchers_;
  bool shut_ = false;

  Subscription subscription_;
  std::thread thread_;
};

}  // namespace discovery::server
