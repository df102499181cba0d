//! Finds a secret in captured text in any of the encodings a logger or a dependency's
//! debug output is likely to use: plain (any case, reversed, wrapped, or a recognisable
//! fragment), hexadecimal (contiguous in either case, with separators, `0x`/`\x`/`%`
//! prefixes, or a hexdump whose columns split the bytes across lines), decimal byte lists
//! (`[118, 97, ...]`, as `Debug` of a `&[u8]` prints), base64 (standard or URL-safe, at any
//! byte alignment, wrapped or not) and percent-encoding.
//!
//! This file depends on `std` only, so test crates outside varg-faults can include it with
//! `#[path]` (the CLI's trace-hygiene test does).

use std::fmt;

/// How a secret was found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// The secret's bytes as they are, ignoring ASCII case.
    Plain,
    /// The secret once all whitespace is removed from the text (wrapped lines).
    Wrapped,
    /// The secret's bytes in reverse order.
    Reversed,
    /// A piece of the secret ([`FRAGMENT`] bytes, or the whole secret when shorter).
    Fragment,
    /// Hexadecimal digits in either case, contiguous or with separators or prefixes.
    Hex,
    /// The hexadecimal columns of a hexdump, joined across its lines.
    HexDump,
    /// A list of decimal byte values.
    DecimalBytes,
    /// Base64 (standard or URL-safe alphabet, any alignment).
    Base64,
    /// The secret once the text is percent-decoded.
    PercentEncoded,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Encoding::Plain => "plain text",
            Encoding::Wrapped => "plain text wrapped across lines",
            Encoding::Reversed => "reversed bytes",
            Encoding::Fragment => "a fragment of the secret",
            Encoding::Hex => "hexadecimal",
            Encoding::HexDump => "hexdump columns across lines",
            Encoding::DecimalBytes => "decimal byte values",
            Encoding::Base64 => "base64",
            Encoding::PercentEncoded => "percent-encoding",
        };
        f.write_str(name)
    }
}

/// The length of a piece of a secret that counts as a leak on its own. A hexdump's text
/// column shows 16 bytes a line, so a secret split across its lines leaves a piece at least
/// this long on one of them (for secrets of 16 bytes or more).
pub const FRAGMENT: usize = 8;

/// The first encoding in which `secret` occurs in `text`, if any. An empty secret is never
/// found.
pub fn find_secret(text: &str, secret: &str) -> Option<Encoding> {
    let secret = secret.as_bytes();
    if secret.is_empty() {
        return None;
    }
    let folded = text.to_ascii_lowercase();
    let folded = folded.as_bytes();
    let lower_secret = secret.to_ascii_lowercase();
    if contains(folded, &lower_secret) {
        return Some(Encoding::Plain);
    }
    let unwrapped: Vec<u8> = folded
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if contains(&unwrapped, &lower_secret) {
        return Some(Encoding::Wrapped);
    }
    let reversed: Vec<u8> = lower_secret.iter().rev().copied().collect();
    if contains(folded, &reversed) {
        return Some(Encoding::Reversed);
    }
    let piece = FRAGMENT.min(lower_secret.len());
    if lower_secret
        .windows(piece)
        .any(|window| contains(folded, window))
    {
        return Some(Encoding::Fragment);
    }
    let hex = to_hex(secret);
    if contains(&hex_digits(text), hex.as_bytes()) {
        return Some(Encoding::Hex);
    }
    if dump_columns(text)
        .iter()
        .any(|joined| contains(joined.as_bytes(), hex.as_bytes()))
    {
        return Some(Encoding::HexDump);
    }
    if contains(&decimal_bytes(text), secret) {
        return Some(Encoding::DecimalBytes);
    }
    let raw: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if base64_cores(secret)
        .iter()
        .any(|core| !core.is_empty() && contains(&raw, core.as_bytes()))
    {
        return Some(Encoding::Base64);
    }
    if contains(&percent_decode(text.as_bytes()), secret) {
        return Some(Encoding::PercentEncoded);
    }
    None
}

/// Panics, naming `what` and the encoding, if any of `secrets` occurs in `text`. The
/// message shows the lines around the first occurrence it can place (test output only).
pub fn assert_no_secret(what: &str, text: &str, secrets: &[&str]) {
    for (index, secret) in secrets.iter().enumerate() {
        if let Some(encoding) = find_secret(text, secret) {
            panic!(
                "{what} contains secret #{index} as {encoding} ({} bytes of text):\n{}",
                text.len(),
                excerpt(text, secret)
            );
        }
    }
}

/// The lines of `text` that hold a piece of `secret` in plain text or hex, or the start of
/// the text when none does.
fn excerpt(text: &str, secret: &str) -> String {
    let piece = &secret.as_bytes()[..FRAGMENT.min(secret.len())];
    let hex_piece = to_hex(&piece[..piece.len().min(2)]);
    let plain_piece = String::from_utf8_lossy(piece).to_ascii_lowercase();
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| {
            let lower = line.to_ascii_lowercase();
            lower.contains(&plain_piece) || hex_digits(line) == hex_piece.as_bytes()
        })
        .take(20)
        .collect();
    if lines.is_empty() {
        text.chars().take(4000).collect()
    } else {
        lines.join("\n")
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((first, rest)) = needle.split_first() else {
        return false;
    };
    // Compare only where the first byte matches: logs of a few megabytes stay fast in
    // unoptimised test builds.
    haystack
        .iter()
        .enumerate()
        .filter(|(_, b)| *b == first)
        .any(|(i, _)| haystack.get(i + 1..i + needle.len()) == Some(rest))
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Every hex digit of `text`, lower-cased, once `0x` and `\x` prefixes are removed (so
/// `0x76, 0x61`, `\x76\x61`, `76:61`, `76 61` and `%76%61` all become `7661`).
fn hex_digits(text: &str) -> Vec<u8> {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let prefixed = (bytes[i] == b'0' || bytes[i] == b'\\')
            && bytes.get(i + 1) == Some(&b'x')
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if prefixed {
            i += 2;
            continue;
        }
        if bytes[i].is_ascii_hexdigit() {
            out.push(bytes[i]);
        }
        i += 1;
    }
    out
}

/// A hexdump's byte columns joined across lines. On each line, the longest run of
/// whitespace-separated tokens that are groups of 1 to 4 hex byte pairs (`--` pairs, as
/// ureq pads its last row, are dropped) is that line's hex column; the timestamp, level,
/// target and text column around it are not. Two joins are returned: one as is, one with
/// the first token of each column dropped where it looks like an offset (6 or more
/// digits, as `hexdump -C` starts its rows).
fn dump_columns(text: &str) -> [String; 2] {
    let mut joined = String::new();
    let mut without_offsets = String::new();
    for line in text.lines() {
        let mut best: Vec<&str> = Vec::new();
        let mut run: Vec<&str> = Vec::new();
        for token in line.split_whitespace() {
            if is_hex_group(token) {
                run.push(token);
                if run.len() > best.len() {
                    best = run.clone();
                }
            } else {
                run.clear();
            }
        }
        for (position, token) in best.iter().enumerate() {
            let digits: String = token
                .chars()
                .filter(char::is_ascii_hexdigit)
                .map(|c| c.to_ascii_lowercase())
                .collect();
            if !(position == 0 && best.len() > 1 && token.len() >= 6) {
                without_offsets.push_str(&digits);
            }
            joined.push_str(&digits);
        }
    }
    [joined, without_offsets]
}

fn is_hex_group(token: &str) -> bool {
    let bytes = token.as_bytes();
    if bytes.is_empty() || bytes.len() > 8 || !bytes.len().is_multiple_of(2) {
        return false;
    }
    let mut digits = 0;
    for pair in bytes.chunks(2) {
        match pair {
            [b'-', b'-'] => {}
            [a, b] if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => digits += 1,
            _ => return false,
        }
    }
    digits > 0
}

/// Every run of decimal digits in `text` whose value fits a byte, in order.
fn decimal_bytes(text: &str) -> Vec<u8> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|run| !run.is_empty() && run.len() <= 3)
        .filter_map(|run| run.parse::<u8>().ok())
        .collect()
}

/// The base64 characters that depend on `secret` alone, for each of the three alignments it
/// can have inside a longer encoded value, in both alphabets.
fn base64_cores(secret: &[u8]) -> Vec<String> {
    const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut cores = Vec::new();
    for offset in 0..3usize {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(secret);
        // Character i covers bits 6i..6i+6; keep those inside the secret's bits.
        let first_bit = offset * 8;
        let last_bit = first_bit + secret.len() * 8;
        let bits = |i: usize| -> u8 {
            let mut value = 0u8;
            for bit in 6 * i..6 * i + 6 {
                let byte = bytes.get(bit / 8).copied().unwrap_or(0);
                value = (value << 1) | ((byte >> (7 - bit % 8)) & 1);
            }
            value
        };
        for alphabet in [STANDARD, URL_SAFE] {
            let core: String = (0..)
                .take_while(|i| 6 * i + 6 <= last_bit)
                .filter(|i| 6 * i >= first_bit)
                .map(|i| char::from(alphabet[usize::from(bits(i))]))
                .collect();
            cores.push(core);
        }
    }
    cores
}

/// `text` with every `%XX` escape decoded (invalid escapes are kept as they are).
fn percent_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                text.get(i + 1).and_then(|c| char::from(*c).to_digit(16)),
                text.get(i + 2).and_then(|c| char::from(*c).to_digit(16)),
            )
        {
            // Two hex digits are at most 255.
            out.push(u8::try_from(hi * 16 + lo).unwrap_or(0));
            i += 3;
            continue;
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "varg_live_Q7rT2mXe9LpW4sKd8vBn";

    /// A request head dumped as ureq-proto does at TRACE (16 bytes a row, hex in groups of
    /// two bytes padded with `--`, then a text column padded with `.`), each row behind a
    /// tracing-subscriber fmt prefix.
    fn ureq_style_dump(data: &[u8]) -> String {
        let mut out = String::new();
        for row in data.chunks(16) {
            out.push_str("2026-12-02T18:23:49.123456Z TRACE ureq_proto::util: ");
            for i in 0..16 {
                match row.get(i) {
                    Some(b) => out.push_str(&to_hex(&[*b])),
                    None => out.push_str("--"),
                }
                if i % 2 == 1 {
                    out.push(' ');
                }
            }
            out.push(' ');
            for i in 0..16 {
                match row.get(i) {
                    Some(b) if b.is_ascii_alphanumeric() || b.is_ascii_punctuation() => {
                        out.push(char::from(*b))
                    }
                    _ => out.push('.'),
                }
            }
            out.push('\n');
        }
        out
    }

    fn head(key: &str) -> String {
        format!(
            "GET /v1/balance HTTP/1.1\r\nhost: 127.0.0.1:4000\r\n\
             authorization: Bearer {key}\r\naccept: application/json\r\n\r\n"
        )
    }

    /// The text column of a dump shows the key in pieces; to prove the hex columns are
    /// searched on their own, the same dump without that column.
    fn hex_only(dump: &str) -> String {
        dump.lines()
            .map(|line| line.rsplit_once(' ').map_or(line, |(hex, _)| hex))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn finds_the_key_in_a_ureq_style_hexdump() {
        let dump = ureq_style_dump(head(KEY).as_bytes());
        assert!(find_secret(&dump, KEY).is_some(), "{dump}");
        // The key is split across rows: no single line holds its hex.
        let hex = to_hex(KEY.as_bytes());
        assert!(
            dump.lines()
                .all(|l| !hex_digits(l).ends_with(hex.as_bytes()))
        );
        assert_eq!(find_secret(&hex_only(&dump), KEY), Some(Encoding::HexDump));
    }

    #[test]
    fn finds_the_key_at_every_offset_of_a_hexdump() {
        for pad in 0..16 {
            let data = format!("{}Bearer {KEY}\r\n", "x".repeat(pad));
            let dump = hex_only(&ureq_style_dump(data.as_bytes()));
            assert_eq!(find_secret(&dump, KEY), Some(Encoding::HexDump), "{dump}");
        }
    }

    #[test]
    fn finds_the_key_in_hexdump_c_and_xxd_layouts() {
        let data = head(KEY).into_bytes();
        let mut hexdump_c = String::new();
        let mut xxd = String::new();
        for (n, row) in data.chunks(16).enumerate() {
            let pairs: Vec<String> = row.iter().map(|b| to_hex(&[*b])).collect();
            hexdump_c.push_str(&format!("{:08x}  {}  |....|\n", n * 16, pairs.join(" ")));
            let quads: Vec<String> = row.chunks(2).map(to_hex).collect();
            xxd.push_str(&format!("{:08x}: {}  ....\n", n * 16, quads.join(" ")));
        }
        assert_eq!(find_secret(&hexdump_c, KEY), Some(Encoding::HexDump));
        assert_eq!(find_secret(&xxd, KEY), Some(Encoding::HexDump));
    }

    #[test]
    fn finds_contiguous_and_separated_hex() {
        let hex = to_hex(KEY.as_bytes());
        let pairs: Vec<String> = KEY.bytes().map(|b| to_hex(&[b])).collect();
        for text in [
            format!("data={hex}"),
            format!("data={}", hex.to_ascii_uppercase()),
            pairs.join(" "),
            pairs.join(":"),
            pairs.join("-"),
            pairs
                .iter()
                .map(|p| format!("0x{p}"))
                .collect::<Vec<_>>()
                .join(", "),
            pairs.iter().map(|p| format!("\\x{p}")).collect(),
            pairs
                .iter()
                .map(|p| format!("%{}", p.to_uppercase()))
                .collect(),
        ] {
            let found = find_secret(&text, KEY);
            assert!(
                matches!(found, Some(Encoding::Hex | Encoding::PercentEncoded)),
                "{text}: {found:?}"
            );
        }
    }

    #[test]
    fn finds_plain_wrapped_reversed_and_fragments() {
        assert_eq!(find_secret(&format!("k={KEY}"), KEY), Some(Encoding::Plain));
        assert_eq!(
            find_secret(&KEY.to_ascii_uppercase(), KEY),
            Some(Encoding::Plain)
        );
        let (a, b) = KEY.split_at(3);
        assert_eq!(
            find_secret(&format!("{a}\n  {b}"), KEY),
            Some(Encoding::Wrapped)
        );
        let reversed: String = KEY.chars().rev().collect();
        assert_eq!(find_secret(&reversed, KEY), Some(Encoding::Reversed));
        assert_eq!(
            find_secret("header: ...Q7rT2mXe9L...", KEY),
            Some(Encoding::Fragment)
        );
    }

    #[test]
    fn finds_decimal_bytes_base64_and_percent_encoding() {
        let decimal = format!("{:?}", KEY.as_bytes());
        assert_eq!(find_secret(&decimal, KEY), Some(Encoding::DecimalBytes));
        for prefix in ["", "u", "us", "user:"] {
            let encoded = base64(format!("{prefix}{KEY}").as_bytes());
            assert_eq!(
                find_secret(&format!("Basic {encoded}"), KEY),
                Some(Encoding::Base64),
                "{prefix}"
            );
            let url_safe = encoded.replace('+', "-").replace('/', "_");
            assert_eq!(
                find_secret(&url_safe, KEY),
                Some(Encoding::Base64),
                "{prefix}"
            );
        }
        let wrapped: Vec<String> = base64(KEY.as_bytes())
            .as_bytes()
            .chunks(10)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        assert_eq!(
            find_secret(&wrapped.join("\n"), KEY),
            Some(Encoding::Base64)
        );
        // Every other character escaped: no plain fragment is left.
        let mixed: String = KEY
            .bytes()
            .enumerate()
            .map(|(i, b)| {
                if i % 2 == 0 {
                    format!("%{}", to_hex(&[b]).to_uppercase())
                } else {
                    char::from(b).to_string()
                }
            })
            .collect();
        assert_eq!(find_secret(&mixed, KEY), Some(Encoding::PercentEncoded));
    }

    #[test]
    fn clean_text_has_no_key() {
        let other = "other_key_ZZZZZZZZZZZZZZZZZZZZ";
        let dump = ureq_style_dump(head(other).as_bytes());
        let text = format!(
            "{dump}\n2026-12-02T18:23:49Z TRACE h2::codec::framed_write: send frame=Headers \
             {{ stream_id: StreamId(1), flags: (0x5: END_HEADERS | END_STREAM) }}\n\
             DEBUG ureq::run: GET http://127.0.0.1:4000/v1/balance \
             {{\"<NOTICE>\": \"1 HEADERS ARE REDACTED\"}}\n{:?}\n{}\n{}",
            other.as_bytes(),
            base64(other.as_bytes()),
            to_hex(other.as_bytes())
        );
        assert_eq!(find_secret(&text, KEY), None, "{text}");
        assert_eq!(find_secret("", KEY), None);
        assert_eq!(find_secret(&text, ""), None);
        assert_no_secret("clean text", &text, &[KEY]);
    }

    #[test]
    #[should_panic(expected = "contains secret #1 as hexdump")]
    fn assert_no_secret_names_the_encoding() {
        let dump = hex_only(&ureq_style_dump(head(KEY).as_bytes()));
        assert_no_secret("a dump", &dump, &["unrelated-secret-value", KEY]);
    }

    /// A plain base64 encoder (standard alphabet, padded) for the tests.
    fn base64(data: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}
