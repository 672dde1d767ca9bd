// Guest kernel modules: dependency resolution over modules.dep / modules.softdep /
// modules.alias and collection into the initramfs staging directory (see kernel.h).
#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "core/fs.h"
#include "image/decompress.h"
#include "image/kernel.h"

namespace lobster::image {
namespace {

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
