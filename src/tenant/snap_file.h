// Encrypted overlay exports ("snap" files).
//
// Format: "LOBSNAP1\n", a JSON header line (tenant, created_at_ms, size, key id), then a
// libsodium secretstream (XChaCha20-Poly1305) header and records. Each record encrypts one
// data extent of the sparse disk as [u64 offset][u32 length][bytes]; holes are neither stored
// nor read, so a 4 GiB sparse overlay with 40 MiB of data costs ~40 MiB. The JSON header is the
// first record's additional data; the last record (TAG_FINAL) carries the size and a SHA-256
// over all record plaintexts, so truncation, reordering or any flipped bit is detected.
// The key is a 32-byte host key (<config>/keys/snap.key, 0600), never stored in the file.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.h"

namespace lobster::tenant {

struct SnapMeta {
  std::string tenant;
  int64_t created_at_ms = 0;
  int64_t size = 0;    // logical size of the disk
  std::string sha256;  // hex SHA-256 over the data records (offset, length, bytes)
  std::string key_id;  // first 8 bytes of the key's hash, hex
};

// Loads the host snap key, creating it (random, 0600, dir 0700) if missing. kIoFailed.
Result<std::string> load_or_create_snap_key(const std::string& keys_dir);

// Encrypts `disk` into `out` (written to a temp file, 0600, renamed at the end).
// kSnapshotFailed / kIoFailed.
Result<SnapMeta> write_snap(const std::string& disk, const std::string& out, const std::string& key,
                            const std::string& tenant, int64_t now_ms);

// Decrypts and checks `in`; with a non-empty `restore_to` writes the disk there (sparse).
// kSnapshotFailed for a wrong key, tampering, truncation or digest mismatch.
Result<SnapMeta> verify_snap(const std::string& in, const std::string& key,
                             const std::string& restore_to);

}  // namespace lobster::tenant
