#include "hub.hpp"

namespace discovery::server {

Hub::Hub(Registry& registry, const Authorizer& authorizer)
    : registry_(registry), authorizer_(authorizer) {
  thread_ = std::thread([this] { run(); });
  subscription_ = registry_.subscribe([this](const ChangeEvent& event) {
    // Runs under the registry's sequencer lock: queue and return.
    {
      std::lock_guard lock(queue_mutex_);
      queue_.push_back(event);
    }
    queue_cv_.notify_one();
  });
}

Hub::~Hub() { stop_fan_out(); }

void Hub::stop_fan_out() {
  subscription_.reset();
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
    queue_.clear();
  }
  queue_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t Hub::add_waiter(std::uint64_t index, std::shared_ptr<Waiter> waiter) {
  std::uint64_t id;
  {
    std::lock_guard lock(members_mutex_);
    if (!shut_) {
      id = next_id_++;
      waiters_.emplace(id, std::make_pair(index, waiter));
    } else {
      id = 0;
    }
  }
  // The index may have passed between the caller's check and registration.
  if (id == 0 || registry_.index() > index) waiter->wake();
  return id;
}

void Hub::remove_waiter(std::uint64_t id) {
  std::lock_guard lock(members_mutex_);
  waiters_.erase(id);
}

std::uint64_t Hub::add_watcher(std::shared_ptr<WatchSink> sink) {
  {
    std::lock_guard lock(members_mutex_);
    if (!shut_) {
      const auto id = next_id_++;
      watchers_.emplace(id, std::move(sink));
      return id;
    }
  }
  sink->close();
  return 0;
}

void Hub::remove_watcher(std::uint64_t id) {
  std::lock_guard lock(members_mutex_);
  watchers_.erase(id);
}

void Hub::shutdown() {
  // No fan-out pass may still hold sessions once the server stops its io
  // threads: finish the current one and stop.
  stop_fan_out();
  std::unordered_map<std::uint64_t, std::pair<std::uint64_t, std::shared_ptr<Waiter>>> waiters;
  std::unordered_map<std::uint64_t, std::shared_ptr<WatchSink>> watchers;
  {
    std::lock_guard lock(members_mutex_);
    shut_ = true;
    waiters.swap(waiters_);
    watchers.swap(watchers_);
  }
  for (auto& [id, w] : waiters) w.second->wake();
  for (auto& [id, w] : watchers) w->close();
}

void Hub::run() {
  for (;;) {
    ChangeEvent event;
    {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      event = std::move(queue_.front());
      queue_.pop_front();
    }
    std::vector<std::shared_ptr<Waiter>> wake;
    std::vector<std::shared_ptr<WatchSink>> sinks;
    {
      std::lock_guard lock(members_mutex_);
      for (auto it = waiters_.begin(); it != waiters_.end();) {
        if (it->second.first < event.index) {
          wake.push_back(std::move(it->second.second));
          it = waiters_.erase(it);
        } else {
          ++it;
        }
      }
      sinks.reserve(watchers_.size());
      for (const auto& [id, sink] : watchers_) sinks.push_back(sink);
    }
    for (auto& w : wake) w->wake();

    // Each view of the event is rendered at most once, whatever the number
    // of watchers.
    std::shared_ptr<const std::string> full, redacted;
    for (auto& sink : sinks) {
      const WatchStart& watch = sink->watch();
      if (!Api::watch_matches(watch, event)) continue;
      const bool full_view = authorizer_.may_manage(watch.principal, event.record->company_name);
      auto& frame = full_view ? full : redacted;
      if (!frame) frame = std::make_shared<const std::string>(Api::watch_frame(full_view, event));
      sink->push(event.index, frame);
    }
  }
}

}  // namespace discovery::server
