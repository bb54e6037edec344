#include "common/command_line.hpp"

namespace asioquic::tools {

std::vector<ParsedArg> parse_command_line(int argc, char** argv, std::span<const OptionSpec> specs,
                                          std::string& error) {
  std::vector<ParsedArg> out;
  auto fail = [&](std::string message) {
    error = std::move(message);
    return std::vector<ParsedArg>();
  };
  bool operands_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (operands_only || arg == "-" || arg.size() < 2 || arg[0] != '-') {
      out.push_back({nullptr, std::string(arg)});
      continue;
    }
    if (arg == "--") {
      operands_only = true;
      continue;
    }
    if (arg.starts_with("--")) {
      const auto eq = arg.find('=');
      const std::string_view name = arg.substr(2, eq == std::string_view::npos ? eq : eq - 2);
      const OptionSpec* spec = nullptr;
      for (const auto& s : specs) {
        if (s.long_name == name) spec = &s;
      }
      if (!spec) return fail("unknown option --" + std::string(name));
      if (!spec->takes_value) {
        if (eq != std::string_view::npos)
          return fail("option --" + std::string(name) + " takes no value");
        out.push_back({spec, {}});
      } else if (eq != std::string_view::npos) {
        out.push_back({spec, std::string(arg.substr(eq + 1))});
      } else if (i + 1 < argc) {
        out.push_back({spec, argv[++i]});
      } else {
        return fail("option --" + std::string(name) + " needs a value");
      }
      continue;
    }
    // Short options: flags may be bundled; one taking a value takes the rest of the word or
    // the next argument.
    for (size_t k = 1; k < arg.size(); ++k) {
      const OptionSpec* spec = nullptr;
      for (const auto& s : specs) {
        if (s.short_name != '\0' && s.short_name == arg[k]) spec = &s;
      }
      if (!spec) return fail(std::string("unknown option -") + arg[k]);
      if (!spec->takes_value) {
        out.push_back({spec, {}});
        continue;
      }
      if (k + 1 < arg.size()) {
        out.push_back({spec, std::string(arg.substr(k + 1))});
      } else if (i + 1 < argc) {
        out.push_back({spec, argv[++i]});
      } else {
        return fail(std::string("option -") + arg[k] + " needs a value");
      }
      break;
    }
  }
  return out;
}

}  // namespace asioquic::tools
