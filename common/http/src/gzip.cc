#include "foresight/http/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>

#include "foresight/common/text.h"

namespace foresight::http {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool AcceptsGzip(const Request& request) {
  const std::string header = AsciiLower(request.Header("accept-encoding"));
  std::string_view rest = header;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view item = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t semi = item.find(';');
    const std::string_view coding = Trim(item.substr(0, semi));
    if (coding != "gzip" && coding != "x-gzip" && coding != "*") continue;
    if (semi == std::string_view::npos) return true;
    std::string_view param = Trim(item.substr(semi + 1));
    if (param.size() >= 2 && param[0] == 'q' && param[1] == '=') {
      const std::string q(Trim(param.substr(2)));
      char* end = nullptr;
      const double v = std::strtod(q.c_str(), &end);
      if (end != q.c_str() && v > 0) return true;
      continue;  // q=0: explicitly refused
    }
    return true;
  }
  return false;
}

Result<DeflatedPart> DeflatePart(std::string_view data, int level) {
  z_stream zs{};
  // windowBits -15: raw deflate, no header or trailer (GzipJoin writes them).
  if (deflateInit2(&zs, std::clamp(level, 1, 9), Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Internal("gzip: deflateInit2 failed");
  }
  DeflatedPart part;
  part.size = data.size();
  part.crc = 0;
  // crc32 and deflate take 32-bit lengths: feed them in chunks.
  constexpr size_t kChunk = 1u << 30;
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t off = 0; off < data.size(); off += kChunk) {
    const size_t n = std::min(kChunk, data.size() - off);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data() + off), static_cast<uInt>(n));
  }
  part.crc = static_cast<uint32_t>(crc);
  part.data.resize(deflateBound(&zs, static_cast<uLong>(std::min<size_t>(data.size(), kChunk))) + 64);
  size_t written = 0;
  size_t off = 0;
  int rc = Z_OK;
  do {
    const size_t n = std::min(kChunk, data.size() - off);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + off));
    zs.avail_in = static_cast<uInt>(n);
    off += n;
    const int flush = off >= data.size() ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    do {
      if (part.data.size() - written < 1024) part.data.resize(part.data.size() * 2 + 1024);
      zs.next_out = reinterpret_cast<Bytef*>(part.data.data() + written);
      zs.avail_out = static_cast<uInt>(std::min<size_t>(part.data.size() - written, kChunk));
      const uInt before = zs.avail_out;
      rc = deflate(&zs, flush);
      written += before - zs.avail_out;
    } while (rc == Z_OK && (zs.avail_in > 0 || zs.avail_out == 0));
  } while (rc == Z_OK && off < data.size());
  deflateEnd(&zs);
  if (rc != Z_OK && rc != Z_BUF_ERROR) return Internal("gzip: deflate failed (" + std::to_string(rc) + ")");
  part.data.resize(written);
  return part;
}

std::string GzipJoin(const std::vector<const DeflatedPart*>& parts) {
  // RFC 1952: magic, CM=8 (deflate), no flags, MTIME 0, XFL 0, OS 255 (unknown).
  static const char kHeader[] = {'\x1f', '\x8b', '\x08', 0, 0, 0, 0, 0, 0, '\xff'};
  size_t total = sizeof(kHeader) + 2 + 8;
  for (const DeflatedPart* p : parts) total += p->data.size();
  std::string out;
  out.reserve(total);
  out.append(kHeader, sizeof(kHeader));
  uLong crc = crc32(0L, Z_NULL, 0);
  uint64_t size = 0;
  for (const DeflatedPart* p : parts) {
    out.append(p->data);
    crc = crc32_combine(crc, p->crc, static_cast<z_off_t>(p->size));
    size += p->size;
  }
  out.append("\x03\x00", 2);  // an empty final block (fixed Huffman, end of block)
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((size >> (8 * i)) & 0xff));
  return out;
}

Result<std::string> Gzip(std::string_view data, int level) {
  auto part = DeflatePart(data, level);
  if (!part.ok()) return part.status();
  return GzipJoin({&*part});
}

void MaybeGzip(const Request& request, Response* response) {
  if (response->body.size() < 1024 || !AcceptsGzip(request)) return;
  auto z = Gzip(response->body);
  if (!z.ok()) return;  // serve it uncompressed rather than fail the request
  response->body = std::move(z).value();
  response->headers.emplace_back("Content-Encoding", "gzip");
  response->headers.emplace_back("Vary", "Accept-Encoding");
}

}  // namespace foresight::http
