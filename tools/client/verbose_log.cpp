#include "client/verbose_log.hpp"

namespace asioquic::tools {

void VerboseLog::step(std::string_view prefix, std::string_view text) {
  if (enabled_) out_ << prefix << "* " << text << std::endl;
}

void VerboseLog::request(std::string_view prefix, const h3::Fields& fields) {
  if (!enabled_) return;
  out_ << prefix << "> " << h3::find(fields, ":method").value_or("?") << " "
       << h3::find(fields, ":path").value_or("?") << " HTTP/3\n";
  for (const auto& f : fields) {
    if (f.name == ":method" || f.name == ":path" || f.name == ":scheme") continue;
    out_ << prefix << "> " << f.name << ": " << f.value << "\n";
  }
  out_ << prefix << ">" << std::endl;
}

void VerboseLog::response(std::string_view prefix, int status, const h3::Fields& fields) {
  if (!enabled_) return;
  out_ << prefix << "< HTTP/3 " << status << "\n";
  for (const auto& f : fields) {
    if (f.name == ":status") continue;
    out_ << prefix << "< " << f.name << ": " << f.value << "\n";
  }
  out_ << prefix << "<" << std::endl;
}

}  // namespace asioquic::tools
