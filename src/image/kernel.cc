#include "image/kernel.h"

#include <dirent.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "core/fs.h"

namespace lobster::image {
namespace {

// x86 boot protocol offsets (Documentation/x86/boot.rst).
constexpr size_t kSetupSectsOffset = 0x1f1;
constexpr size_t kHeaderMagicOffset = 0x202;  // "HdrS"
constexpr size_t kPayloadOffsetOffset = 0x248;
constexpr size_t kPayloadLengthOffset = 0x24c;

// ELF constants (elf.h values spelled out; the guest image is always x86-64 little endian).
constexpr uint32_t kPtNote = 4;
constexpr uint16_t kEmX8664 = 62;
// include/xen/interface/elfnote.h: the 32-bit PVH entry point.
constexpr uint32_t kXenElfnotePhys32Entry = 18;

template <typename T>
bool read_le(std::string_view data, size_t offset, T* out) {
  if (offset > data.size() || data.size() - offset < sizeof(T))
    return false;
  // The hosts we build on are little endian (x86-64), like the formats we parse.
  std::memcpy(out, data.data() + offset, sizeof(T));
  return true;
}

bool starts_with_at(std::string_view data, size_t offset, std::string_view magic) {
  return offset <= data.size() && data.substr(offset).starts_with(magic);
}

std::vector<std::string> decompress_argv(Compression c) {
  switch (c) {
    case Compression::kXz:
      return {"xz", "--decompress", "--stdout", "--single-stream"};
    case Compression::kZstd:
      return {"zstd", "--decompress", "--stdout", "--quiet"};
    case Compression::kGzip:
      return {"gzip", "--decompress", "--stdout"};
  }
  return {};
}

Result<std::string> decompress(process::ProcessRunner& runner, std::string data, Compression c,
                               const std::string& what) {
  process::RunOptions options;
  options.stdin_data = std::move(data);
  options.timeout_ms = 120'000;
  options.max_output = size_t{1} << 30;
  auto result = runner.run_checked(decompress_argv(c), options);
  if (!result) {
    Error e = std::move(result).error();
    e.message = "decompress " + what + ": " + e.message;
    return make_error(std::move(e));
  }
  return std::move(result->out);
}

std::vector<std::string> split_ws(std::string_view line) {
  std::vector<std::string> out;
  std::istringstream in{std::string(line)};
  std::string word;
  while (in >> word) out.push_back(word);
  return out;
}

std::string normalize(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

}  // namespace

Result<KernelPayload> locate_payload(std::string_view bzimage) {
  uint8_t setup_sects = 0;
  uint32_t payload_offset = 0;
  uint32_t payload_length = 0;
  if (!read_le(bzimage, kSetupSectsOffset, &setup_sects) ||
      !starts_with_at(bzimage, kHeaderMagicOffset, "HdrS") ||
      !read_le(bzimage, kPayloadOffsetOffset, &payload_offset) ||
      !read_le(bzimage, kPayloadLengthOffset, &payload_length)) {
    return make_error(ErrorCode::kImageBuildFailed, "kernel image is not an x86 bzImage");
  }
  // A setup_sects of 0 means 4 (boot.rst).
  const size_t sects = setup_sects == 0 ? 4u : setup_sects;
  KernelPayload p;
  p.offset = (sects + 1) * 512 + payload_offset;
  p.length = payload_length;
  if (p.offset > bzimage.size() || bzimage.size() - p.offset < p.length || p.length < 16) {
    return make_error(ErrorCode::kImageBuildFailed,
                      "bzImage payload (offset {}, length {}) lies outside the file", p.offset,
                      p.length);
  }
  const std::string_view payload = bzimage.substr(p.offset, p.length);
  if (payload.starts_with("\xfd"
                          "7zXZ")) {
    p.compression = Compression::kXz;
  } else if (payload.starts_with("\x28\xb5\x2f\xfd")) {
    p.compression = Compression::kZstd;
  } else if (payload.starts_with("\x1f\x8b")) {
    p.compression = Compression::kGzip;
  } else {
    return make_error(ErrorCode::kImageBuildFailed,
                      "bzImage payload is neither xz, zstd nor gzip compressed");
  }
  // scripts/Makefile.lib appends the uncompressed size (size_append) to xz and zstd payloads;
  // the decompressors reject it as trailing garbage, so cut it off and check it afterwards.
  if (p.compression != Compression::kGzip) {
    uint32_t size = 0;
    (void)read_le(payload, payload.size() - 4, &size);
    p.expected_size = size;
    p.length -= 4;
  }
  return p;
}

Status check_pvh_elf(std::string_view elf) {
  uint16_t machine = 0;
  uint64_t phoff = 0;
  uint16_t phentsize = 0;
  uint16_t phnum = 0;
  if (!elf.starts_with("\x7f"
                       "ELF") ||
      elf.size() < 64 || elf[4] != 2 /* ELFCLASS64 */ || elf[5] != 1 /* little endian */ ||
      !read_le(elf, 0x12, &machine) || machine != kEmX8664 || !read_le(elf, 0x20, &phoff) ||
      !read_le(elf, 0x36, &phentsize) || !read_le(elf, 0x38, &phnum) || phentsize < 56) {
    return make_error(ErrorCode::kImageBuildFailed, "kernel is not an x86-64 ELF image");
  }
  for (size_t i = 0; i < phnum; ++i) {
    const size_t ph = static_cast<size_t>(phoff) + i * phentsize;
    uint32_t type = 0;
    uint64_t offset = 0;
    uint64_t filesz = 0;
    if (!read_le(elf, ph, &type) || !read_le(elf, ph + 8, &offset) ||
        !read_le(elf, ph + 32, &filesz)) {
      break;
    }
    if (type != kPtNote || offset > elf.size() || elf.size() - offset < filesz)
      continue;
    const std::string_view notes =
        elf.substr(static_cast<size_t>(offset), static_cast<size_t>(filesz));
    size_t pos = 0;
    while (pos + 12 <= notes.size()) {
      uint32_t namesz = 0;
      uint32_t descsz = 0;
      uint32_t note_type = 0;
      (void)read_le(notes, pos, &namesz);
      (void)read_le(notes, pos + 4, &descsz);
      (void)read_le(notes, pos + 8, &note_type);
      const size_t name_at = pos + 12;
      const size_t desc_at = name_at + ((size_t{namesz} + 3) & ~size_t{3});
      if (name_at + namesz > notes.size())
        break;
      const std::string_view name = notes.substr(name_at, namesz);
      if (note_type == kXenElfnotePhys32Entry && name == std::string_view("Xen\0", 4)) {
        return ok();
      }
      pos = desc_at + ((size_t{descsz} + 3) & ~size_t{3});
    }
  }
  return make_error(ErrorCode::kImageBuildFailed,
                    "kernel ELF has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
}

Status extract_vmlinux(process::ProcessRunner& runner, const std::string& bzimage_path,
                       const std::string& out_path) {
  const std::string bzimage = LOB_TRY(fs::read_file(bzimage_path));
  auto payload = locate_payload(bzimage);
  if (!payload) {
    Error e = std::move(payload).error();
    e.message = bzimage_path + ": " + e.message;
    return make_error(std::move(e));
  }
  std::string vmlinux = LOB_TRY(decompress(runner, bzimage.substr(payload->offset, payload->length),
                                           payload->compression, bzimage_path));
  if (payload->expected_size != 0 && vmlinux.size() != payload->expected_size) {
    return make_error(ErrorCode::kImageBuildFailed,
                      "{}: decompressed kernel has {} bytes, its header says {}", bzimage_path,
                      vmlinux.size(), payload->expected_size);
  }
  if (auto st = check_pvh_elf(vmlinux); !st) {
    Error e = std::move(st).error();
    e.message = bzimage_path + ": " + e.message;
    return make_error(std::move(e));
  }
  return fs::write_file_atomic(out_path, vmlinux, 0644);
}

Result<std::string> find_installed_kernel(const std::string& root) {
  const std::string boot = root + "/boot";
  DIR* dir = opendir(boot.c_str());
  std::vector<std::string> versions;
  if (dir != nullptr) {
    while (const dirent* entry = readdir(dir)) {
      const std::string_view name = entry->d_name;
      if (!name.starts_with("vmlinuz-"))
        continue;
      std::string ver(name.substr(8));
      if (fs::exists(root + "/lib/modules/" + ver + "/modules.dep"))
        versions.push_back(ver);
    }
    closedir(dir);
  }
  if (versions.empty()) {
    return with_hint(Error{ErrorCode::kPreflightFailed, "no kernel with modules found in " + boot},
                     "apt-get install linux-image-amd64");
  }
  std::sort(versions.begin(), versions.end(), [](const std::string& a, const std::string& b) {
    return strverscmp(a.c_str(), b.c_str()) < 0;
  });
  return versions.back();
}

std::string module_name(std::string_view path) {
  const size_t slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const size_t dot = base.find(".ko");
  if (dot != std::string_view::npos)
    base = base.substr(0, dot);
  return normalize(base);
}

Result<std::vector<std::string>> resolve_modules(std::string_view modules_dep,
                                                 std::string_view softdeps,
                                                 std::string_view aliases,
                                                 const std::vector<std::string>& names) {
  struct Entry {
    std::string path;
    std::vector<std::string> deps;  // module names
  };
  std::map<std::string, Entry> by_name;
  std::istringstream dep_in{std::string(modules_dep)};
  for (std::string line; std::getline(dep_in, line);) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos)
      continue;
    Entry e;
    e.path = line.substr(0, colon);
    for (const auto& d : split_ws(std::string_view(line).substr(colon + 1))) {
      e.deps.push_back(module_name(d));
    }
    by_name[module_name(e.path)] = std::move(e);
  }
  // "softdep ext4 pre: crypto-crc32c" -> ext4 also needs crc32c loaded first.
  std::map<std::string, std::vector<std::string>> alias_targets;
  std::istringstream alias_in{std::string(aliases)};
  for (std::string line; std::getline(alias_in, line);) {
    const auto words = split_ws(line);
    if (words.size() == 3 && words[0] == "alias") {
      alias_targets[words[1]].push_back(normalize(words[2]));
    }
  }
  std::istringstream soft_in{std::string(softdeps)};
  for (std::string line; std::getline(soft_in, line);) {
    const auto words = split_ws(line);
    if (words.size() < 3 || words[0] != "softdep")
      continue;
    auto it = by_name.find(normalize(words[1]));
    if (it == by_name.end())
      continue;
    bool pre = false;
    for (size_t i = 2; i < words.size(); ++i) {
      if (words[i].ends_with(':')) {
        pre = words[i] == "pre:";
        continue;
      }
      if (!pre)
        continue;
      if (by_name.contains(normalize(words[i]))) {
        it->second.deps.push_back(normalize(words[i]));
      } else if (auto a = alias_targets.find(words[i]); a != alias_targets.end()) {
        for (const auto& target : a->second) {
          if (by_name.contains(target))
            it->second.deps.push_back(target);
        }
      }
    }
  }

  std::vector<std::string> order;
  std::set<std::string> done;
  std::set<std::string> visiting;
  // Depth-first: a module is emitted after everything it depends on. Cycles cannot occur in
  // modules.dep; soft dependencies are skipped if they would close one.
  auto visit = [&](auto&& self, const std::string& name) -> void {
    if (done.contains(name) || visiting.contains(name))
      return;
    visiting.insert(name);
    const Entry& e = by_name.at(name);
    for (const auto& d : e.deps) {
      if (by_name.contains(d))
        self(self, d);
    }
    visiting.erase(name);
    done.insert(name);
    order.push_back(e.path);
  };
  for (const auto& requested : names) {
    const std::string name = normalize(requested);
    if (!by_name.contains(name)) {
      return make_error(ErrorCode::kImageBuildFailed, "kernel module '{}' not found in modules.dep",
                        requested);
    }
    visit(visit, name);
  }
  return order;
}

Result<std::vector<std::string>> collect_modules(process::ProcessRunner& runner,
                                                 const std::string& kver,
                                                 const std::vector<std::string>& names,
                                                 const std::string& out_dir,
                                                 const std::string& root) {
  const std::string mod_dir = root + "/lib/modules/" + kver;
  const std::string dep = LOB_TRY(fs::read_file(mod_dir + "/modules.dep"));
  // softdep and alias files are optional refinements.
  auto soft = fs::read_file(mod_dir + "/modules.softdep");
  auto alias = fs::read_file(mod_dir + "/modules.alias");
  const auto paths = LOB_TRY(resolve_modules(dep, soft ? *soft : "", alias ? *alias : "", names));
  LOB_TRY(fs::ensure_dir(out_dir, 0755));
  std::vector<std::string> files;
  std::string load_order;
  for (const auto& rel : paths) {
    std::string data = LOB_TRY(fs::read_file(mod_dir + "/" + rel));
    if (rel.ends_with(".ko.xz")) {
      data = LOB_TRY(decompress(runner, std::move(data), Compression::kXz, rel));
    } else if (rel.ends_with(".ko.zst")) {
      data = LOB_TRY(decompress(runner, std::move(data), Compression::kZstd, rel));
    } else if (rel.ends_with(".ko.gz")) {
      data = LOB_TRY(decompress(runner, std::move(data), Compression::kGzip, rel));
    }
    const std::string file = module_name(rel) + ".ko";
    LOB_TRY(fs::write_file_atomic(out_dir + "/" + file, data, 0644));
    files.push_back(file);
    load_order += file + "\n";
  }
  LOB_TRY(fs::write_file_atomic(out_dir + "/load-order", load_order, 0644));
  return files;
}

}  // namespace lobster::image
