#include "tenant/snap_file.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "core/fs.h"
#include "core/unique_fd.h"

namespace lobster::tenant {
namespace {

constexpr std::string_view kMagic = "LOBSNAP1\n";
constexpr size_t kChunk = 1 << 20;
using Stream = crypto_secretstream_xchacha20poly1305_state;

std::string hex(const unsigned char* p, size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), p, n);
  out.pop_back();
  return out;
}

std::string key_id(const std::string& key) {
  unsigned char h[crypto_generichash_BYTES];
  crypto_generichash(h, sizeof(h), reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                     nullptr, 0);
  return hex(h, 8);
}

Status write_all(int fd, const void* data, size_t n, const std::string& what) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return errno_error(ErrorCode::kIoFailed, "write " + what);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return ok();
}

// Reads exactly n bytes; false at a clean EOF before any byte.
Result<bool> read_exact(int fd, void* data, size_t n, const std::string& what) {
  char* p = static_cast<char*>(data);
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, p + got, n - got);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return errno_error(ErrorCode::kIoFailed, "read " + what);
    }
    if (r == 0) {
      if (got == 0)
        return false;
      return make_error(ErrorCode::kSnapshotFailed, "{}: truncated", what);
    }
    got += static_cast<size_t>(r);
  }
  return true;
}

std::unexpected<Error> corrupt(const std::string& in, std::string_view why) {
  return with_hint(Error{ErrorCode::kSnapshotFailed, fmt::format("{}: {}", in, why)},
                   "the file was modified, truncated, or made with another host's key");
}

void put_u64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_le(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

Result<std::string> load_or_create_snap_key(const std::string& keys_dir) {
  if (sodium_init() < 0)
    return make_error(ErrorCode::kInternal, "libsodium init failed");
  std::string path = keys_dir + "/snap.key";
  if (fs::exists(path)) {
    std::string key = LOB_TRY(fs::read_file(path));
    if (key.size() != crypto_secretstream_xchacha20poly1305_KEYBYTES) {
      return make_error(ErrorCode::kIoFailed, "{}: expected a {}-byte key", path,
                        crypto_secretstream_xchacha20poly1305_KEYBYTES);
    }
    return key;
  }
  LOB_TRY(fs::ensure_dir(keys_dir, 0700));
  std::string key(crypto_secretstream_xchacha20poly1305_KEYBYTES, '\0');
  crypto_secretstream_xchacha20poly1305_keygen(reinterpret_cast<unsigned char*>(key.data()));
  LOB_TRY(fs::write_file_atomic(path, key, 0600));
  return key;
}

Result<SnapMeta> write_snap(const std::string& disk, const std::string& out, const std::string& key,
                            const std::string& tenant, int64_t now_ms) {
  if (sodium_init() < 0)
    return make_error(ErrorCode::kInternal, "libsodium init failed");
  UniqueFd in(::open(disk.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in)
    return errno_error(ErrorCode::kSnapshotFailed, "open " + disk);
  struct stat st {};
  if (::fstat(in.get(), &st) != 0)
    return errno_error(ErrorCode::kSnapshotFailed, "stat " + disk);
  uint64_t size = static_cast<uint64_t>(st.st_size);

  // Data extents of the sparse disk; holes are neither stored nor hashed.
  std::vector<std::pair<uint64_t, uint64_t>> extents;  // (offset, length)
  for (uint64_t pos = 0; pos < size;) {
    off_t data = ::lseek(in.get(), static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0) {
      if (errno != ENXIO)
        return errno_error(ErrorCode::kSnapshotFailed, "seek " + disk);
      break;
    }
    off_t hole = ::lseek(in.get(), data, SEEK_HOLE);
    if (hole < 0)
      hole = static_cast<off_t>(size);
    extents.emplace_back(static_cast<uint64_t>(data), static_cast<uint64_t>(hole - data));
    pos = static_cast<uint64_t>(hole);
  }
  std::vector<unsigned char> buf(kChunk);
  crypto_hash_sha256_state h;
  crypto_hash_sha256_init(&h);
  SnapMeta meta{tenant, now_ms, static_cast<int64_t>(size), "", key_id(key)};
  std::string header = nlohmann::json{{"tenant", meta.tenant},
                                      {"createdAtMs", meta.created_at_ms},
                                      {"size", meta.size},
                                      {"keyId", meta.key_id}}
                           .dump() +
                       "\n";

  std::string tmp = out + ".tmp." + std::to_string(::getpid());
  UniqueFd o(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!o)
    return errno_error(ErrorCode::kSnapshotFailed, "create " + tmp);
  auto fail = [&](Error e) {
    ::unlink(tmp.c_str());
    return make_error(std::move(e));
  };
  Stream state;
  unsigned char sh[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  crypto_secretstream_xchacha20poly1305_init_push(
      &state, sh, reinterpret_cast<const unsigned char*>(key.data()));
  if (Status s = write_all(o.get(), kMagic.data(), kMagic.size(), tmp); !s)
    return fail(s.error());
  if (Status s = write_all(o.get(), header.data(), header.size(), tmp); !s)
    return fail(s.error());
  if (Status s = write_all(o.get(), sh, sizeof(sh), tmp); !s)
    return fail(s.error());

  bool first = true;
  auto push = [&](const std::string& plain, unsigned char tag) -> Status {
    std::vector<unsigned char> c(plain.size() + crypto_secretstream_xchacha20poly1305_ABYTES);
    unsigned long long clen = 0;
    const auto* ad = first ? reinterpret_cast<const unsigned char*>(header.data()) : nullptr;
    crypto_secretstream_xchacha20poly1305_push(&state, c.data(), &clen,
                                               reinterpret_cast<const unsigned char*>(plain.data()),
                                               plain.size(), ad, first ? header.size() : 0, tag);
    first = false;
    std::string len;
    put_u32(len, static_cast<uint32_t>(clen));
    LOB_TRY(write_all(o.get(), len.data(), len.size(), tmp));
    return write_all(o.get(), c.data(), static_cast<size_t>(clen), tmp);
  };
  for (const auto& [start, length] : extents) {
    for (uint64_t off = start; off < start + length;) {
      size_t k = static_cast<size_t>(std::min<uint64_t>(kChunk, start + length - off));
      ssize_t r = ::pread(in.get(), buf.data(), k, static_cast<off_t>(off));
      if (r <= 0)
        return fail(Error{ErrorCode::kSnapshotFailed, "read " + disk});
      std::string rec;
      put_u64(rec, off);
      put_u32(rec, static_cast<uint32_t>(r));
      rec.append(reinterpret_cast<const char*>(buf.data()), static_cast<size_t>(r));
      crypto_hash_sha256_update(&h, reinterpret_cast<const unsigned char*>(rec.data()), rec.size());
      if (Status s = push(rec, 0); !s)
        return fail(s.error());
      off += static_cast<uint64_t>(r);
    }
  }
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&h, digest);
  meta.sha256 = hex(digest, sizeof(digest));
  std::string end;
  put_u64(end, size);
  put_u32(end, 0);
  end.append(reinterpret_cast<const char*>(digest), sizeof(digest));
  if (Status s = push(end, crypto_secretstream_xchacha20poly1305_TAG_FINAL); !s) {
    return fail(s.error());
  }
  if (::fsync(o.get()) != 0 || ::rename(tmp.c_str(), out.c_str()) != 0) {
    return fail(Error{ErrorCode::kSnapshotFailed, "finish " + out});
  }
  return meta;
}

Result<SnapMeta> verify_snap(const std::string& in_path, const std::string& key,
                             const std::string& restore_to) {
  if (sodium_init() < 0)
    return make_error(ErrorCode::kInternal, "libsodium init failed");
  UniqueFd in(::open(in_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in)
    return errno_error(ErrorCode::kSnapshotFailed, "open " + in_path);
  std::string magic(kMagic.size(), '\0');
  if (!LOB_TRY(read_exact(in.get(), magic.data(), magic.size(), in_path)) || magic != kMagic) {
    return corrupt(in_path, "not a lobsterd snap file");
  }
  std::string header;
  for (char c = 0; c != '\n';) {
    if (!LOB_TRY(read_exact(in.get(), &c, 1, in_path)) || header.size() > 4096) {
      return corrupt(in_path, "bad header");
    }
    header.push_back(c);
  }
  auto j = nlohmann::json::parse(header, nullptr, false);
  if (!j.is_object() || !j["size"].is_number_integer() || !j["keyId"].is_string()) {
    return corrupt(in_path, "bad header");
  }
  SnapMeta meta{j.value("tenant", ""), j.value("createdAtMs", int64_t{0}), j["size"].get<int64_t>(),
                "", j["keyId"].get<std::string>()};
  if (meta.key_id != key_id(key)) {
    return corrupt(in_path, "made with another key (key id " + meta.key_id + ")");
  }
  unsigned char sh[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
  if (!LOB_TRY(read_exact(in.get(), sh, sizeof(sh), in_path)))
    return corrupt(in_path, "truncated");
  Stream state;
  if (crypto_secretstream_xchacha20poly1305_init_pull(
          &state, sh, reinterpret_cast<const unsigned char*>(key.data())) != 0) {
    return corrupt(in_path, "bad stream header");
  }
  UniqueFd out;
  std::string tmp = restore_to + ".tmp." + std::to_string(::getpid());
  if (!restore_to.empty()) {
    out = UniqueFd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!out)
      return errno_error(ErrorCode::kIoFailed, "create " + tmp);
  }
  auto fail = [&](std::unexpected<Error> e) {
    if (!restore_to.empty())
      ::unlink(tmp.c_str());
    return e;
  };
  crypto_hash_sha256_state h;
  crypto_hash_sha256_init(&h);
  uint64_t written_to = 0;
  bool first = true, final_seen = false;
  std::vector<unsigned char> c, p;
  while (!final_seen) {
    unsigned char len_bytes[4];
    auto got = read_exact(in.get(), len_bytes, 4, in_path);
    if (!got)
      return fail(make_error(got.error()));
    if (!*got)
      return fail(corrupt(in_path, "truncated (no final record)"));
    uint32_t clen = static_cast<uint32_t>(get_le(len_bytes, 4));
    if (clen < crypto_secretstream_xchacha20poly1305_ABYTES + 12 || clen > kChunk + 64) {
      return fail(corrupt(in_path, "bad record length"));
    }
    c.resize(clen);
    if (!LOB_TRY(read_exact(in.get(), c.data(), clen, in_path))) {
      return fail(corrupt(in_path, "truncated"));
    }
    p.resize(clen);
    unsigned long long plen = 0;
    unsigned char tag = 0;
    const auto* ad = first ? reinterpret_cast<const unsigned char*>(header.data()) : nullptr;
    if (crypto_secretstream_xchacha20poly1305_pull(&state, p.data(), &plen, &tag, c.data(), clen,
                                                   ad, first ? header.size() : 0) != 0) {
      return fail(corrupt(in_path, "authentication failed"));
    }
    first = false;
    uint64_t off = get_le(p.data(), 8);
    uint32_t n = static_cast<uint32_t>(get_le(p.data() + 8, 4));
    final_seen = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    if (final_seen) {
      if (n != 0 || off != static_cast<uint64_t>(meta.size) ||
          plen != 12u + crypto_hash_sha256_BYTES) {
        return fail(corrupt(in_path, "bad final record"));
      }
      unsigned char digest[crypto_hash_sha256_BYTES];
      crypto_hash_sha256_final(&h, digest);
      if (sodium_memcmp(digest, p.data() + 12, sizeof(digest)) != 0) {
        return fail(corrupt(in_path, "digest mismatch"));
      }
      meta.sha256 = hex(digest, sizeof(digest));
      break;
    }
    if (plen != 12u + n || off < written_to || off + n > static_cast<uint64_t>(meta.size)) {
      return fail(corrupt(in_path, "bad record"));
    }
    crypto_hash_sha256_update(&h, p.data(), static_cast<size_t>(plen));
    if (out && n > 0 && ::pwrite(out.get(), p.data() + 12, n, static_cast<off_t>(off)) != n) {
      return fail(errno_error(ErrorCode::kIoFailed, "write " + tmp));
    }
    written_to = off + n;
  }
  char extra;
  if (::read(in.get(), &extra, 1) != 0)
    return fail(corrupt(in_path, "data after the end"));
  if (out) {
    if (::ftruncate(out.get(), meta.size) != 0 || ::fsync(out.get()) != 0 ||
        ::rename(tmp.c_str(), restore_to.c_str()) != 0) {
      return fail(errno_error(ErrorCode::kIoFailed, "finish " + restore_to));
    }
  }
  return meta;
}

}  // namespace lobster::tenant
