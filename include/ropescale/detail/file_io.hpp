// SPDX-License-Identifier: Apache-2.0
// Reading files that engines did not write (docs/limits.md): a path is opened only if it is a
// regular file (a FIFO, a device, a socket or a directory is refused before anything can block:
// on POSIX the open itself is non-blocking and the check is fstat on the opened descriptor, so
// a path swapped between check and open is caught too); whole-file reads stop at a byte cap
// instead of trusting st_size (/proc files report 0); every error names the file. Nothing here
// throws except through detail/throw.hpp. detail: no API promise.
#ifndef ROPESCALE_DETAIL_FILE_IO_HPP
#define ROPESCALE_DETAIL_FILE_IO_HPP

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#define ROPESCALE_POSIX_FILES 1
#else
#define ROPESCALE_POSIX_FILES 0
#endif

#include "ropescale/detail/throw.hpp"

namespace ropescale::detail {

/// A read-only regular file, opened without blocking. Move-only; closes on destruction.
class input_file {
 public:
  /// Opens `path` for reading. Throws invalid_parameter "<path>: cannot read <what>: <reason>"
  /// when it does not exist, is not a regular file (FIFO, device, directory, socket) or cannot
  /// be opened.
  static input_file open(const std::filesystem::path& path, std::string_view what) {
    input_file f;
    f.name_ = path.string();
    f.what_ = what;
#if ROPESCALE_POSIX_FILES
    const int fd = ::open(f.name_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) f.fail(std::generic_category().message(errno));
    f.fd_ = fd;
    struct stat st {};
    if (::fstat(fd, &st) != 0) f.fail(std::generic_category().message(errno));
    if (!S_ISREG(st.st_mode)) f.fail(std::string("not a regular file (") + kind(st.st_mode) + ")");
    f.size_ = static_cast<std::uint64_t>(st.st_size);
#else
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status))
      f.fail(ec ? ec.message() : std::string("No such file or directory"));
    if (!std::filesystem::is_regular_file(status)) f.fail("not a regular file");
    f.file_ = std::fopen(f.name_.c_str(), "rb");
    if (f.file_ == nullptr) f.fail(std::generic_category().message(errno));
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) f.fail(ec.message());
    f.size_ = static_cast<std::uint64_t>(size);
#endif
    return f;
  }

  input_file(input_file&& o) noexcept { swap(o); }
  input_file& operator=(input_file&& o) noexcept {
    swap(o);
    return *this;
  }
  input_file(const input_file&) = delete;
  input_file& operator=(const input_file&) = delete;
  ~input_file() { close(); }

  /// Size reported by the file system when opened (0 for /proc files, whatever they hold).
  std::uint64_t size() const noexcept { return size_; }
  const std::string& name() const noexcept { return name_; }

  /// Reads exactly `count` bytes at `offset` into `out`; a short read (file truncated since it
  /// was opened) or an I/O error throws naming the file.
  void read_at(std::uint64_t offset, std::size_t count, unsigned char* out) const {
    std::size_t done = 0;
    while (done < count) {
#if ROPESCALE_POSIX_FILES
      const ssize_t got = ::pread(fd_, out + done, count - done,
                                  static_cast<off_t>(offset + static_cast<std::uint64_t>(done)));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) fail("read failed: " + std::generic_category().message(errno));
      if (got == 0) fail("short read (file changed or truncated since it was opened)");
      done += static_cast<std::size_t>(got);
#else
      if (std::fseek(file_, static_cast<long>(offset + done), SEEK_SET) != 0) fail("seek failed");
      const std::size_t got = std::fread(out + done, 1, count - done, file_);
      if (got == 0) fail("short read (file changed or truncated since it was opened)");
      done += got;
#endif
    }
  }

  /// The whole file as bytes, reading until end of file (not trusting the size the file system
  /// reports). More than `max_bytes` throws "<path>: cannot read <what>: larger than <cap>".
  std::string read_all(std::uint64_t max_bytes, std::string_view cap_text) const {
    std::string text;
    if (size_ > max_bytes) fail("larger than " + std::string(cap_text));
    text.reserve(static_cast<std::size_t>(size_));
    char buf[1 << 16];
    for (;;) {
#if ROPESCALE_POSIX_FILES
      const ssize_t got = ::read(fd_, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) fail("read failed: " + std::generic_category().message(errno));
#else
      const std::size_t got = std::fread(buf, 1, sizeof buf, file_);
      if (got == 0 && std::ferror(file_)) fail("read failed");
#endif
      if (got == 0) break;
      if (text.size() + static_cast<std::size_t>(got) > max_bytes)
        fail("larger than " + std::string(cap_text));
      text.append(buf, static_cast<std::size_t>(got));
    }
    return text;
  }

  /// Throws invalid_parameter "<path>: cannot read <what>: <reason>".
  [[noreturn]] void fail(const std::string& reason) const {
    throw_message(name_, "cannot read " + what_ + ": " + reason);
  }

 private:
  input_file() = default;

#if ROPESCALE_POSIX_FILES
  static const char* kind(mode_t m) noexcept {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a plain file";
  }
#endif

  void swap(input_file& o) noexcept {
    std::swap(name_, o.name_);
    std::swap(what_, o.what_);
    std::swap(size_, o.size_);
#if ROPESCALE_POSIX_FILES
    std::swap(fd_, o.fd_);
#else
    std::swap(file_, o.file_);
#endif
  }

  void close() noexcept {
#if ROPESCALE_POSIX_FILES
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
#else
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
#endif
  }

  std::string name_;
  std::string what_;
  std::uint64_t size_ = 0;
#if ROPESCALE_POSIX_FILES
  int fd_ = -1;
#else
  std::FILE* file_ = nullptr;
#endif
};

/// The unsigned little-endian integer stored in the `bytes` (1–8) bytes at p (file formats:
/// safetensors, GGUF), independent of the host's byte order.
inline std::uint64_t load_le(const unsigned char* p, int bytes) noexcept {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace ropescale::detail

#endif  // ROPESCALE_DETAIL_FILE_IO_HPP
