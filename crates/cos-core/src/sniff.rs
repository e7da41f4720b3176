//! A label for what a stored file is, from its first bytes: shown to the
//! user in the popup, never used for any decision.

/// How many leading bytes `kind_of` looks at.
pub const SNIFF_BYTES: usize = 16;

pub fn kind_of(prefix: &[u8]) -> &'static str {
    match prefix {
        [0x00, b'a', b's', b'm', ..] => "wasm",
        [b'G', b'G', b'U', b'F', ..] => "gguf",
        [b'P', b'K', 3, 4, ..] => "zip",
        [0x1f, 0x8b, ..] => "gzip",
        [b'{', ..] | [b'[', ..] => "json",
        // safetensors: little-endian u64 header length, then the JSON header.
        [_, _, _, _, _, _, 0, 0, b'{', ..] => "safetensors",
        // ONNX ModelProto starts with field 1 (ir_version, varint).
        [0x08, v, ..] if *v < 0x20 => "onnx",
        p if !p.is_empty() && p.iter().all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace()) => "text",
        _ => "binary",
    }
}

#[cfg(test)]
mod tests {
    use super::kind_of;

    #[test]
    fn labels() {
        assert_eq!(kind_of(b"\0asm\x01\0\0\0"), "wasm");
        assert_eq!(kind_of(b"{\"a\":1}"), "json");
        assert_eq!(kind_of(&[0x08, 0x08, 0x12, 0x07]), "onnx");
        assert_eq!(kind_of(&[0x40, 0x02, 0, 0, 0, 0, 0, 0, b'{', b'"']), "safetensors");
        assert_eq!(kind_of(b"hello world"), "text");
        assert_eq!(kind_of(&[0xff, 0xfe, 0x00]), "binary");
        assert_eq!(kind_of(&[]), "binary");
    }
}
