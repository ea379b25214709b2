// Input stream implementation: fopencookie over read(2) or gzread, counting the bytes handed to stdio.
#include "input_stream.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "record_source.h"

namespace netshare {

// libpcap reads through stdio; counting what the cookie hands to stdio (minus what stdio still buffers) gives the
// exact stream position per record without an lseek syscall (ftell costs one per call).
struct StreamCookie {
  int fd = -1;
  gzFile gz = nullptr;
  uint64_t delivered = 0;
  // A stream that cannot be re-read (pipe, stdin): the sniffed head bytes, handed out before the rest.
  uint8_t replay[24] = {0};
  size_t replay_len = 0, replay_pos = 0;
};

namespace {

// read(2) that waits for data on a non-blocking descriptor instead of failing: stdin may arrive with O_NONBLOCK set on
// its open file description (a parent such as Node sets it on pipes it touches), which read() reports as EAGAIN while
// the writer is slower than us. Clearing the flag instead would change it for every process sharing the description.
ssize_t ReadWaiting(int fd, void* buf, size_t size) {
  for (;;) {
    const ssize_t n = ::read(fd, buf, size);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return n;
    pollfd p{fd, POLLIN, 0};
    // POLLHUP/POLLERR also end the wait: the next read() then returns 0 (EOF) or the error.
    if (::poll(&p, 1, -1) < 0 && errno != EINTR) return -1;
  }
}

ssize_t CookieRead(void* cookie, char* buf, size_t size) {
  auto* c = static_cast<StreamCookie*>(cookie);
  if (c->gz) {
    const int n = gzread(c->gz, buf, static_cast<unsigned>(size > (1u << 30) ? (1u << 30) : size));
    int zerr = Z_OK;
    if (n == 0) gzerror(c->gz, &zerr);  // a truncated stream reads as a short EOF and sets Z_BUF_ERROR
    if (n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
      errno = EIO;
      return -1;
    }
    c->delivered += static_cast<uint64_t>(n);
    return n;
  }
  if (c->replay_pos < c->replay_len) {
    const size_t n = std::min(size, c->replay_len - c->replay_pos);
    std::memcpy(buf, c->replay + c->replay_pos, n);
    c->replay_pos += n;
    c->delivered += n;
    return static_cast<ssize_t>(n);
  }
  const ssize_t n = ReadWaiting(c->fd, buf, size);
  if (n > 0) c->delivered += static_cast<uint64_t>(n);
  return n;
}

int CookieClose(void* cookie) {
  auto* c = static_cast<StreamCookie*>(cookie);
  const int rc = c->gz ? (gzclose(c->gz) == Z_OK ? 0 : -1) : ::close(c->fd);
  delete c;
  return rc;
}

}  // namespace

namespace {

// Reads up to `n` bytes from a stream, retrying short reads (a pipe hands out what its writer has written so far).
size_t ReadFully(int fd, uint8_t* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t k = ReadWaiting(fd, buf + got, n - got);
    if (k <= 0) break;
    got += static_cast<size_t>(k);
  }
  return got;
}

}  // namespace

InputStream OpenInputStream(const std::string& path) {
  InputStream in;
  const bool stdin_input = path == "-";
  int fd;
  if (stdin_input) {
    fd = ::fcntl(0, F_DUPFD_CLOEXEC, 3);  // our own descriptor: closing the stream leaves the process's stdin open
    if (fd < 0) throw ReaderError("input", std::string("cannot read standard input: ") + std::strerror(errno), -1);
  } else {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      struct stat st;
      if (err == EISDIR || (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)))
        throw ReaderError("input", "is a directory, not a capture file", -1);
      throw ReaderError("input", std::string("cannot open: ") + std::strerror(err), -1);
    }
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw ReaderError("input", std::string("cannot open: ") + std::strerror(err), -1);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw ReaderError("input", "is a directory, not a capture file", -1);
  }
  in.regular = S_ISREG(st.st_mode);
  in.size = in.regular ? st.st_size : 0;
  auto* cookie = new StreamCookie;
  if (in.regular) {
    const ssize_t got = ::pread(fd, in.head, sizeof in.head, 0);
    in.head_len = got > 0 ? static_cast<size_t>(got) : 0;
  } else {
    in.head_len = ReadFully(fd, in.head, sizeof in.head);
    std::memcpy(cookie->replay, in.head, in.head_len);
    cookie->replay_len = in.head_len;
  }
  const bool gz = in.head_len >= 2 && in.head[0] == 0x1f && in.head[1] == 0x8b;
  if (gz && !in.regular) {
    ::close(fd);
    delete cookie;
    throw ReaderError("input", "gzip'd input from a pipe or standard input is not supported (pipe it through gunzip)", 0);
  }
  if (gz) {
    gzFile g = gzdopen(fd, "rb");
    if (!g) {
      ::close(fd);
      delete cookie;
      throw ReaderError("input", "cannot open gzip stream", 0);
    }
    gzbuffer(g, 1 << 18);
    in.head_len = static_cast<size_t>(std::max(0, gzread(g, in.head, sizeof in.head)));
    gzrewind(g);
    cookie->gz = g;
    in.gz = g;
  } else {
    cookie->fd = fd;
    in.fd = in.regular ? fd : -1;  // formats pread only regular files; a stream is read through `file`
#ifdef POSIX_FADV_SEQUENTIAL
    if (in.regular) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  }
  cookie_io_functions_t io{CookieRead, nullptr, nullptr, CookieClose};
  FILE* f = fopencookie(cookie, "rb", io);
  if (!f) {
    CookieClose(cookie);
    throw ReaderError("input", "cannot open a stream for the file", 0);
  }
  std::setvbuf(f, nullptr, _IOFBF, 1 << 20);
  in.file = f;
  in.cookie = cookie;
  return in;
}

int64_t StreamPosition(const InputStream& in) {
#ifdef __GLIBC__
  return static_cast<int64_t>(in.cookie->delivered) - static_cast<int64_t>(in.file->_IO_read_end - in.file->_IO_read_ptr);
#else
  (void)in;
  return -1;
#endif
}

int64_t CompressedBytesRead(const InputStream& in) { return in.gz ? static_cast<int64_t>(gzoffset(static_cast<gzFile>(in.gz))) : 0; }

bool GzipFailed(const InputStream& in, std::string& message) {
  if (!in.gz) return false;
  int zerr = Z_OK;
  const char* zmsg = gzerror(static_cast<gzFile>(in.gz), &zerr);
  if (zerr == Z_OK || zerr == Z_STREAM_END) return false;
  message = zmsg ? zmsg : "?";
  // zlib prefixes the "path" given to gzdopen ("<fd:3>: "), which means nothing to a user: the caller names the file.
  if (message.compare(0, 4, "<fd:") == 0) {
    const size_t colon = message.find(": ");
    if (colon != std::string::npos) message.erase(0, colon + 2);
  }
  return true;
}

}  // namespace netshare
