#include "files.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace multilogit::cli {
namespace {

using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

[[noreturn]] void fail(const char* action, const std::string& path, int error) {
  throw std::runtime_error(std::string("cannot ") + action + " " + path + ": " +
                           std::strerror(error));
}

}  // namespace

std::string read_file(const std::string& path) {
  File file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) fail("read", path, errno);
  std::string contents;
  char buffer[1 << 16];
  std::size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) contents.append(buffer, got);
  if (std::ferror(file.get())) fail("read", path, errno);  // e.g. a directory
  return contents;
}

void write_file(const std::string& path, std::string_view contents) {
  std::FILE* raw = std::fopen(path.c_str(), "wb");
  if (!raw) fail("write", path, errno);
  const bool written = std::fwrite(contents.data(), 1, contents.size(), raw) == contents.size();
  const int write_error = errno;
  // fclose flushes, so its failure is a write failure too.
  if (std::fclose(raw) != 0 || !written) fail("write", path, written ? errno : write_error);
}

}  // namespace multilogit::cli
