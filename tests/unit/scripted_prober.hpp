// A Prober whose answers a test decides, for driving the HealthChecker's
// scheduling and state with a ManualClock. Probes complete on the checker's
// executor, as the real prober's do, or stay pending until the test says.
#pragma once

#include "health/probe.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

#include <functional>
#include <mutex>
#include <vector>

namespace discovery::testing {

class ScriptedProber final : public health::Prober {
 public:
  explicit ScriptedProber(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}

  // Decides each answer; default: every probe passes in 5 ms.
  std::function<health::ProbeResult(const health::ProbeRequest&)> respond;
  // When true, probes stay pending until release().
  bool hold = false;

  void probe(health::ProbeRequest request, std::function<void(health::ProbeResult)> done) override {
    std::lock_guard lock(mutex_);
    requests.push_back(request);
    if (stopped_) {
      post(cancelled(), std::move(done));
      return;
    }
    if (hold) {
      pending_.push_back({std::move(request), std::move(done)});
      return;
    }
    post(answer(request), std::move(done));
  }

  // Completes every held probe with what respond() says now.
  void release() {
    std::lock_guard lock(mutex_);
    for (auto& p : pending_) post(answer(p.request), std::move(p.done));
    pending_.clear();
  }

  void shutdown() override {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    for (auto& p : pending_) post(cancelled(), std::move(p.done));
    pending_.clear();
  }

  std::size_t pending() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }

  std::vector<health::ProbeRequest> requests;  // every probe asked for

 private:
  static health::ProbeResult cancelled() {
    health::ProbeResult r;
    r.error = "cancelled";
    return r;
  }
  health::ProbeResult answer(const health::ProbeRequest& request) {
    if (respond) return respond(request);
    health::ProbeResult ok;
    ok.ok = true;
    ok.response_time_ms = 5;
    return ok;
  }
  void post(health::ProbeResult result, std::function<void(health::ProbeResult)> done) {
    boost::asio::post(executor_, [result = std::move(result), done = std::move(done)]() mutable { done(std::move(result)); });
  }

  struct Pending {
    health::ProbeRequest request;
    std::function<void(health::ProbeResult)> done;
  };
  boost::asio::any_io_executor executor_;
  mutable std::mutex mutex_;
  std::vector<Pending> pending_;
  bool stopped_ = false;
};

}  // namespace discovery::testing
