// Server-Sent Events parsing (the WHATWG event-stream format): bytes in,
// complete events out, however the bytes were split by the network. One
// parser reads one connection.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace discovery::ctl {

struct SseEvent {
  std::string type = "message";  // the `event:` field
  std::string id;                // the last event id when the event was dispatched
  std::string data;              // `data:` lines joined with "\n"
};

class SseParser {
 public:
  using Handler = std::function<void(const SseEvent&)>;

  // Consumes `bytes`, calling `on_event` for every event a blank line ends.
  // Lines may end in LF, CRLF or CR; comments (": keep-alive") are skipped.
  void feed(std::string_view bytes, const Handler& on_event);

  // What a reconnecting client sends as Last-Event-ID: the id of the last
  // complete event; empty before any. An id is taken only once its event is
  // complete, so a connection dropped mid-event resumes before that event.
  const std::string& last_event_id() const { return last_event_id_; }

 private:
  void line(std::string_view text, const Handler& on_event);

  std::string line_;
  bool after_cr_ = false;  // a CR just ended a line: a following LF belongs to it
  std::string data_;
  std::string type_;
  bool has_data_ = false;
  std::optional<std::string> pending_id_;
  std::string last_event_id_;
};

}  // namespace discovery::ctl
