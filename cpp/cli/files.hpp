// Whole-file reads and writes with errors that name the file and the system's reason.
#pragma once

#include <string>
#include <string_view>

namespace multilogit::cli {

// std::runtime_error "cannot read PATH: <reason>" on failure.
std::string read_file(const std::string& path);

// Creates or truncates the file; std::runtime_error "cannot write PATH: <reason>" on failure.
void write_file(const std::string& path, std::string_view contents);

}  // namespace multilogit::cli
