// VerboseLog: what -v prints on stderr — connection steps and header sections.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include <asioquic/h3/fields.hpp>

namespace asioquic::tools {

/// Lines start with "* " (a step), "> " (request) or "< " (response), curl-style, after a
/// per-URL prefix ("[2] ") when several URLs run at once. Does nothing when disabled.
class VerboseLog {
 public:
  VerboseLog(std::ostream& out, bool enabled) : out_(out), enabled_(enabled) {}
  bool enabled() const noexcept { return enabled_; }

  /// "* text".
  void step(std::string_view prefix, std::string_view text);
  /// The request's header section: "> METHOD PATH HTTP/3", "> :authority: ..." and fields.
  void request(std::string_view prefix, const h3::Fields& fields);
  /// The response's header section: "< HTTP/3 STATUS" and fields.
  void response(std::string_view prefix, int status, const h3::Fields& fields);

 private:
  std::ostream& out_;
  bool enabled_;
};

}  // namespace asioquic::tools
