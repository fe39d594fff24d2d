#include <discovery/merge_patch.hpp>
#include <discovery/record_json.hpp>
#include <discovery/registry.hpp>

#include "catalog.hpp"

#include <array>
#include <cmath>
#include <limits>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

namespace discovery {

std::string_view to_string(ChangeType type) noexcept {
  switch (type) {
    case ChangeType::upsert: return "upsert";
    case ChangeType::status: return "status";
    case ChangeType::remove: return "delete";
  }
  return "upsert";
}

namespace {

// Changes to one service are serialized by the stripe its identity hashes to;
// 1024 stripes keep unrelated services from waiting on each other.
constexpr std::size_t kStripes = 1024;
constexpr std::size_t kMaxErrorText = 1024;

struct Transition {
  TimePoint at{};
  bool passing = false;
};

// What the registry knows of a service's checks beyond its record.
// Vectors, not deques: one of these per service, and libstdc++'s deque
// allocates over 500 bytes even when it holds one element.
// Recent checks are kept compactly (about 56 bytes each instead of a
// CheckResult's two strings): a monitored fleet holds twenty per service.
struct CompactCheck {
  TimePoint at{};
  double response_time_ms = std::numeric_limits<double>::quiet_NaN();  // NaN: none
  bool ok = false;
  std::uint8_t endpoint = 0;  // index into HealthState::endpoints
  std::string error;          // empty when ok
};
struct HealthState {
  std::vector<std::string> endpoints;      // distinct endpoints checked, in first-seen order
  std::vector<CompactCheck> recent;        // newest first, bounded
  std::vector<Transition> transitions;     // oldest first; at most one before the window

  std::uint8_t endpoint_index(const std::string& endpoint) {
    for (std::size_t i = 0; i < endpoints.size(); ++i)
      if (endpoints[i] == endpoint) return static_cast<std::uint8_t>(i);
    if (endpoints.size() >= 255) endpoints.pop_back();  // an external reporter inventing names
    endpoints.push_back(endpoint);
    return static_cast<std::uint8_t>(endpoints.size() - 1);
  }
  CheckResult expand(const CompactCheck& c) const {
    CheckResult r{c.at, c.ok, std::nullopt, c.endpoint < endpoints.size() ? endpoints[c.endpoint] : std::string(),
                  c.error};
    if (!std::isnan(c.response_time_ms)) r.response_time_ms = c.response_time_ms;
    return r;
  }
};

// The host of an http(s) URL, lowercased; empty when it has none.
std::string url_host(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  std::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  if (!rest.empty() && rest.front() == '[') return {};  // an IPv6 literal is no domain
  rest = rest.substr(0, rest.find(':'));
  std::string host(rest);
  for (auto& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return host;
}

bool same_writable(const ServiceRecord& a, const ServiceRecord& b) {
  return a.domain == b.domain && a.service_info == b.service_info &&
         a.health_check_config == b.health_check_config && a.personal_config == b.personal_config &&
         a.demo_config == b.demo_config && a.sao_level == b.sao_level && a.tags == b.tags &&
         a.metadata == b.metadata;
}

std::optional<double> compute_uptime(const std::vector<Transition>& ts, TimePoint registered_at,
                                     TimePoint now, Duration window,
                                     const HealthStatus& health) {
  if (ts.empty()) {
    if (!health.last_check) return std::nullopt;
    return health.consecutive_successes > 0 ? 100.0 : 0.0;
  }
  const TimePoint window_start = now - window;
  TimePoint start;
  bool state;
  std::size_t i = 0;
  if (ts.front().at <= window_start) {
    start = window_start;
    while (i < ts.size() && ts[i].at <= window_start) ++i;
    state = ts[i - 1].passing;
  } else if (registered_at >= window_start) {
    // Registered inside the window: checked time starts at the first check.
    start = ts.front().at;
    state = ts.front().passing;
    i = 1;
  } else {
    // Older than the window with no transition before it: the state at the
    // window's start is the opposite of the first transition inside it.
    start = window_start;
    state = !ts.front().passing;
  }
  Duration passing{0};
  TimePoint t = start;
  for (; i < ts.size(); ++i) {
    if (state) passing += ts[i].at - t;
    t = ts[i].at;
    state = ts[i].passing;
  }
  if (state) passing += now - t;
  const Duration total = now - start;
  if (total.count() <= 0) return state ? 100.0 : 0.0;
  return 100.0 * static_cast<double>(passing.count()) / static_cast<double>(total.count());
}

// Rounds to a fixed number of decimals. Boost.JSON 1.81 parses some
// 17-digit numbers one ulp off; values with few decimals survive the text
// round trip through storage exactly.
// At most `max_bytes` of `text`, cut at a character boundary: a cut inside a
// UTF-8 sequence made lastError (and so the record's JSON) invalid UTF-8.
std::string utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

// Rounds to 1/scale. Values too large for value * scale to stay finite
// already have no digits that fine: they are returned as they are (an
// overflow here once turned 9.6e307 ms into Infinity, which is not JSON).
double round_to(double value, double scale) {
  const double scaled = value * scale;
  if (!std::isfinite(scaled) || std::abs(scaled) >= 0x1p52) return value;
  return std::round(scaled) / scale;
}

// Runs `task` on this thread after the task this thread is running now, if
// any: handing a stripe from one queued change to the next would otherwise
// nest a frame per change when each completes at once (a refusal, a storage
// that writes synchronously).
void run_in_turn(std::function<void()> task) {
  thread_local std::deque<std::function<void()>>* turns = nullptr;
  if (turns != nullptr) {
    turns->push_back(std::move(task));
    return;
  }
  std::deque<std::function<void()>> mine;
  turns = &mine;
  mine.push_back(std::move(task));
  while (!mine.empty()) {
    auto next = std::move(mine.front());
    mine.pop_front();
    try {
      next();
    } catch (...) {
      // Tasks answer their own errors; nothing may escape into the caller.
    }
  }
  turns = nullptr;
}

// The lock of one stripe. A synchronous change takes it as a mutex; an
// asynchronous one holds it across its durable write and releases it on
// another thread (which std::mutex forbids), and when it is taken, waits in a
// queue instead of blocking its thread: unlock() hands the lock to the next
// queued change and runs it.
class StripeLock {
 public:
  void lock() {
    std::unique_lock lock(mutex_);
    ++blocked_;
    released_.wait(lock, [&] { return !held_; });
    --blocked_;
    held_ = true;
  }

  // Takes the lock only if it is free at once (the heartbeat fast path, which
  // must never wait on an io thread).
  bool try_lock() {
    std::lock_guard lock(mutex_);
    if (held_) return false;
    held_ = true;
    return true;
  }

  // Takes the lock and returns true (the caller runs `task` itself), or
  // queues `task` to run, holding the lock, once the holder releases it.
  bool lock_or_queue(std::function<void()> task) {
    std::lock_guard lock(mutex_);
    if (!held_) {
      held_ = true;
      return true;
    }
    queued_.push_back(std::move(task));
    return false;
  }

  void unlock() {
    std::function<void()> next;
    {
      std::lock_guard lock(mutex_);
      if (queued_.empty()) {
        held_ = false;
        if (blocked_ > 0) released_.notify_one();
        return;
      }
      next = std::move(queued_.front());  // the lock passes to it, still held
      queued_.pop_front();
    }
    run_in_turn(std::move(next));
  }

 private:
  std::mutex mutex_;
  std::condition_variable released_;
  bool held_ = false;
  std::size_t blocked_ = 0;
  std::deque<std::function<void()>> queued_;
};

void prune_transitions(std::vector<Transition>& ts, TimePoint window_start) {
  std::size_t drop = 0;
  while (ts.size() - drop >= 2 && ts[drop + 1].at <= window_start) ++drop;
  ts.erase(ts.begin(), ts.begin() + static_cast<std::ptrdiff_t>(drop));
}

}  // namespace

struct Registry::Impl {
  Impl(Storage& s, RegistryOptions o)
      : storage(s), options(std::move(o)), clock(options.clock ? *options.clock : system_clock()) {}

  Storage& storage;
  RegistryOptions options;
  Clock& clock;
  detail::Catalog catalog;
  std::array<StripeLock, kStripes> stripes;

  // Asynchronous changes not yet answered; the destructor waits for none.
  std::mutex async_mutex;
  std::condition_variable async_cv;
  std::size_t pending_async = 0;

  // The sequencer: indexes are assigned before the storage write and applied
  // (made visible, published) strictly in index order after it.
  struct Applied {
    ChangeType type;
    RecordPtr record;
    RecordPtr previous;
  };
  mutable std::mutex seq_mutex;
  mutable std::condition_variable seq_cv;
  std::uint64_t last_assigned = 0;
  std::uint64_t applied = 0;  // every index <= this is finished
  std::uint64_t visible = 0;  // the last index that changed something
  std::map<std::uint64_t, std::optional<Applied>> finished;
  // Writers waiting for their index to be applied, each woken alone.
  std::map<std::uint64_t, std::condition_variable*> sleepers;
  // What asynchronous changes do once their index is applied (answer, free
  // their stripe), run by whichever thread applied it, outside seq_mutex.
  std::map<std::uint64_t, std::function<void()>> continuations;
  std::size_t index_waiters = 0;  // threads in wait_for_index
  std::map<std::uint64_t, std::function<void(const ChangeEvent&)>> subscribers;
  std::uint64_t next_subscriber = 1;
  std::deque<ChangeEvent> retained;
  std::uint64_t retained_floor = 0;  // events at or below this are no longer retained
  bool closing = false;

  mutable std::mutex health_mutex;
  std::unordered_map<std::string, HealthState> health;

  mutable std::mutex heartbeat_mutex;
  std::unordered_map<std::string, TimePoint> expiry_by_id;
  std::set<std::pair<TimePoint, std::string>> expiry_order;

  std::mutex sweep_mutex;
  std::condition_variable sweep_cv;
  bool stop_sweeping = false;
  std::thread sweeper;

  StripeLock& stripe_for(std::string_view company, std::string_view instance_id) {
    std::size_t h = std::hash<std::string_view>{}(company);
    h ^= std::hash<std::string_view>{}(instance_id) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return stripes[h % kStripes];
  }

  void add_audit(WriteBatch& batch, const RequestContext& ctx, std::string_view action,
                 const ServiceRecord& record, std::string result = "ok") const {
    if (!ctx.audited()) return;
    batch.audit.push_back(AuditEntry{clock.now(), ctx.request_id, ctx.subject,
                                     std::string(to_string(ctx.level)), record.company_name,
                                     std::string(action), record.service_id, std::move(result)});
  }

  // Applies finished changes in index order; the continuations of the
  // asynchronous ones applied are moved to `ready`, in index order.
  void apply_finished_locked(std::vector<std::function<void()>>& ready) {
    bool visible_moved = false;
    while (!finished.empty() && finished.begin()->first == applied + 1) {
      auto node = finished.extract(finished.begin());
      applied = node.key();
      if (auto sleeper = sleepers.find(applied); sleeper != sleepers.end()) {
        sleeper->second->notify_one();
        sleepers.erase(sleeper);
      }
      if (auto then = continuations.find(applied); then != continuations.end()) {
        ready.push_back(std::move(then->second));
        continuations.erase(then);
      }
      if (!node.mapped()) continue;  // the write failed: a gap in the index, nothing changed
      const Applied& a = *node.mapped();
      if (a.type == ChangeType::remove) catalog.remove(a.record->service_id);
      else catalog.upsert(a.record);
      catalog.set_index(applied);
      visible = applied;
      visible_moved = true;
      ChangeEvent event{applied, a.type, a.record, a.previous};
      for (auto& [id, callback] : subscribers) {
        try {
          callback(event);
        } catch (...) {
          // A subscriber's failure must not stop the registry or other subscribers.
        }
      }
      retained.push_back(std::move(event));
      while (retained.size() > options.retained_events) {
        retained_floor = retained.front().index;
        retained.pop_front();
      }
    }
    if (visible_moved && index_waiters > 0) seq_cv.notify_all();
  }

  static void run_ready(std::vector<std::function<void()>>& ready) {
    for (auto& then : ready) {
      try {
        then();
      } catch (...) {
        // Continuations answer their own errors.
      }
    }
  }

  // Applies finished changes in index order, then waits until `index` is applied.
  void finish(std::uint64_t index, std::optional<Applied> change) {
    std::vector<std::function<void()>> ready;
    std::unique_lock lock(seq_mutex);
    finished.emplace(index, std::move(change));
    apply_finished_locked(ready);
    if (!ready.empty()) {
      lock.unlock();
      run_ready(ready);
      lock.lock();
    }
    if (applied >= index) return;
    std::condition_variable mine;
    sleepers.emplace(index, &mine);
    mine.wait(lock, [&] { return applied >= index; });
  }

  // The same without waiting: `then` runs once `index` is applied, on this
  // thread or on the one that applies it.
  void finish_async(std::uint64_t index, std::optional<Applied> change, std::function<void()> then) {
    std::vector<std::function<void()>> ready;
    {
      std::lock_guard lock(seq_mutex);
      finished.emplace(index, std::move(change));
      continuations.emplace(index, std::move(then));
      apply_finished_locked(ready);
    }
    run_ready(ready);
  }

  // ---- asynchronous registration ----

  struct RegisterOp {
    ServiceRecord next;
    RequestContext context;
    RegisterCallback done;
    TimePoint now{};
    StripeLock* stripe = nullptr;  // held from register_locked() until answered
  };

  void begin_async() {
    std::lock_guard lock(async_mutex);
    ++pending_async;
  }
  // Answers `op`. The registry may be destroyed as soon as this returns, so
  // it is the last thing an asynchronous change does.
  void complete(RegisterOp& op, Result<RegisterResult> result) {
    try {
      op.done(std::move(result));
    } catch (...) {
      // A callback must not throw (Registry's contract).
    }
    std::lock_guard lock(async_mutex);
    if (--pending_async == 0) async_cv.notify_all();
  }

  void register_locked(const std::shared_ptr<RegisterOp>& op);

  std::uint64_t next_index() {
    std::lock_guard lock(seq_mutex);
    return ++last_assigned;
  }

  // Writes an indexed batch durably. On failure (or an exception) the index
  // is finished as a gap, so the changes after it are not held up.
  Result<void> write_or_gap(std::uint64_t index, const WriteBatch& batch) {
    Result<void> written = internal_error("storage write did not run");
    try {
      written = storage.write(batch);
    } catch (...) {
      finish(index, std::nullopt);
      throw;
    }
    if (!written) finish(index, std::nullopt);
    return written;
  }

  // Writes `batch` plus the new state of the record durably; an indexed change
  // (event set) is then applied in index order, a routine one in place.
  Result<RecordPtr> commit(ServiceRecord next, std::optional<ChangeType> event, WriteBatch batch,
                           RecordPtr previous) {
    if (!event) {
      batch.upserts.push_back(next);
      if (auto r = storage.write(batch); !r) return r.error();
      auto record = std::make_shared<const ServiceRecord>(std::move(next));
      catalog.upsert(record);
      return RecordPtr{record};
    }
    const std::uint64_t index = next_index();
    next.modify_index = index;
    if (next.create_index == 0) next.create_index = index;
    batch.index = index;
    batch.upserts.push_back(next);
    if (auto written = write_or_gap(index, batch); !written) return written.error();
    auto record = std::make_shared<const ServiceRecord>(std::move(next));
    finish(index, Applied{*event, record, std::move(previous)});
    return RecordPtr{record};
  }

  Result<void> commit_removal(const RecordPtr& last, WriteBatch batch) {
    const std::uint64_t index = next_index();
    batch.index = index;
    batch.removals.push_back(last->service_id);
    if (auto written = write_or_gap(index, batch); !written) return written.error();
    finish(index, Applied{ChangeType::remove, last, last});
    return {};
  }

  // Writes only an audit entry (a request that changed nothing), if audited.
  Result<void> commit_audit_only(WriteBatch batch) {
    if (batch.audit.empty()) return {};
    return storage.write(batch);
  }

  void arm_heartbeat(const ServiceRecord& record, TimePoint now) {
    std::lock_guard lock(heartbeat_mutex);
    disarm_locked(record.service_id);
    if (!record.health_check_config.ttl) return;
    const TimePoint expires = now + *record.health_check_config.ttl;
    expiry_by_id[record.service_id] = expires;
    expiry_order.emplace(expires, record.service_id);
  }
  void disarm(const std::string& service_id) {
    std::lock_guard lock(heartbeat_mutex);
    disarm_locked(service_id);
  }
  void disarm_locked(const std::string& service_id) {
    auto it = expiry_by_id.find(service_id);
    if (it == expiry_by_id.end()) return;
    expiry_order.erase({it->second, service_id});
    expiry_by_id.erase(it);
  }
  std::optional<TimePoint> expiry_of(const std::string& service_id) const {
    std::lock_guard lock(heartbeat_mutex);
    auto it = expiry_by_id.find(service_id);
    if (it == expiry_by_id.end()) return std::nullopt;
    return it->second;
  }

  // Everything that changes one service runs under its stripe lock: take
  // the record, lock its stripe, and take it again (it may have gone
  // meanwhile). The lock is held as long as the returned value lives.
  struct LockedService {
    std::unique_lock<StripeLock> stripe;
    RecordPtr current;
  };
  Result<LockedService> lock_service(std::string_view service_id) {
    auto first = lookup(service_id);
    if (!first) return first.error();
    std::unique_lock stripe(stripe_for((*first)->company_name, (*first)->instance_id));
    auto current = lookup(service_id);
    if (!current) return current.error();
    return LockedService{std::move(stripe), std::move(*current)};
  }

  Result<RecordPtr> lookup(std::string_view service_id) const {
    if (auto record = catalog.get(service_id)) return record;
    return not_found("service " + std::string(service_id.substr(0, 64)) + " is not registered");
  }

  Error check_interval(const ServiceRecord& record) const {
    if (record.health_check_config.interval < options.min_check_interval)
      return invalid_argument("healthCheckConfig.interval",
                              "must be at least " + format_duration(options.min_check_interval));
    return Error{ErrorCode::ok, {}, {}};
  }

  void sweep_loop() {
    std::unique_lock lock(sweep_mutex);
    auto last_prune = std::chrono::steady_clock::now();
    while (!stop_sweeping) {
      sweep_cv.wait_for(lock, options.ttl_sweep_interval);
      if (stop_sweeping) break;
      lock.unlock();
      expire();
      if (std::chrono::steady_clock::now() - last_prune >= options.prune_interval) {
        last_prune = std::chrono::steady_clock::now();
        (void)prune();
      }
      lock.lock();
    }
  }

  Result<void> prune() {
    const TimePoint now = clock.now();
    // Transitions just before the window still tell the state at its start;
    // keep one more window of them.
    return storage.prune(now - 2 * options.uptime_window, now - options.audit_retention);
  }

  std::size_t expire();
};


Result<std::unique_ptr<Registry>> Registry::open(Storage& storage, RegistryOptions options) {
  auto impl = std::make_unique<Impl>(storage, std::move(options));
  const TimePoint now = impl->clock.now();
  auto loaded = storage.load(now - impl->options.uptime_window);
  if (!loaded) return loaded.error();
  std::uint64_t max_index = loaded->last_index;
  for (const auto& record : loaded->records) {
    max_index = std::max(max_index, record->modify_index);
    // Heartbeats are not persisted: after a restart every TTL starts afresh.
    if (record->health_check_config.ttl) impl->arm_heartbeat(*record, now);
  }
  if (auto malformed = impl->catalog.bulk_load(std::move(loaded->records)))
    return internal_error(storage.describe() + ": stored record has a malformed serviceId '" +
                          malformed->substr(0, 64) + "'");
  for (const auto& t : loaded->transitions) {
    if (!impl->catalog.get(t.service_id)) continue;
    impl->health[t.service_id].transitions.push_back(Transition{t.at, t.passing});
  }
  impl->last_assigned = impl->applied = impl->visible = impl->retained_floor = max_index;
  impl->catalog.set_index(max_index);
  if (impl->options.ttl_sweep_interval.count() > 0)
    impl->sweeper = std::thread([raw = impl.get()] { raw->sweep_loop(); });
  return std::unique_ptr<Registry>(new Registry(std::move(impl)));
}

Registry::Registry(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Registry::~Registry() {
  {
    // Asynchronous changes still in storage are answered first: their
    // callbacks use this registry.
    std::unique_lock lock(impl_->async_mutex);
    impl_->async_cv.wait(lock, [&] { return impl_->pending_async == 0; });
  }
  {
    std::lock_guard lock(impl_->sweep_mutex);
    impl_->stop_sweeping = true;
  }
  impl_->sweep_cv.notify_all();
  if (impl_->sweeper.joinable()) impl_->sweeper.join();
  {
    std::lock_guard lock(impl_->seq_mutex);
    impl_->closing = true;
  }
  impl_->seq_cv.notify_all();
}

const detail::Catalog& Registry::catalog() const { return impl_->catalog; }
Clock& Registry::clock() const { return impl_->clock; }
const RegistryOptions& Registry::options() const { return impl_->options; }

bool Registry::writes_asynchronously() const { return impl_->storage.writes_asynchronously(); }

Result<RegisterResult> Registry::register_json(const boost::json::value& body,
                                               const RequestContext& context) {
  auto parsed = parse_registration(body, context.level, impl_->options.limits);
  if (!parsed) return parsed.error();
  return register_service(std::move(*parsed), context);
}

void Registry::register_json_async(const boost::json::value& body, const RequestContext& context,
                                   RegisterCallback done) {
  auto parsed = parse_registration(body, context.level, impl_->options.limits);
  if (!parsed) return done(parsed.error());
  register_service_async(std::move(*parsed), context, std::move(done));
}

Result<RegisterResult> Registry::register_service(ServiceRecord candidate,
                                                  const RequestContext& context) {
  std::mutex mutex;
  std::condition_variable answered;
  std::optional<Result<RegisterResult>> outcome;
  register_service_async(std::move(candidate), context, [&](Result<RegisterResult> result) {
    std::lock_guard lock(mutex);  // notified under the lock: `answered` lives on this stack
    outcome.emplace(std::move(result));
    answered.notify_one();
  });
  std::unique_lock lock(mutex);
  answered.wait(lock, [&] { return outcome.has_value(); });
  return std::move(*outcome);
}

void Registry::register_service_async(ServiceRecord candidate, const RequestContext& context,
                                      RegisterCallback done) {
  Impl& im = *impl_;
  auto op = std::make_shared<Impl::RegisterOp>();
  op->done = std::move(done);
  im.begin_async();
  try {
    op->context = context;
    op->now = im.clock.now();
    ServiceRecord& next = op->next = std::move(candidate);
    if (next.instance_id.empty()) next.instance_id = generate_instance_id(next.company_name, op->now);
    if (next.domain.empty()) next.domain = url_host(next.service_info.endpoints.primary);
    if (next.domain.empty())
      return im.complete(*op, invalid_argument("domain", "is required when serviceInfo.endpoints.primary has no DNS host name"));
    if (auto e = im.check_interval(next); e.code != ErrorCode::ok) return im.complete(*op, e);
    op->stripe = &im.stripe_for(next.company_name, next.instance_id);
  } catch (const std::exception& e) {
    return im.complete(*op, internal_error(std::string("register: ") + e.what()));
  }
  // Changes to one (company, instance) are serialized: a registration that
  // finds the stripe taken waits in its queue, holding no thread.
  if (op->stripe->lock_or_queue([&im, op] { im.register_locked(op); })) im.register_locked(op);
}

void Registry::Impl::register_locked(const std::shared_ptr<RegisterOp>& op) {
  ServiceRecord& next = op->next;
  const TimePoint now = op->now;
  auto refuse = [&](Error error) {
    op->stripe->unlock();
    complete(*op, std::move(error));
  };
  RecordPtr existing;
  WriteBatch batch;
  try {
    existing = catalog.find(next.company_name, next.instance_id);
    if (existing) {
      next.service_id = existing->service_id;
      next.registered_at = existing->registered_at;
      next.last_updated = existing->last_updated;
      next.status = existing->status;
      next.status_cause = existing->status_cause;
      next.health_status = existing->health_status;
      next.mcp = existing->mcp;
      next.create_index = existing->create_index;
      next.modify_index = existing->modify_index;
    } else {
      next.service_id = generate_uuid();
      next.registered_at = next.last_updated = now;
      next.status = ServiceStatus::active;
      next.status_cause = StatusCause::registration;
      next.health_status = HealthStatus{};
      next.mcp.reset();
      next.create_index = next.modify_index = 0;
    }
    if (auto valid = validate(next, options.limits); !valid) return refuse(valid.error());
    if (options.admission)
      if (auto admitted = options.admission(next); !admitted) return refuse(admitted.error());
    add_audit(batch, op->context, "register", next);
  } catch (const std::exception& e) {
    return refuse(internal_error(std::string("register: ") + e.what()));
  }

  if (existing && same_writable(*existing, next)) {
    // A re-registration that changes nothing: no index bump, no event, but
    // the heartbeat TTL restarts as with any registration.
    auto unchanged = [this, op, existing](Result<void> written) {
      if (written) arm_heartbeat(*existing, op->now);
      op->stripe->unlock();
      if (!written) return complete(*op, written.error());
      complete(*op, RegisterResult{existing, false});
    };
    if (batch.audit.empty()) return unchanged(Result<void>{});
    try {
      storage.write_async(std::move(batch), unchanged);
    } catch (const std::exception& e) {
      refuse(internal_error(std::string("storage write: ") + e.what()));
    }
    return;
  }

  // From here the change has an index: whatever happens, the index is
  // finished (applied, or a gap), or the changes after it would wait forever.
  next.last_updated = now;
  const std::uint64_t index = next_index();
  next.modify_index = index;
  if (next.create_index == 0) next.create_index = index;
  batch.index = index;
  RecordPtr record;
  try {
    record = std::make_shared<const ServiceRecord>(std::move(next));
    batch.upserts.push_back(*record);
    storage.write_async(std::move(batch), [this, op, index, record, existing](Result<void> written) {
      if (!written) {
        return finish_async(index, std::nullopt, [this, op, error = written.error()] {
          op->stripe->unlock();
          complete(*op, error);
        });
      }
      finish_async(index, Applied{ChangeType::upsert, record, existing}, [this, op, record, existing] {
        arm_heartbeat(*record, op->now);
        op->stripe->unlock();
        complete(*op, RegisterResult{record, existing == nullptr});
      });
    });
  } catch (const std::exception& e) {
    finish_async(index, std::nullopt, [this, op, error = internal_error(std::string("storage write: ") + e.what())] {
      op->stripe->unlock();
      complete(*op, error);
    });
  }
}

Result<RecordPtr> Registry::update(std::string_view service_id, const boost::json::value& patch,
                                   const RequestContext& context) {
  Impl& im = *impl_;
  if (!patch.is_object()) return invalid_argument("", "a merge patch must be a JSON object");
  for (const char* field : {"serviceId", "companyName", "instanceId", "status", "healthStatus", "mcp",
                            "registeredAt", "lastUpdated"}) {
    if (patch.as_object().contains(field))
      return invalid_argument(field, std::string_view(field) == "status"
                                         ? "is read-only (use PUT .../status)"
                                         : "is read-only");
  }
  auto locked = im.lock_service(service_id);
  if (!locked) return locked.error();
  const RecordPtr current = locked->current;

  boost::json::value doc = writable_json(*current);
  apply_merge_patch(doc, patch);
  // saoLevel is bounded by the caller's level only when the patch sets it.
  const SaoLevel level = patch.as_object().contains("saoLevel") ? context.level : SaoLevel::diamond;
  auto parsed = parse_registration(doc, level, im.options.limits);
  if (!parsed) return parsed.error();
  ServiceRecord next = *current;
  next.domain = parsed->domain.empty() ? url_host(parsed->service_info.endpoints.primary) : parsed->domain;
  if (next.domain.empty())  // the same answer as a registration without a domain
    return invalid_argument("domain", "is required when serviceInfo.endpoints.primary has no DNS host name");
  next.service_info = std::move(parsed->service_info);
  next.health_check_config = std::move(parsed->health_check_config);
  next.personal_config = std::move(parsed->personal_config);
  next.demo_config = std::move(parsed->demo_config);
  next.sao_level = parsed->sao_level;
  next.tags = std::move(parsed->tags);
  next.metadata = std::move(parsed->metadata);
  if (auto e = im.check_interval(next); e.code != ErrorCode::ok) return e;
  if (auto valid = validate(next, im.options.limits); !valid) return valid.error();
  if (im.options.admission)
    if (auto admitted = im.options.admission(next); !admitted) return admitted.error();

  WriteBatch batch;
  im.add_audit(batch, context, "update", next);
  if (same_writable(*current, next)) {
    if (auto r = im.commit_audit_only(std::move(batch)); !r) return r.error();
    return current;
  }
  const TimePoint now = im.clock.now();
  next.last_updated = now;
  const bool ttl_changed = next.health_check_config.ttl != current->health_check_config.ttl;
  auto committed = im.commit(std::move(next), ChangeType::upsert, std::move(batch), current);
  if (committed && ttl_changed) im.arm_heartbeat(**committed, now);
  return committed;
}

Result<RecordPtr> Registry::set_status(std::string_view service_id, ServiceStatus status,
                                       const RequestContext& context) {
  Impl& im = *impl_;
  auto locked = im.lock_service(service_id);
  if (!locked) return locked.error();
  const RecordPtr current = locked->current;
  WriteBatch batch;
  im.add_audit(batch, context, "status", *current);
  if (current->status == status && current->status_cause == StatusCause::operator_set) {
    if (auto r = im.commit_audit_only(std::move(batch)); !r) return r.error();
    return current;
  }
  const TimePoint now = im.clock.now();
  ServiceRecord next = *current;
  next.status = status;
  next.status_cause = StatusCause::operator_set;
  next.last_updated = now;
  auto committed = im.commit(std::move(next), ChangeType::status, std::move(batch), current);
  // An operator's "active" starts a fresh heartbeat TTL.
  if (committed && status == ServiceStatus::active) im.arm_heartbeat(**committed, now);
  return committed;
}

Result<HeartbeatResult> Registry::heartbeat(std::string_view service_id,
                                            const RequestContext& context) {
  Impl& im = *impl_;
  auto locked = im.lock_service(service_id);
  if (!locked) return locked.error();
  const RecordPtr current = locked->current;
  const auto& ttl = current->health_check_config.ttl;
  if (!ttl) return HeartbeatResult{current->service_id, current->status, std::nullopt};
  const TimePoint now = im.clock.now();
  RecordPtr record = current;
  if (current->status == ServiceStatus::inactive &&
      current->status_cause == StatusCause::heartbeat_ttl) {
    ServiceRecord next = *current;
    next.status = ServiceStatus::active;
    next.last_updated = now;
    WriteBatch batch;
    im.add_audit(batch, context, "heartbeat", next);
    auto committed = im.commit(std::move(next), ChangeType::status, std::move(batch), current);
    if (!committed) return committed.error();
    record = *committed;
  }
  im.arm_heartbeat(*record, now);
  return HeartbeatResult{record->service_id, record->status, now + *ttl};
}

std::optional<HeartbeatResult> Registry::heartbeat_in_memory(const RecordPtr& seen) {
  Impl& im = *impl_;
  if (!seen) return std::nullopt;
  // The stripe is held across a durable write of any service in it: never
  // wait for it here.
  std::unique_lock stripe(im.stripe_for(seen->company_name, seen->instance_id), std::try_to_lock);
  if (!stripe.owns_lock()) return std::nullopt;
  // The service as it is now (it may have changed or gone since `seen`).
  const RecordPtr current = im.catalog.get(seen->service_id);
  if (!current) return std::nullopt;
  const auto& ttl = current->health_check_config.ttl;
  if (!ttl) return HeartbeatResult{current->service_id, current->status, std::nullopt};
  if (current->status == ServiceStatus::inactive && current->status_cause == StatusCause::heartbeat_ttl)
    return std::nullopt;  // a revival: an indexed, durable change
  const TimePoint now = im.clock.now();
  im.arm_heartbeat(*current, now);
  return HeartbeatResult{current->service_id, current->status, now + *ttl};
}

Result<HealthStatus> Registry::report_health(std::string_view service_id,
                                             const HealthReport& report,
                                             const RequestContext& context) {
  Impl& im = *impl_;
  if (report.response_time_ms && (*report.response_time_ms < 0 || !std::isfinite(*report.response_time_ms)))
    return invalid_argument("responseTime", "must be a non-negative number of milliseconds");
  auto locked = im.lock_service(service_id);
  if (!locked) return locked.error();
  const RecordPtr current = locked->current;
  const TimePoint now = im.clock.now();
  ServiceRecord next = *current;
  HealthStatus& hs = next.health_status;
  const bool known = hs.last_check.has_value();
  const bool was_passing = hs.consecutive_successes > 0;
  hs.last_check = now;
  hs.response_time_ms = report.response_time_ms;
  if (hs.response_time_ms) hs.response_time_ms = round_to(*hs.response_time_ms, 1000.0);
  std::string error_text;
  if (report.ok) {
    ++hs.consecutive_successes;
    hs.consecutive_failures = 0;
  } else {
    ++hs.consecutive_failures;
    hs.consecutive_successes = 0;
    hs.last_failure = now;
    error_text = report.message.empty() ? "check failed" : utf8_prefix(report.message, kMaxErrorText);
    hs.last_error = error_text;
  }

  WriteBatch batch;
  const bool flipped = !known || was_passing != report.ok;
  if (flipped) batch.transitions.push_back(HealthTransition{next.service_id, now, report.ok});
  {
    std::lock_guard lock(im.health_mutex);
    const auto& kept = im.health[next.service_id].transitions;
    if (flipped) {
      auto transitions = kept;  // a copy until the write is durable
      transitions.push_back(Transition{now, report.ok});
      prune_transitions(transitions, now - im.options.uptime_window);
      hs.uptime = compute_uptime(transitions, next.registered_at, now, im.options.uptime_window, hs);
    } else {
      // Nothing new: the kept list, whose pruning only drops what lies
      // wholly before the window, gives the same answer without a copy.
      hs.uptime = compute_uptime(kept, next.registered_at, now, im.options.uptime_window, hs);
    }
    if (hs.uptime) hs.uptime = round_to(*hs.uptime, 10000.0);
  }

  // Thresholds move active <-> unhealthy only; maintenance and inactive stay.
  std::optional<ChangeType> event;
  const auto& config = next.health_check_config;
  if (report.hold_transition) {
    // The safeguard holds every status change; counts stay current.
  } else if (next.status == ServiceStatus::active && hs.consecutive_failures >= config.failure_threshold) {
    next.status = ServiceStatus::unhealthy;
    next.status_cause = StatusCause::health_check;
    event = ChangeType::status;
  } else if (next.status == ServiceStatus::unhealthy &&
             hs.consecutive_successes >= config.success_threshold) {
    next.status = ServiceStatus::active;
    next.status_cause = StatusCause::health_check;
    event = ChangeType::status;
  }
  if (event) next.last_updated = now;
  im.add_audit(batch, context, "health", next);
  auto committed = im.commit(std::move(next), event, std::move(batch), current);
  if (!committed) return committed.error();

  std::lock_guard lock(im.health_mutex);
  HealthState& state = im.health[(*committed)->service_id];
  if (flipped) state.transitions.push_back(Transition{now, report.ok});
  prune_transitions(state.transitions, now - im.options.uptime_window);
  if (im.options.recent_checks > 0) {
    if (state.recent.size() >= im.options.recent_checks) state.recent.resize(im.options.recent_checks - 1);
    CompactCheck check;
    check.at = now;
    check.ok = report.ok;
    if (report.response_time_ms) check.response_time_ms = *report.response_time_ms;
    check.endpoint = state.endpoint_index(report.endpoint);
    check.error = error_text;
    state.recent.insert(state.recent.begin(), std::move(check));
  }
  return (*committed)->health_status;
}

Result<RecordPtr> Registry::set_mcp_info(std::string_view service_id, McpInfo info) {
  Impl& im = *impl_;
  auto locked = im.lock_service(service_id);
  if (!locked) return locked.error();
  const RecordPtr current = locked->current;
  if (current->mcp && *current->mcp == info) return current;
  const bool tools_changed = !current->mcp || current->mcp->tools != info.tools;
  ServiceRecord next = *current;
  bool capabilities_changed = false;
  for (const char* declared : {"tools", "resources", "prompts"}) {
    if (!info.capabilities.contains(declared)) continue;
    auto& caps = next.service_info.capabilities;
    if (caps.size() >= im.options.limits.max_list) break;
    if (std::find(caps.begin(), caps.end(), declared) != caps.end()) continue;
    caps.emplace_back(declared);
    capabilities_changed = true;
  }
  next.mcp = std::move(info);
  std::optional<ChangeType> event;
  if (tools_changed || capabilities_changed) {
    event = ChangeType::upsert;
    next.last_updated = im.clock.now();
  }
  return im.commit(std::move(next), event, WriteBatch{}, current);
}

Result<void> Registry::deregister(std::string_view service_id, const RequestContext& context) {
  Impl& im = *impl_;
  auto locked = im.lock_service(service_id);
  if (!locked) return locked.error();
  const RecordPtr current = locked->current;
  WriteBatch batch;
  im.add_audit(batch, context, "deregister", *current);
  if (auto r = im.commit_removal(current, std::move(batch)); !r) return r.error();
  im.disarm(current->service_id);
  std::lock_guard lock(im.health_mutex);
  im.health.erase(current->service_id);
  return {};
}

Result<RecordPtr> Registry::get(std::string_view service_id) const {
  return impl_->lookup(service_id);
}

Result<RecordPtr> Registry::find(std::string_view company, std::string_view instance_id) const {
  if (auto record = impl_->catalog.find(company, instance_id)) return record;
  return not_found("no service " + std::string(instance_id.substr(0, 128)) + " of company " +
                   std::string(company.substr(0, 64)));
}

Result<HealthDetail> Registry::health_detail(std::string_view service_id) const {
  auto current = impl_->lookup(service_id);
  if (!current) return current.error();
  HealthDetail detail{(*current)->service_id, (*current)->status, (*current)->health_status, {}};
  std::lock_guard lock(impl_->health_mutex);
  if (auto it = impl_->health.find(detail.service_id); it != impl_->health.end())
    for (const auto& check : it->second.recent) detail.recent_checks.push_back(it->second.expand(check));
  return detail;
}

std::size_t Registry::Impl::expire() {
  const TimePoint now = clock.now();
  std::vector<std::string> due;
  {
    std::lock_guard lock(heartbeat_mutex);
    for (auto it = expiry_order.begin(); it != expiry_order.end() && it->first <= now; ++it)
      due.push_back(it->second);
  }
  std::size_t changed = 0;
  for (const auto& id : due) {
    auto locked = lock_service(id);
    if (!locked) {
      disarm(id);
      continue;
    }
    {
      // A heartbeat may have arrived since the list was taken.
      std::lock_guard lock(heartbeat_mutex);
      auto it = expiry_by_id.find(id);
      if (it == expiry_by_id.end() || it->second > now) continue;
      disarm_locked(id);
    }
    const RecordPtr& current = locked->current;
    if (current->status != ServiceStatus::active && current->status != ServiceStatus::unhealthy) continue;
    ServiceRecord next = *current;
    next.status = ServiceStatus::inactive;
    next.status_cause = StatusCause::heartbeat_ttl;
    next.last_updated = now;
    if (commit(std::move(next), ChangeType::status, WriteBatch{}, current)) ++changed;
  }
  return changed;
}

std::size_t Registry::expire_heartbeats() { return impl_->expire(); }

Result<void> Registry::prune_history() { return impl_->prune(); }

std::uint64_t Registry::index() const {
  std::lock_guard lock(impl_->seq_mutex);
  return impl_->visible;
}

std::size_t Registry::size() const { return impl_->catalog.size(); }

std::array<std::size_t, 4> Registry::count_by_status() const {
  return impl_->catalog.count_by_status();
}

std::uint64_t Registry::wait_for_index(std::uint64_t index, Duration timeout) const {
  std::unique_lock lock(impl_->seq_mutex);
  ++impl_->index_waiters;
  impl_->seq_cv.wait_for(lock, timeout, [&] { return impl_->visible > index || impl_->closing; });
  --impl_->index_waiters;
  return impl_->visible;
}

Subscription Registry::subscribe(std::function<void(const ChangeEvent&)> callback) {
  std::lock_guard lock(impl_->seq_mutex);
  const std::uint64_t id = impl_->next_subscriber++;
  impl_->subscribers.emplace(id, std::move(callback));
  return Subscription(this, id);
}

std::optional<std::vector<ChangeEvent>> Registry::events_since(std::uint64_t index) const {
  std::lock_guard lock(impl_->seq_mutex);
  if (index < impl_->retained_floor) return std::nullopt;
  std::vector<ChangeEvent> out;
  auto it = std::upper_bound(impl_->retained.begin(), impl_->retained.end(), index,
                             [](std::uint64_t i, const ChangeEvent& e) { return i < e.index; });
  out.assign(it, impl_->retained.end());
  return out;
}

Result<void> Registry::append_audit(AuditEntry entry) {
  WriteBatch batch;
  batch.audit.push_back(std::move(entry));
  return impl_->storage.write(batch);
}

Result<std::vector<AuditEntry>> Registry::audit_entries(TimePoint since, std::size_t limit) const {
  return impl_->storage.audit_entries(since, limit);
}

Subscription::Subscription(Subscription&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)), id_(other.id_) {}

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    reset();
    registry_ = std::exchange(other.registry_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

Subscription::~Subscription() { reset(); }

void Subscription::reset() {
  if (!registry_) return;
  // Callbacks run under the sequencer's lock, so taking it here also waits
  // for a callback running on another thread to return.
  std::lock_guard lock(registry_->impl_->seq_mutex);
  registry_->impl_->subscribers.erase(id_);
  registry_ = nullptr;
}

}  // namespace discovery
