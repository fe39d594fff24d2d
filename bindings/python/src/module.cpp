// _discovery: the compiled half of the mcp_discovery package.
//
// A thin layer over the public C++ API. Three rules hold everywhere:
//   - every expected failure (Result<T> with an Error) becomes a Python
//     exception in exactly one place, translate_error(), which asks the pure
//     Python package (mcp_discovery.errors.error_from) to build it, so the
//     exception classes are the same ones the REST client raises;
//   - every call that may block (storage, locks, waits, sockets) runs with
//     the GIL released, and no library callback ever needs the GIL, so a
//     registry lock is never waited on while the GIL is held;
//   - Python values are converted while the GIL is held, before the release.
//
// Records cross the boundary as RecordHandle (a shared pointer to the
// immutable record, no copy); to_dict() converts on demand.
#include <discovery/discovery.hpp>
#include <discovery/server.hpp>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <boost/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace py = pybind11;
namespace json = boost::json;
using namespace discovery;

namespace {

// ------------------------------------------------------------- errors ----

// Carries a library Error to the one translator below.
class ErrorException : public std::exception {
 public:
  explicit ErrorException(Error error) : error_(std::move(error)), what_(error_.to_string()) {}
  const Error& error() const noexcept { return error_; }
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  Error error_;
  std::string what_;
};

[[noreturn]] void fail(ErrorCode code, std::string message, std::string field = {}) {
  throw ErrorException(Error{code, std::move(message), std::move(field)});
}

template <class T>
T unwrap(Result<T>&& result) {
  if (!result) throw ErrorException(result.error());
  return std::move(*result);
}

void unwrap(Result<void>&& result) {
  if (!result) throw ErrorException(result.error());
}

void raise_python(const Error& error) {
  py::object errors = py::module_::import("mcp_discovery.errors");
  py::object exc = errors.attr("error_from")(std::string(to_string(error.code)), error.message,
                                            error.field.empty() ? py::object(py::none()) : py::str(error.field));
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
}

void translate_error(std::exception_ptr pointer) {
  try {
    if (pointer) std::rethrow_exception(pointer);
  } catch (const ErrorException& e) {
    raise_python(e.error());
  } catch (const ResultError& e) {
    raise_python(e.error());
  }
}

// ----------------------------------------------------- JSON <-> Python ----

py::object to_python(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return py::none();
    case json::kind::bool_: return py::bool_(v.get_bool());
    case json::kind::int64: return py::int_(v.get_int64());
    case json::kind::uint64: return py::int_(v.get_uint64());
    case json::kind::double_: return py::float_(v.get_double());
    case json::kind::string: {
      const auto& s = v.get_string();
      return py::str(s.data(), s.size());
    }
    case json::kind::array: {
      const auto& a = v.get_array();
      py::list out(a.size());
      for (std::size_t i = 0; i < a.size(); ++i) out[i] = to_python(a[i]);
      return out;
    }
    case json::kind::object: {
      py::dict out;
      for (const auto& [key, value] : v.get_object()) out[py::str(key.data(), key.size())] = to_python(value);
      return out;
    }
  }
  return py::none();
}

py::object to_python(const json::object& o) {
  py::dict out;
  for (const auto& [key, value] : o) out[py::str(key.data(), key.size())] = to_python(value);
  return out;
}

constexpr int kMaxDepth = 64;

// A JSON-shaped Python value (dict with str keys, list/tuple, str, int,
// float, bool, None) into Boost.JSON; anything else is invalid_argument
// naming the path of the offending value.
json::value from_python(py::handle obj, const std::string& path, int depth = 0) {
  if (depth > kMaxDepth) fail(ErrorCode::invalid_argument, "nested too deeply", path);
  if (obj.is_none()) return nullptr;
  if (py::isinstance<py::bool_>(obj)) return obj.cast<bool>();
  if (py::isinstance<py::int_>(obj)) {
    try {
      return obj.cast<std::int64_t>();
    } catch (const py::cast_error&) {
      fail(ErrorCode::invalid_argument, "integer out of range", path);
    }
  }
  if (py::isinstance<py::float_>(obj)) return obj.cast<double>();
  if (py::isinstance<py::str>(obj)) return json::string(obj.cast<std::string>());
  if (py::isinstance<py::dict>(obj)) {
    json::object out;
    for (auto [key, value] : obj.cast<py::dict>()) {
      if (!py::isinstance<py::str>(key))
        fail(ErrorCode::invalid_argument, "object keys must be strings", path);
      auto name = key.cast<std::string>();
      out[name] = from_python(value, path.empty() ? name : path + "." + name, depth + 1);
    }
    return out;
  }
  if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) {
    json::array out;
    std::size_t i = 0;
    for (auto item : obj) {
      out.push_back(from_python(item, path + "[" + std::to_string(i) + "]", depth + 1));
      ++i;
    }
    return out;
  }
  fail(ErrorCode::invalid_argument,
       "cannot be sent as JSON (" + std::string(py::str(py::type::of(obj).attr("__name__"))) + ")", path);
}

// ------------------------------------------------------ value helpers ----

ServiceStatus status_from(const std::string& text, const char* field = "status") {
  auto s = parse_status(text);
  if (!s) fail(ErrorCode::invalid_argument, "must be one of active, inactive, maintenance, unhealthy", field);
  return *s;
}

SaoLevel level_from(const std::string& text, const char* field = "saoLevel") {
  auto l = parse_sao_level(text);
  if (!l) fail(ErrorCode::invalid_argument, "must be one of diamond, emerald, sapphire, opal, onyx", field);
  return *l;
}

Duration seconds_to_duration(double seconds, const char* field) {
  if (!(seconds >= 0) || seconds > 30.0 * 86400) fail(ErrorCode::invalid_argument, "must be 0 to 30 days in seconds", field);
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
}

py::object time_or_none(const std::optional<TimePoint>& t) {
  if (!t) return py::none();
  return py::str(format_time(*t));
}

// ------------------------------------------------------------ records ----

// An immutable record shared with the registry; cheap to create.
struct RecordHandle {
  RecordPtr record;
};

py::object handle_or_none(const RecordPtr& record) {
  if (!record) return py::none();
  return py::cast(RecordHandle{record});
}

// ----------------------------------------------------------- registry ----

// What a Registry object owns. Shared with servers and watches started on
// it, so the registry outlives them whatever order Python drops them in.
struct Core {
  std::unique_ptr<Storage> storage;
  std::unique_ptr<Registry> registry;
  std::unique_ptr<QueryEngine> engine;
  ~Core() {
    engine.reset();
    registry.reset();  // before the storage it writes through
    storage.reset();
  }
};

struct Context {
  RequestContext context;
};

const RequestContext& context_of(const std::optional<Context>& c) {
  static const RequestContext trusted{};
  return c ? c->context : trusted;
}

// (services, nextCursor or None, index): a tuple, the cheapest container.
py::tuple page_to_python(DiscoverPage&& page) {
  py::list services(page.services.size());
  for (std::size_t i = 0; i < page.services.size(); ++i) services[i] = py::cast(RecordHandle{std::move(page.services[i])});
  return py::make_tuple(std::move(services),
                        page.next_cursor ? py::object(py::str(*page.next_cursor)) : py::object(py::none()),
                        page.index);
}

py::tuple event_to_python(const ChangeEvent& e) {
  return py::make_tuple(e.index, std::string(to_string(e.type)), handle_or_none(e.record), handle_or_none(e.previous));
}

// Changes from a subscription, queued without the GIL (the registry calls
// the callback on the thread that applied the change) and handed to Python
// by next(), which waits with the GIL released.
class Watch {
 public:
  Watch(std::shared_ptr<Core> core, std::optional<DiscoverQuery> filter, std::size_t max_queue)
      : core_(std::move(core)), filter_(std::move(filter)), max_queue_(max_queue) {
    subscription_ = core_->registry->subscribe([this](const ChangeEvent& e) { push(e); });
    start_index_ = core_->registry->index();
  }
  ~Watch() { close(); }

  // The registry index when the watch started: events after it are delivered.
  std::uint64_t start_index() const { return start_index_; }

  std::optional<ChangeEvent> next(std::optional<double> timeout_seconds) {
    std::unique_lock lock(mutex_);
    auto ready = [&] { return !queue_.empty() || closed_ || overflowed_; };
    if (timeout_seconds) {
      if (!changed_.wait_for(lock, std::chrono::duration<double>(*timeout_seconds), ready)) return std::nullopt;
    } else {
      changed_.wait(lock, ready);
    }
    if (!queue_.empty()) {
      ChangeEvent e = std::move(queue_.front());
      queue_.pop_front();
      return e;
    }
    if (overflowed_)
      fail(ErrorCode::unavailable, "watch fell more than " + std::to_string(max_queue_) +
                                       " events behind and was dropped; start a new one");
    return std::nullopt;  // closed
  }

  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    changed_.notify_all();
    subscription_.reset();  // waits for a callback in flight
  }

  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  void push(const ChangeEvent& e) {
    if (filter_ && !(e.record && QueryEngine::matches(*filter_, *e.record)) &&
        !(e.previous && QueryEngine::matches(*filter_, *e.previous)))
      return;
    {
      std::lock_guard lock(mutex_);
      if (closed_ || overflowed_) return;
      if (queue_.size() >= max_queue_) {
        overflowed_ = true;
        queue_.clear();
      } else {
        queue_.push_back(e);
      }
    }
    changed_.notify_one();
  }

  std::shared_ptr<Core> core_;
  std::optional<DiscoverQuery> filter_;
  std::size_t max_queue_;
  std::uint64_t start_index_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<ChangeEvent> queue_;
  bool closed_ = false;
  bool overflowed_ = false;
  Subscription subscription_;  // last: unsubscribes before the rest goes
};

class PyRegistry {
 public:
  PyRegistry(std::optional<std::string> path, double min_check_interval, double ttl_sweep_interval,
             bool sqlite_sync, std::size_t retained_events) {
    RegistryOptions options;
    options.min_check_interval = seconds_to_duration(min_check_interval, "min_check_interval");
    options.ttl_sweep_interval = seconds_to_duration(ttl_sweep_interval, "ttl_sweep_interval");
    options.retained_events = retained_events;
    auto core = std::make_shared<Core>();
    {
      py::gil_scoped_release release;
      if (!path || *path == ":memory:") {
        core->storage = make_memory_storage();
      } else {
        SqliteOptions sqlite;
        sqlite.sync = sqlite_sync;
        core->storage = unwrap(open_sqlite_storage(*path, sqlite));
      }
      core->registry = unwrap(Registry::open(*core->storage, options));
      core->engine = std::make_unique<QueryEngine>(*core->registry);
    }
    describe_ = core->storage->describe();
    core_ = std::move(core);
  }

  std::shared_ptr<Core> core() const {
    auto core = std::atomic_load(&core_);
    if (!core) fail(ErrorCode::unavailable, "registry is closed");
    return core;
  }

  void close() {
    auto core = std::atomic_exchange(&core_, std::shared_ptr<Core>{});
    py::gil_scoped_release release;
    core.reset();  // storage closes here unless a server or watch still holds it
  }
  bool closed() const { return std::atomic_load(&core_) == nullptr; }
  const std::string& describe() const { return describe_; }

  py::tuple register_service(py::handle body, const std::optional<Context>& context) {
    const json::value value = from_python(body, "");
    auto core = this->core();
    RegisterResult result;
    {
      py::gil_scoped_release release;
      result = unwrap(core->registry->register_json(value, context_of(context)));
    }
    return py::make_tuple(RecordHandle{std::move(result.record)}, result.created);
  }

  RecordHandle update(const std::string& id, py::handle patch, const std::optional<Context>& context) {
    const json::value value = from_python(patch, "");
    auto core = this->core();
    py::gil_scoped_release release;
    return RecordHandle{unwrap(core->registry->update(id, value, context_of(context)))};
  }

  RecordHandle set_status(const std::string& id, const std::string& status, const std::optional<Context>& context) {
    const ServiceStatus s = status_from(status);
    auto core = this->core();
    py::gil_scoped_release release;
    return RecordHandle{unwrap(core->registry->set_status(id, s, context_of(context)))};
  }

  py::dict heartbeat(const std::string& id, const std::optional<Context>& context) {
    auto core = this->core();
    HeartbeatResult beat;
    {
      py::gil_scoped_release release;
      beat = unwrap(core->registry->heartbeat(id, context_of(context)));
    }
    py::dict out;
    out["serviceId"] = beat.service_id;
    out["status"] = std::string(to_string(beat.status));
    out["expiresAt"] = time_or_none(beat.expires_at);
    return out;
  }

  py::object report_health(const std::string& id, bool ok, std::optional<double> response_time,
                           const std::string& message, const std::string& endpoint,
                           const std::optional<Context>& context) {
    if (response_time && !(*response_time >= 0))
      fail(ErrorCode::invalid_argument, "must be a non-negative number of milliseconds", "responseTime");
    if (message.size() > 1024) fail(ErrorCode::invalid_argument, "must be at most 1024 characters", "message");
    HealthReport report{ok, response_time, message, endpoint};
    auto core = this->core();
    HealthStatus health;
    {
      py::gil_scoped_release release;
      health = unwrap(core->registry->report_health(id, report, context_of(context)));
    }
    return to_python(to_json(health));
  }

  void deregister(const std::string& id, const std::optional<Context>& context) {
    auto core = this->core();
    py::gil_scoped_release release;
    unwrap(core->registry->deregister(id, context_of(context)));
  }

  RecordHandle get(const std::string& id) const {
    auto core = this->core();
    py::gil_scoped_release release;
    return RecordHandle{unwrap(core->registry->get(id))};
  }

  RecordHandle find(const std::string& company, const std::string& instance_id) const {
    auto core = this->core();
    py::gil_scoped_release release;
    return RecordHandle{unwrap(core->registry->find(company, instance_id))};
  }

  py::dict health(const std::string& id) const {
    auto core = this->core();
    HealthDetail detail;
    {
      py::gil_scoped_release release;
      detail = unwrap(core->registry->health_detail(id));
    }
    py::list checks;
    for (const auto& c : detail.recent_checks) {
      py::dict check;
      check["at"] = format_time(c.at);
      check["ok"] = c.ok;
      check["responseTime"] = c.response_time_ms ? py::object(py::float_(*c.response_time_ms)) : py::object(py::none());
      check["endpoint"] = c.endpoint;
      check["error"] = c.error.empty() ? py::object(py::none()) : py::object(py::str(c.error));
      checks.append(std::move(check));
    }
    py::dict out;
    out["serviceId"] = detail.service_id;
    out["status"] = std::string(to_string(detail.status));
    out["healthStatus"] = to_python(to_json(detail.health_status));
    out["recentChecks"] = std::move(checks);
    return out;
  }

  py::tuple discover(const DiscoverQuery& query) const {
    auto core = this->core();
    DiscoverPage page;
    {
      py::gil_scoped_release release;
      page = unwrap(core->engine->discover(query));
    }
    return page_to_python(std::move(page));
  }

  py::tuple discover_after(const DiscoverQuery& query, std::uint64_t index, double timeout) const {
    const Duration wait = seconds_to_duration(timeout, "timeout");
    auto core = this->core();
    DiscoverPage page;
    {
      py::gil_scoped_release release;
      page = unwrap(core->engine->discover_after(query, index, wait));
    }
    return page_to_python(std::move(page));
  }

  std::uint64_t index() const { return core()->registry->index(); }
  std::size_t size() const { return core()->registry->size(); }

  py::dict count_by_status() const {
    const auto counts = core()->registry->count_by_status();
    py::dict out;
    for (ServiceStatus s : kAllStatuses) out[py::str(std::string(to_string(s)))] = counts[static_cast<std::size_t>(s)];
    return out;
  }

  std::uint64_t wait_for_index(std::uint64_t index, double timeout) const {
    const Duration wait = seconds_to_duration(timeout, "timeout");
    auto core = this->core();
    py::gil_scoped_release release;
    return core->registry->wait_for_index(index, wait);
  }

  std::size_t expire_heartbeats() {
    auto core = this->core();
    py::gil_scoped_release release;
    return core->registry->expire_heartbeats();
  }

  py::object events_since(std::uint64_t index) const {
    auto core = this->core();
    std::optional<std::vector<ChangeEvent>> events;
    {
      py::gil_scoped_release release;
      events = core->registry->events_since(index);
    }
    if (!events) return py::none();
    py::list out;
    for (const auto& e : *events) out.append(event_to_python(e));
    return out;
  }

  py::list audit(const std::optional<std::string>& since, std::size_t limit) const {
    if (limit < 1 || limit > 1000) fail(ErrorCode::invalid_argument, "must be an integer from 1 to 1000", "limit");
    TimePoint from{};
    if (since) {
      auto t = parse_time(*since);
      if (!t) fail(ErrorCode::invalid_argument, t.error().message, "since");
      from = *t;
    }
    auto core = this->core();
    std::vector<AuditEntry> entries;
    {
      py::gil_scoped_release release;
      entries = unwrap(core->registry->audit_entries(from, limit));
    }
    py::list out;
    for (const auto& e : entries) {
      py::dict d;
      d["at"] = format_time(e.at);
      d["requestId"] = e.request_id;
      d["subject"] = e.subject;
      d["sao"] = e.sao;
      d["company"] = e.company;
      d["action"] = e.action;
      d["serviceId"] = e.service_id;
      d["result"] = e.result;
      out.append(std::move(d));
    }
    return out;
  }

  std::unique_ptr<Watch> watch(const std::optional<DiscoverQuery>& filter, std::size_t max_queue) {
    if (max_queue < 1) fail(ErrorCode::invalid_argument, "must be at least 1", "max_queue");
    auto core = this->core();
    py::gil_scoped_release release;
    return std::make_unique<Watch>(std::move(core), filter, max_queue);
  }

 private:
  std::shared_ptr<Core> core_;
  std::string describe_;
};

// ------------------------------------------------------------- server ----

class PyServer {
 public:
  PyServer(const PyRegistry& registry, const std::string& hs256_secret, const std::string& public_key_pem,
           const std::string& host, int port, unsigned io_threads, unsigned write_threads,
           const std::string& log_level, bool metrics_require_auth, double rate_limit_rps,
           std::size_t max_body_bytes, double drain_grace) {
    if (hs256_secret.empty() && public_key_pem.empty())
      fail(ErrorCode::invalid_argument, "a server needs an HS256 secret or a public key", "secret");
    if (port < 0 || port > 65535) fail(ErrorCode::invalid_argument, "must be 0 to 65535", "port");
    if (rate_limit_rps < 0) fail(ErrorCode::invalid_argument, "must not be negative", "rate_limit_rps");
    auto level = parse_log_level(log_level);
    if (!level) fail(ErrorCode::invalid_argument, "must be one of debug, info, warn, error, off", "log_level");
    ServerOptions options;
    options.host = host;
    options.port = static_cast<std::uint16_t>(port);
    options.io_threads = io_threads;
    options.write_threads = write_threads == 0 ? 1 : write_threads;
    options.log_level = *level;
    options.metrics_require_auth = metrics_require_auth;
    options.rate_limit_rps = rate_limit_rps;
    options.max_body_bytes = max_body_bytes;
    options.drain_grace = seconds_to_duration(drain_grace, "drain_grace");
    JwtOptions jwt;
    jwt.hs256_secret = hs256_secret;
    jwt.public_key_pem = public_key_pem;

    core_ = registry.core();
    py::gil_scoped_release release;
    verifier_ = unwrap(JwtVerifier::create(std::move(jwt), core_->registry->clock()));
    server_ = unwrap(Server::start(*core_->registry, *verifier_, std::move(options)));
  }
  ~PyServer() {
    py::gil_scoped_release release;
    server_.reset();
    verifier_.reset();
    core_.reset();
  }

  std::uint16_t port() const { return running().port(); }
  std::string url() const { return running().url(); }
  bool running_now() const { return server_ != nullptr; }

  void stop() {
    py::gil_scoped_release release;
    server_.reset();  // ~Server stops gracefully
  }

 private:
  const Server& running() const {
    if (!server_) fail(ErrorCode::unavailable, "server is stopped");
    return *server_;
  }
  std::shared_ptr<Core> core_;
  std::unique_ptr<JwtVerifier> verifier_;
  std::unique_ptr<Server> server_;
};

// -------------------------------------------------------------- query ----

DiscoverQuery make_query(std::string company, std::string region, std::string environment,
                         std::optional<std::string> status, std::optional<std::string> sao_level,
                         std::vector<std::string> capabilities, std::vector<std::string> tags,
                         std::vector<std::string> tools, std::size_t limit, std::string cursor) {
  if (limit < 1 || limit > kMaxDiscoverLimit)
    fail(ErrorCode::invalid_argument, "must be an integer from 1 to 1000", "limit");
  DiscoverQuery q;
  q.company = std::move(company);
  q.region = std::move(region);
  q.environment = std::move(environment);
  if (status) q.status = status_from(*status);
  if (sao_level) q.sao_level = level_from(*sao_level);
  q.capabilities = std::move(capabilities);
  q.tags = std::move(tags);
  q.tools = std::move(tools);
  q.limit = limit;
  q.cursor = std::move(cursor);
  return q;
}

}  // namespace

PYBIND11_MODULE(_discovery, m) {
  m.doc() = "Compiled core of mcp_discovery (libdiscovery through pybind11). Use the mcp_discovery package.";
  m.attr("__version__") = kVersion;
  py::register_exception_translator(&translate_error);

  py::class_<RecordHandle>(m, "RecordHandle",
                           "An immutable service record shared with the registry (no copy). "
                           "mcp_discovery.ServiceRecord wraps it.")
      .def_property_readonly("service_id", [](const RecordHandle& h) { return h.record->service_id; })
      .def_property_readonly("company_name", [](const RecordHandle& h) { return h.record->company_name; })
      .def_property_readonly("instance_id", [](const RecordHandle& h) { return h.record->instance_id; })
      .def_property_readonly("status", [](const RecordHandle& h) { return std::string(to_string(h.record->status)); })
      .def("to_dict", [](const RecordHandle& h, bool redacted) {
             return to_python(to_json(*h.record, redacted ? JsonView::redacted : JsonView::full));
           },
           py::arg("redacted") = false,
           "The record as API.md's JSON (a new dict); redacted leaves out personalConfig and demoConfig.")
      .def("to_json", [](const RecordHandle& h) { return json::serialize(to_json(*h.record)); },
           "The record as a JSON text.");

  py::class_<Context>(m, "Context",
                      "Who asks, for the audit log and the saoLevel rule. Without one, a call is a trusted "
                      "in-process caller (diamond) and is not audited.")
      .def(py::init([](const std::string& subject, const std::string& sao, const std::string& company,
                       const std::string& request_id) {
             Context c;
             c.context.subject = subject;
             c.context.level = level_from(sao, "sao");
             c.context.company = company;
             c.context.request_id = request_id;
             return c;
           }),
           py::arg("subject") = "", py::arg("sao") = "diamond", py::arg("company") = "", py::arg("request_id") = "")
      .def_property_readonly("subject", [](const Context& c) { return c.context.subject; })
      .def_property_readonly("sao", [](const Context& c) { return std::string(to_string(c.context.level)); })
      .def_property_readonly("company", [](const Context& c) { return c.context.company; })
      .def_property_readonly("request_id", [](const Context& c) { return c.context.request_id; });

  py::class_<DiscoverQuery>(m, "Query", "The discover filters of API.md, combined with AND; empty means any.")
      .def(py::init(&make_query), py::kw_only(), py::arg("company") = "", py::arg("region") = "",
           py::arg("environment") = "", py::arg("status") = py::none(), py::arg("sao_level") = py::none(),
           py::arg("capabilities") = std::vector<std::string>{}, py::arg("tags") = std::vector<std::string>{},
           py::arg("tools") = std::vector<std::string>{}, py::arg("limit") = kDefaultDiscoverLimit,
           py::arg("cursor") = "")
      .def_static("parse", [](const std::string& query_string) {
             auto parsed = unwrap(parse_discover_query(query_string));
             return parsed.query;
           },
           py::arg("query_string"), "A URL query string (company=acme&tags=a,b) as the daemon parses it.")
      .def_readonly("company", &DiscoverQuery::company)
      .def_readonly("region", &DiscoverQuery::region)
      .def_readonly("environment", &DiscoverQuery::environment)
      .def_property_readonly("status", [](const DiscoverQuery& q) {
        return q.status ? std::optional<std::string>(std::string(to_string(*q.status))) : std::nullopt;
      })
      .def_property_readonly("sao_level", [](const DiscoverQuery& q) {
        return q.sao_level ? std::optional<std::string>(std::string(to_string(*q.sao_level))) : std::nullopt;
      })
      .def_readonly("capabilities", &DiscoverQuery::capabilities)
      .def_readonly("tags", &DiscoverQuery::tags)
      .def_readonly("tools", &DiscoverQuery::tools)
      .def_readonly("limit", &DiscoverQuery::limit)
      .def_readwrite("cursor", &DiscoverQuery::cursor)
      .def("matches", [](const DiscoverQuery& q, const RecordHandle& h) { return QueryEngine::matches(q, *h.record); },
           py::arg("record"), "Whether a record satisfies every filter (cursor and limit aside).");

  py::class_<Watch>(m, "Watch", "Changes of a registry, queued as they are applied.")
      .def("next", [](Watch& w, std::optional<double> timeout) -> py::object {
             std::optional<ChangeEvent> e;
             {
               py::gil_scoped_release release;
               e = w.next(timeout);
             }
             if (!e) return py::none();
             return event_to_python(*e);
           },
           py::arg("timeout") = py::none(),
           "The next change as (index, type, record, previous), or None on timeout or once closed.")
      .def_property_readonly("start_index", &Watch::start_index)
      .def_property_readonly("closed", &Watch::closed)
      .def("close", [](Watch& w) {
        py::gil_scoped_release release;
        w.close();
      });

  py::class_<PyRegistry>(m, "Registry", "The records and every change to them (memory or SQLite storage).")
      .def(py::init<std::optional<std::string>, double, double, bool, std::size_t>(), py::arg("path") = py::none(),
           py::kw_only(), py::arg("min_check_interval") = 1.0, py::arg("ttl_sweep_interval") = 1.0,
           py::arg("sqlite_sync") = true, py::arg("retained_events") = 10000)
      .def("close", &PyRegistry::close)
      .def_property_readonly("closed", &PyRegistry::closed)
      .def_property_readonly("storage", &PyRegistry::describe)
      .def("register", &PyRegistry::register_service, py::arg("body"), py::arg("context") = py::none())
      .def("update", &PyRegistry::update, py::arg("service_id"), py::arg("patch"), py::arg("context") = py::none())
      .def("set_status", &PyRegistry::set_status, py::arg("service_id"), py::arg("status"),
           py::arg("context") = py::none())
      .def("heartbeat", &PyRegistry::heartbeat, py::arg("service_id"), py::arg("context") = py::none())
      .def("report_health", &PyRegistry::report_health, py::arg("service_id"), py::arg("ok"),
           py::arg("response_time") = py::none(), py::arg("message") = "", py::arg("endpoint") = "external",
           py::arg("context") = py::none())
      .def("deregister", &PyRegistry::deregister, py::arg("service_id"), py::arg("context") = py::none())
      .def("get", &PyRegistry::get, py::arg("service_id"))
      .def("find", &PyRegistry::find, py::arg("company"), py::arg("instance_id"))
      .def("health", &PyRegistry::health, py::arg("service_id"))
      .def("discover", &PyRegistry::discover, py::arg("query"))
      .def("discover_after", &PyRegistry::discover_after, py::arg("query"), py::arg("index"), py::arg("timeout"))
      .def_property_readonly("index", &PyRegistry::index)
      .def("size", &PyRegistry::size)
      .def("count_by_status", &PyRegistry::count_by_status)
      .def("wait_for_index", &PyRegistry::wait_for_index, py::arg("index"), py::arg("timeout"))
      .def("expire_heartbeats", &PyRegistry::expire_heartbeats)
      .def("events_since", &PyRegistry::events_since, py::arg("index"))
      .def("audit", &PyRegistry::audit, py::arg("since") = py::none(), py::arg("limit") = 100)
      .def("watch", &PyRegistry::watch, py::arg("query") = py::none(), py::arg("max_queue") = 10000);

  py::class_<PyServer>(m, "Server", "The HTTP API (API.md) served in process on a registry.")
      .def(py::init<const PyRegistry&, const std::string&, const std::string&, const std::string&, int, unsigned,
                    unsigned, const std::string&, bool, double, std::size_t, double>(),
           py::arg("registry"), py::kw_only(), py::arg("hs256_secret") = "", py::arg("public_key_pem") = "",
           py::arg("host") = "127.0.0.1", py::arg("port") = 0, py::arg("io_threads") = 1,
           py::arg("write_threads") = 8, py::arg("log_level") = "warn", py::arg("metrics_require_auth") = false,
           py::arg("rate_limit_rps") = 0.0, py::arg("max_body_bytes") = std::size_t{1} << 20,
           py::arg("drain_grace") = 10.0)
      .def_property_readonly("port", &PyServer::port)
      .def_property_readonly("url", &PyServer::url)
      .def_property_readonly("running", &PyServer::running_now)
      .def("stop", &PyServer::stop);

  m.def("generate_secret", &generate_secret, "A new HS256 secret: 64 lowercase hex characters.");
  m.def("trim_secret", [](const std::string& bytes) { return trim_secret(bytes); }, py::arg("file_bytes"),
        "The key a secret file holds: its bytes with trailing whitespace removed.");
  m.def("mint_hs256_token",
        [](const std::string& secret, const std::string& subject, const std::string& sao,
           const std::string& company, double ttl) {
          Principal p;
          p.subject = subject;
          p.level = level_from(sao, "sao");
          p.company = company;
          const Duration d = seconds_to_duration(ttl, "ttl");
          return mint_hs256_token(secret, p, system_clock().now(), d);
        },
        py::arg("secret"), py::arg("subject"), py::arg("sao"), py::arg("company") = "", py::arg("ttl") = 3600.0,
        "An HS256 token (claims sub, sao, company, iat, exp), minted by the library itself.");
  m.def("parse_duration", [](const std::string& text) {
          return std::chrono::duration<double>(unwrap(parse_duration(text))).count();
        },
        py::arg("text"), "'30s', '500ms', '1m30s' as seconds.");
}
