#include "guest/ws/frame.h"

namespace lobster::guest::ws {
namespace {

bool known_opcode(uint8_t op) {
  return op == 0x0 || op == 0x1 || op == 0x2 || op == 0x8 || op == 0x9 || op == 0xA;
}

}  // namespace

bool is_control(Opcode op) { return (static_cast<uint8_t>(op) & 0x8u) != 0; }

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0;
    uint32_t min = 0;
    if ((b0 & 0xE0u) == 0xC0u) {
      len = 2;
      cp = b0 & 0x1Fu;
      min = 0x80;
    } else if ((b0 & 0xF0u) == 0xE0u) {
      len = 3;
      cp = b0 & 0x0Fu;
      min = 0x800;
    } else if ((b0 & 0xF8u) == 0xF0u) {
      len = 4;
      cp = b0 & 0x07u;
      min = 0x10000;
    } else {
      return false;
    }
    if (i + len > s.size())
      return false;
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<uint8_t>(s[i + k]);
      if ((b & 0xC0u) != 0x80u)
        return false;
      cp = (cp << 6) | (b & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

std::string encode_frame(Opcode opcode, std::string_view payload, bool fin,
                         std::optional<std::array<uint8_t, 4>> mask) {
  std::string out;
  out.reserve(payload.size() + 14);
  out += static_cast<char>((fin ? 0x80u : 0u) | static_cast<uint8_t>(opcode));
  const uint8_t mask_bit = mask ? 0x80u : 0u;
  const uint64_t len = payload.size();
  if (len < 126) {
    out += static_cast<char>(mask_bit | static_cast<uint8_t>(len));
  } else if (len <= 0xFFFF) {
    out += static_cast<char>(mask_bit | 126u);
    out += static_cast<char>((len >> 8) & 0xFFu);
    out += static_cast<char>(len & 0xFFu);
  } else {
    out += static_cast<char>(mask_bit | 127u);
    for (int shift = 56; shift >= 0; shift -= 8) {
      out += static_cast<char>((len >> shift) & 0xFFu);
    }
  }
  if (!mask) {
    out.append(payload);
    return out;
  }
  for (uint8_t b : *mask) {
    out += static_cast<char>(b);
  }
  const size_t start = out.size();
  out.append(payload);
  for (size_t i = 0; i < payload.size(); ++i) {
    out[start + i] = static_cast<char>(static_cast<uint8_t>(out[start + i]) ^ (*mask)[i % 4]);
  }
  return out;
}

void FrameDecoder::feed(std::string_view bytes) {
  // Drop consumed bytes before growing so the buffer stays proportional to one frame.
  if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
}

Result<std::optional<Frame>> FrameDecoder::next() {
  const size_t avail = buf_.size() - pos_;
  if (avail < 2)
    return std::optional<Frame>();
  const auto* p = reinterpret_cast<const uint8_t*>(buf_.data() + pos_);  // char/uint8_t alias.
  const uint8_t b0 = p[0];
  const uint8_t b1 = p[1];
  if ((b0 & 0x70u) != 0) {
    return make_error(ErrorCode::kProtocolError, "websocket frame uses reserved bits");
  }
  const uint8_t op = b0 & 0x0Fu;
  if (!known_opcode(op)) {
    return make_error(ErrorCode::kProtocolError, "websocket frame has unknown opcode {}", op);
  }
  const bool fin = (b0 & 0x80u) != 0;
  const bool masked = (b1 & 0x80u) != 0;
  if (masked != (role_ == Role::kServer)) {
    return make_error(ErrorCode::kProtocolError, "websocket frame masking is wrong for the role");
  }
  uint64_t len = b1 & 0x7Fu;
  size_t header = 2;
  if (len == 126) {
    if (avail < 4)
      return std::optional<Frame>();
    len = (uint64_t{p[2]} << 8) | p[3];
    if (len < 126)
      return make_error(ErrorCode::kProtocolError, "non-minimal frame length");
    header = 4;
  } else if (len == 127) {
    if (avail < 10)
      return std::optional<Frame>();
    len = 0;
    for (size_t i = 0; i < 8; ++i) {
      len = (len << 8) | p[2 + i];
    }
    if (len <= 0xFFFF || (len >> 63) != 0) {
      return make_error(ErrorCode::kProtocolError, "invalid 64-bit frame length");
    }
    header = 10;
  }
  const auto opcode = static_cast<Opcode>(op);
  if (is_control(opcode) && (len > 125 || !fin)) {
    return make_error(ErrorCode::kProtocolError, "control frame too long or fragmented");
  }
  if (len > max_payload_) {
    return make_error(ErrorCode::kProtocolError, "websocket frame of {} bytes exceeds limit {}",
                      len, max_payload_);
  }
  const size_t mask_len = masked ? 4 : 0;
  const size_t total = header + mask_len + static_cast<size_t>(len);
  if (avail < total)
    return std::optional<Frame>();
  Frame f;
  f.fin = fin;
  f.opcode = opcode;
  f.payload.assign(buf_, pos_ + header + mask_len, static_cast<size_t>(len));
  if (masked) {
    const uint8_t* key = p + header;
    for (size_t i = 0; i < f.payload.size(); ++i) {
      f.payload[i] = static_cast<char>(static_cast<uint8_t>(f.payload[i]) ^ key[i % 4]);
    }
  }
  pos_ += total;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return std::optional<Frame>(std::move(f));
}

}  // namespace lobster::guest::ws
