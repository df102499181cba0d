//! Placeholder media generated in code, a media-type sniffer and a small prober.
//!
//! Everything the emulator serves is produced here: PNG images of a given size and colour,
//! WAV audio of a given duration, small but structurally valid MP4 files, JSON documents for
//! transcriptions, and streamed bodies of any length for download benchmarks. The prober reads
//! back the metadata of exactly these formats (PNG `IHDR`, WAV `fmt `/`data`, MP4
//! `mvhd`/`tkhd`/`stsd`), and reports a [`ProbeError`] for anything else.

use std::fmt;
use std::io::Write;

use bytes::Bytes;
use futures_util::Stream;

/// A media type recognised by [`sniff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// PNG image.
    Png,
    /// JPEG image.
    Jpeg,
    /// GIF image.
    Gif,
    /// WebP image.
    Webp,
    /// WAV (RIFF/WAVE) audio.
    Wav,
    /// MP3 audio.
    Mp3,
    /// MP4 (ISO base media) video.
    Mp4,
    /// QuickTime video.
    Mov,
    /// WebM (Matroska) video.
    Webm,
    /// A JSON document.
    Json,
    /// UTF-8 text.
    Text,
    /// Anything else.
    OctetStream,
}

impl MediaKind {
    /// The MIME type, e.g. `image/png`.
    pub fn mime(self) -> &'static str {
        match self {
            MediaKind::Png => "image/png",
            MediaKind::Jpeg => "image/jpeg",
            MediaKind::Gif => "image/gif",
            MediaKind::Webp => "image/webp",
            MediaKind::Wav => "audio/wav",
            MediaKind::Mp3 => "audio/mpeg",
            MediaKind::Mp4 => "video/mp4",
            MediaKind::Mov => "video/quicktime",
            MediaKind::Webm => "video/webm",
            MediaKind::Json => "application/json",
            MediaKind::Text => "text/plain; charset=utf-8",
            MediaKind::OctetStream => "application/octet-stream",
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            MediaKind::Png => "png",
            MediaKind::Jpeg => "jpg",
            MediaKind::Gif => "gif",
            MediaKind::Webp => "webp",
            MediaKind::Wav => "wav",
            MediaKind::Mp3 => "mp3",
            MediaKind::Mp4 => "mp4",
            MediaKind::Mov => "mov",
            MediaKind::Webm => "webm",
            MediaKind::Json => "json",
            MediaKind::Text => "txt",
            MediaKind::OctetStream => "bin",
        }
    }

    /// The kind for a file extension (case-insensitive, without the dot), if known.
    pub fn from_extension(ext: &str) -> Option<MediaKind> {
        Some(match ext.to_ascii_lowercase().as_str() {
            "png" => MediaKind::Png,
            "jpg" | "jpeg" => MediaKind::Jpeg,
            "gif" => MediaKind::Gif,
            "webp" => MediaKind::Webp,
            "wav" => MediaKind::Wav,
            "mp3" => MediaKind::Mp3,
            "mp4" | "m4v" => MediaKind::Mp4,
            "mov" => MediaKind::Mov,
            "webm" => MediaKind::Webm,
            "json" => MediaKind::Json,
            "txt" | "srt" | "vtt" => MediaKind::Text,
            "bin" => MediaKind::OctetStream,
            _ => return None,
        })
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mime())
    }
}

/// Guesses the media type of `bytes` from their first bytes (magic numbers).
///
/// ```
/// use varg_emulator::media::{png, sniff, MediaKind};
/// assert_eq!(sniff(&png(4, 3, [1, 2, 3])), MediaKind::Png);
/// assert_eq!(sniff(b"{\"a\":1}"), MediaKind::Json);
/// assert_eq!(sniff(&[0u8, 1, 2, 3]), MediaKind::OctetStream);
/// ```
pub fn sniff(bytes: &[u8]) -> MediaKind {
    let b = bytes;
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return MediaKind::Png;
    }
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return MediaKind::Jpeg;
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return MediaKind::Gif;
    }
    if b.len() >= 12 && &b[0..4] == b"RIFF" {
        match &b[8..12] {
            b"WEBP" => return MediaKind::Webp,
            b"WAVE" => return MediaKind::Wav,
            _ => {}
        }
    }
    if b.starts_with(b"ID3") || (b.len() >= 2 && b[0] == 0xFF && (b[1] & 0xE0) == 0xE0) {
        return MediaKind::Mp3;
    }
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        return if &b[8..12] == b"qt  " {
            MediaKind::Mov
        } else {
            MediaKind::Mp4
        };
    }
    if b.len() >= 8 && (&b[4..8] == b"moov" || &b[4..8] == b"mdat" || &b[4..8] == b"wide") {
        return MediaKind::Mov;
    }
    if b.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return MediaKind::Webm;
    }
    if let Ok(text) = std::str::from_utf8(b) {
        let trimmed = text.trim_start();
        if (trimmed.starts_with('{') || trimmed.starts_with('['))
            && serde_json::from_slice::<serde_json::Value>(b).is_ok()
        {
            return MediaKind::Json;
        }
        if !b.is_empty()
            && text
                .chars()
                .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        {
            return MediaKind::Text;
        }
    }
    MediaKind::OctetStream
}

/// Width and height for an aspect ratio `W:H`, with the long side `long_side` pixels.
///
/// Returns `None` when the ratio is not two positive integers separated by `:`.
///
/// ```
/// use varg_emulator::media::dimensions_for_aspect;
/// assert_eq!(dimensions_for_aspect("16:9", 1024), Some((1024, 576)));
/// assert_eq!(dimensions_for_aspect("9:16", 1024), Some((576, 1024)));
/// assert_eq!(dimensions_for_aspect("1:1", 512), Some((512, 512)));
/// assert_eq!(dimensions_for_aspect("wide", 512), None);
/// ```
pub fn dimensions_for_aspect(ratio: &str, long_side: u32) -> Option<(u32, u32)> {
    let (w, h) = ratio.trim().split_once(':')?;
    let w: u32 = w.trim().parse().ok()?;
    let h: u32 = h.trim().parse().ok()?;
    if w == 0 || h == 0 || w > 10_000 || h > 10_000 {
        return None;
    }
    let long = long_side.max(1) as u64;
    let (w64, h64) = (w as u64, h as u64);
    Some(if w >= h {
        (long as u32, ((long * h64 + w64 / 2) / w64).max(1) as u32)
    } else {
        (((long * w64 + h64 / 2) / h64).max(1) as u32, long as u32)
    })
}

/// An RGB colour derived from the SHA-256 of `text` (so equal prompts give equal colours).
pub fn colour_for(text: &str) -> [u8; 3] {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    [digest[0], digest[1], digest[2]]
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(kind);
    hasher.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&hasher.finalize().to_be_bytes());
}

/// A valid PNG (8-bit RGB) of `width` x `height` pixels: a vertical gradient from `colour`
/// at the top to a darker shade at the bottom.
///
/// Width and height are clamped to 1..=8192.
pub fn png(width: u32, height: u32, colour: [u8; 3]) -> Vec<u8> {
    png_labelled(width, height, colour, &[])
}

/// Like [`png`], with `lines` of text drawn in the top-left corner in a small built-in
/// bitmap font (printable ASCII; anything else is drawn as `?`), white on a dark panel.
/// Lines that do not fit are cut.
///
/// ```
/// use varg_emulator::media::{png, png_labelled, probe};
/// let labelled = png_labelled(320, 180, [9, 9, 9], &["a cat".to_owned()]);
/// assert_eq!(probe(&labelled).unwrap().width, Some(320));
/// assert_ne!(labelled, png(320, 180, [9, 9, 9]));
/// ```
pub fn png_labelled(width: u32, height: u32, colour: [u8; 3], lines: &[String]) -> Vec<u8> {
    let width = width.clamp(1, 8192);
    let height = height.clamp(1, 8192);
    let mut out = Vec::new();
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);

    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut row = vec![0u8; 1 + width as usize * 3];
    let label = crate::font::Label::new(lines, width, height);
    // Rows below the label need no per-pixel look-up.
    let label_bottom = 24 + lines.len() as u32 * (crate::font::GLYPH_H + 2) * 4;
    for y in 0..height {
        // Filter type 0, then a colour that darkens towards the bottom.
        let shade = 255 - (y as u64 * 128 / height as u64) as u8;
        row[0] = 0;
        let pixel = colour.map(|c| (c as u16 * shade as u16 / 255) as u8);
        for x in 0..width as usize {
            row[1 + x * 3..4 + x * 3].copy_from_slice(&pixel);
        }
        if y < label_bottom {
            for x in 0..width {
                let painted = match label.pixel(x, y) {
                    Some(true) => [255, 255, 255],
                    Some(false) => pixel.map(|c| c / 4),
                    None => continue,
                };
                let at = 1 + x as usize * 3;
                row[at..at + 3].copy_from_slice(&painted);
            }
        }
        // Writing into a Vec cannot fail.
        let _ = encoder.write_all(&row);
    }
    let idat = encoder.finish().unwrap_or_default();
    png_chunk(&mut out, b"IDAT", &idat);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// Sample rate of the WAV files made by [`wav`].
pub const WAV_SAMPLE_RATE: u32 = 16_000;

/// A WAV file (PCM, 16-bit, mono, 16 kHz) of `duration_secs` seconds holding a quiet tone.
///
/// The duration is clamped to 0..=600 seconds.
pub fn wav(duration_secs: f64) -> Vec<u8> {
    let secs = if duration_secs.is_finite() {
        duration_secs.clamp(0.0, 600.0)
    } else {
        0.0
    };
    let samples = (secs * WAV_SAMPLE_RATE as f64).round() as u32;
    let data_len = samples * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&WAV_SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(WAV_SAMPLE_RATE * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    // A 440 Hz triangle-ish tone at low amplitude, computed with integers.
    let period = WAV_SAMPLE_RATE / 440;
    for i in 0..samples {
        let phase = (i % period) as i32;
        let half = period as i32 / 2;
        let tri = if phase < half {
            phase
        } else {
            period as i32 - phase
        };
        let sample = ((tri * 2 - half) * 1000 / half.max(1)) as i16;
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

/// Sample rate of the MP3 files made by [`mp3`].
pub const MP3_SAMPLE_RATE: u32 = 44_100;

/// Samples per MPEG-1 Layer III frame.
const MP3_FRAME_SAMPLES: u32 = 1152;

/// Bit rates (kb/s) of MPEG-1 Layer III by header index (0 = free, 15 = invalid).
const MP3_BITRATES: [u32; 16] = [
    0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0,
];

/// An MP3 file of at least `duration_secs` seconds: silent MPEG-1 Layer III frames at
/// 128 kb/s, 44.1 kHz, mono (a valid header, zeroed side information and main data), as
/// many as the duration needs. The duration is clamped to 0..=600 seconds.
///
/// ```
/// use varg_emulator::media::{MediaKind, mp3, probe};
/// let p = probe(&mp3(2.0)).unwrap();
/// assert_eq!(p.kind, Some(MediaKind::Mp3));
/// assert!((p.duration.unwrap() - 2.0).abs() < 0.03);
/// ```
pub fn mp3(duration_secs: f64) -> Vec<u8> {
    let secs = if duration_secs.is_finite() {
        duration_secs.clamp(0.0, 600.0)
    } else {
        0.0
    };
    let frames = (secs * f64::from(MP3_SAMPLE_RATE) / f64::from(MP3_FRAME_SAMPLES)).ceil() as usize;
    // Sync, MPEG-1, Layer III, no CRC; 128 kb/s (index 9), 44.1 kHz, no padding; mono.
    let header = [0xFF, 0xFB, 0x90, 0xC0];
    let len = mp3_frame_len(128, MP3_SAMPLE_RATE, false);
    let mut out = Vec::with_capacity(frames * len);
    for _ in 0..frames {
        out.extend_from_slice(&header);
        out.resize(out.len() + len - header.len(), 0);
    }
    out
}

/// Length in bytes of an MPEG-1 Layer III frame: `144 * bitrate / sample_rate + padding`.
fn mp3_frame_len(kbps: u32, rate: u32, padding: bool) -> usize {
    (144 * kbps * 1000 / rate.max(1)) as usize + usize::from(padding)
}

/// The sample rate, bit rate (kb/s) and length of the MPEG-1 Layer III frame header at
/// `b[at..]`.
fn mp3_frame(b: &[u8], at: usize) -> Option<(u32, u32, usize)> {
    let h = b.get(at..at + 4)?;
    // Sync, MPEG-1 (`11`), Layer III (`01`).
    if h[0] != 0xFF || (h[1] & 0xFE) != 0xFA {
        return None;
    }
    let kbps = MP3_BITRATES[usize::from(h[2] >> 4)];
    let rate = match (h[2] >> 2) & 0b11 {
        0 => 44_100,
        1 => 48_000,
        2 => 32_000,
        _ => return None,
    };
    if kbps == 0 {
        return None;
    }
    Some((rate, kbps, mp3_frame_len(kbps, rate, h[2] & 0b10 != 0)))
}

fn probe_mp3(b: &[u8]) -> Result<Probe, ProbeError> {
    let mut at = 0;
    // An ID3v2 tag: 10-byte header with a 28-bit "syncsafe" size.
    if b.starts_with(b"ID3") && b.len() >= 10 {
        let size = b[6..10]
            .iter()
            .fold(0usize, |acc, &x| (acc << 7) | usize::from(x & 0x7F));
        at = 10 + size;
    }
    let (mut frames, mut rate, mut bits) = (0u64, 0u32, 0u64);
    while let Some((r, kbps, len)) = mp3_frame(b, at) {
        if at + len > b.len() {
            break;
        }
        frames += 1;
        rate = r;
        bits += u64::from(kbps) * 1000;
        at += len;
    }
    if frames == 0 {
        return Err(ProbeError("MP3 without an MPEG-1 Layer III frame".into()));
    }
    let duration = frames as f64 * f64::from(MP3_FRAME_SAMPLES) / f64::from(rate);
    Ok(Probe {
        kind: Some(MediaKind::Mp3),
        duration: Some((duration * 1000.0).round() / 1000.0),
        audio_codec: Some("mp3".into()),
        format: Some("mp3".into()),
        bitrate: Some(bits / frames),
        size_bytes: b.len() as u64,
        ..Probe::default()
    })
}

fn mp4_box(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&(8 + payload.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(payload);
    out
}

fn full_box(kind: &[u8; 4], version_flags: u32, payload: &[u8]) -> Vec<u8> {
    let mut data = version_flags.to_be_bytes().to_vec();
    data.extend_from_slice(payload);
    mp4_box(kind, &data)
}

const MP4_TIMESCALE: u32 = 1000;
const IDENTITY_MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// A small, structurally valid MP4 (`ftyp`, `moov` with `mvhd`/`tkhd`/`mdia`, `mdat`) that
/// declares one `avc1` video track of `width` x `height` and `duration_secs` seconds at 30 fps.
///
/// The sample data is placeholder bytes, so players will not decode pictures, but box
/// parsers (and [`probe`]) read the true dimensions and duration.
pub fn mp4(width: u32, height: u32, duration_secs: f64) -> Vec<u8> {
    let width = width.clamp(1, 16_384);
    let height = height.clamp(1, 16_384);
    let secs = if duration_secs.is_finite() {
        duration_secs.clamp(0.0, 86_400.0)
    } else {
        0.0
    };
    let duration = (secs * MP4_TIMESCALE as f64).round() as u32;
    let sample_count: u32 = 1;
    let sample_payload: &[u8] = &[0, 0, 0, 2, 0x09, 0xF0]; // a tiny access-unit delimiter NAL

    let ftyp = {
        let mut p = Vec::new();
        p.extend_from_slice(b"isom");
        p.extend_from_slice(&0x200u32.to_be_bytes());
        for brand in [b"isom", b"iso2", b"avc1", b"mp41"] {
            p.extend_from_slice(brand);
        }
        mp4_box(b"ftyp", &p)
    };

    let mvhd = {
        let mut p = Vec::new();
        p.extend_from_slice(&0u32.to_be_bytes()); // creation
        p.extend_from_slice(&0u32.to_be_bytes()); // modification
        p.extend_from_slice(&MP4_TIMESCALE.to_be_bytes());
        p.extend_from_slice(&duration.to_be_bytes());
        p.extend_from_slice(&0x0001_0000u32.to_be_bytes()); // rate 1.0
        p.extend_from_slice(&0x0100u16.to_be_bytes()); // volume 1.0
        p.extend_from_slice(&[0u8; 10]);
        for m in IDENTITY_MATRIX {
            p.extend_from_slice(&m.to_be_bytes());
        }
        p.extend_from_slice(&[0u8; 24]);
        p.extend_from_slice(&2u32.to_be_bytes()); // next track id
        full_box(b"mvhd", 0, &p)
    };

    let tkhd = {
        let mut p = Vec::new();
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&1u32.to_be_bytes()); // track id
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&duration.to_be_bytes());
        p.extend_from_slice(&[0u8; 8]);
        p.extend_from_slice(&0u16.to_be_bytes()); // layer
        p.extend_from_slice(&0u16.to_be_bytes()); // alternate group
        p.extend_from_slice(&0u16.to_be_bytes()); // volume
        p.extend_from_slice(&0u16.to_be_bytes());
        for m in IDENTITY_MATRIX {
            p.extend_from_slice(&m.to_be_bytes());
        }
        p.extend_from_slice(&(width << 16).to_be_bytes());
        p.extend_from_slice(&(height << 16).to_be_bytes());
        full_box(b"tkhd", 0x0000_0003, &p)
    };

    let mdhd = {
        let mut p = Vec::new();
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&MP4_TIMESCALE.to_be_bytes());
        p.extend_from_slice(&duration.to_be_bytes());
        p.extend_from_slice(&0x55C4u16.to_be_bytes()); // language "und"
        p.extend_from_slice(&0u16.to_be_bytes());
        full_box(b"mdhd", 0, &p)
    };

    let hdlr = {
        let mut p = Vec::new();
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(b"vide");
        p.extend_from_slice(&[0u8; 12]);
        p.extend_from_slice(b"VideoHandler\0");
        full_box(b"hdlr", 0, &p)
    };

    let vmhd = full_box(b"vmhd", 1, &[0u8; 8]);
    let dinf = {
        let url = full_box(b"url ", 1, &[]);
        let mut p = 1u32.to_be_bytes().to_vec();
        p.extend_from_slice(&url);
        mp4_box(b"dinf", &full_box(b"dref", 0, &p))
    };

    let stsd = {
        let mut entry = Vec::new();
        entry.extend_from_slice(&[0u8; 6]);
        entry.extend_from_slice(&1u16.to_be_bytes()); // data reference index
        entry.extend_from_slice(&[0u8; 16]);
        entry.extend_from_slice(&(width as u16).to_be_bytes());
        entry.extend_from_slice(&(height as u16).to_be_bytes());
        entry.extend_from_slice(&0x0048_0000u32.to_be_bytes());
        entry.extend_from_slice(&0x0048_0000u32.to_be_bytes());
        entry.extend_from_slice(&0u32.to_be_bytes());
        entry.extend_from_slice(&1u16.to_be_bytes()); // frame count
        entry.extend_from_slice(&[0u8; 32]); // compressor name
        entry.extend_from_slice(&0x0018u16.to_be_bytes()); // depth
        entry.extend_from_slice(&0xFFFFu16.to_be_bytes()); // pre-defined -1
        // avcC: baseline profile, level 3.0, no parameter sets.
        entry.extend_from_slice(&mp4_box(b"avcC", &[1, 66, 0, 30, 0xFF, 0xE0, 0]));
        let avc1 = mp4_box(b"avc1", &entry);
        let mut p = 1u32.to_be_bytes().to_vec();
        p.extend_from_slice(&avc1);
        full_box(b"stsd", 0, &p)
    };
    let stts = {
        let mut p = 1u32.to_be_bytes().to_vec();
        p.extend_from_slice(&sample_count.to_be_bytes());
        p.extend_from_slice(&duration.max(1).to_be_bytes());
        full_box(b"stts", 0, &p)
    };
    let stsc = {
        let mut p = 1u32.to_be_bytes().to_vec();
        p.extend_from_slice(&1u32.to_be_bytes());
        p.extend_from_slice(&sample_count.to_be_bytes());
        p.extend_from_slice(&1u32.to_be_bytes());
        full_box(b"stsc", 0, &p)
    };
    let stsz = {
        let mut p = 0u32.to_be_bytes().to_vec();
        p.extend_from_slice(&sample_count.to_be_bytes());
        p.extend_from_slice(&(sample_payload.len() as u32).to_be_bytes());
        full_box(b"stsz", 0, &p)
    };

    // stco needs the absolute offset of mdat's payload, which depends on the moov size; build
    // everything with a placeholder offset first, then patch it.
    let build = |chunk_offset: u32| {
        let mut p = 1u32.to_be_bytes().to_vec();
        p.extend_from_slice(&chunk_offset.to_be_bytes());
        let stco = full_box(b"stco", 0, &p);
        let stbl = mp4_box(
            b"stbl",
            &[stsd.clone(), stts.clone(), stsc.clone(), stsz.clone(), stco].concat(),
        );
        let minf = mp4_box(b"minf", &[vmhd.clone(), dinf.clone(), stbl].concat());
        let mdia = mp4_box(b"mdia", &[mdhd.clone(), hdlr.clone(), minf].concat());
        let trak = mp4_box(b"trak", &[tkhd.clone(), mdia].concat());
        mp4_box(b"moov", &[mvhd.clone(), trak].concat())
    };
    let moov_len = build(0).len();
    let offset = (ftyp.len() + moov_len + 8) as u32;
    let moov = build(offset);
    let mdat = mp4_box(b"mdat", sample_payload);
    [ftyp, moov, mdat].concat()
}

/// A JSON transcription document for `audio_url` in `language`.
pub fn transcription_json(audio_url: &str, language: Option<&str>) -> Vec<u8> {
    let text = "This is a placeholder transcription produced by the varg emulator.";
    let value = serde_json::json!({
        "text": text,
        "language": language.unwrap_or("en"),
        "source": audio_url,
        "segments": [{"start": 0.0, "end": 3.5, "text": text}],
    });
    serde_json::to_vec_pretty(&value).unwrap_or_default()
}

/// A stream of `len` deterministic bytes in chunks of at most 64 KiB, generated on the fly
/// (constant memory, whatever the length).
pub fn large_body(len: u64) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    const CHUNK: u64 = 64 * 1024;
    let pattern: Bytes = (0..CHUNK)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    futures_util::stream::unfold(0u64, move |sent| {
        let pattern = pattern.clone();
        async move {
            if sent >= len {
                return None;
            }
            let n = (len - sent).min(CHUNK);
            Some((Ok(pattern.slice(0..n as usize)), sent + n))
        }
    })
}

/// Metadata read from a media file by [`probe`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Probe {
    /// The sniffed kind.
    pub kind: Option<MediaKind>,
    /// Duration in seconds (audio and video).
    pub duration: Option<f64>,
    /// Width in pixels (images and video).
    pub width: Option<u32>,
    /// Height in pixels (images and video).
    pub height: Option<u32>,
    /// Video or image codec, e.g. `h264`, `png`.
    pub codec: Option<String>,
    /// Audio codec, e.g. `pcm_s16le`.
    pub audio_codec: Option<String>,
    /// Container format name, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub format: Option<String>,
    /// Average bit rate in bits per second.
    pub bitrate: Option<u64>,
    /// Frames per second (video).
    pub fps: Option<f64>,
    /// Size of the file in bytes.
    pub size_bytes: u64,
}

/// Why [`probe`] could not read a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeError(pub String);

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProbeError {}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

/// Reads the metadata of a PNG, WAV, MP3 or MP4/MOV file.
///
/// ```
/// use varg_emulator::media::{mp4, png, probe};
/// let p = probe(&png(320, 180, [9, 9, 9])).unwrap();
/// assert_eq!((p.width, p.height), (Some(320), Some(180)));
/// let v = probe(&mp4(1280, 720, 5.0)).unwrap();
/// assert_eq!((v.width, v.height, v.duration), (Some(1280), Some(720), Some(5.0)));
/// assert!(probe(b"hello").is_err());
/// ```
pub fn probe(bytes: &[u8]) -> Result<Probe, ProbeError> {
    let kind = sniff(bytes);
    let size = bytes.len() as u64;
    match kind {
        MediaKind::Png => probe_png(bytes),
        MediaKind::Wav => probe_wav(bytes),
        MediaKind::Mp3 => probe_mp3(bytes),
        MediaKind::Mp4 | MediaKind::Mov => probe_mp4(bytes, kind),
        other => Err(ProbeError(format!(
            "cannot read media of type {} ({size} bytes): not a PNG, WAV, MP3 or MP4 file",
            other.mime()
        ))),
    }
}

fn probe_png(b: &[u8]) -> Result<Probe, ProbeError> {
    if b.get(12..16) != Some(b"IHDR") {
        return Err(ProbeError("PNG without an IHDR chunk".into()));
    }
    let width = be32(b, 16).ok_or_else(|| ProbeError("truncated PNG header".into()))?;
    let height = be32(b, 20).ok_or_else(|| ProbeError("truncated PNG header".into()))?;
    Ok(Probe {
        kind: Some(MediaKind::Png),
        width: Some(width),
        height: Some(height),
        codec: Some("png".into()),
        format: Some("png_pipe".into()),
        size_bytes: b.len() as u64,
        ..Probe::default()
    })
}

fn probe_wav(b: &[u8]) -> Result<Probe, ProbeError> {
    let mut at = 12;
    let mut fmt: Option<(u16, u16, u32, u16)> = None;
    let mut data_len: Option<u32> = None;
    while at + 8 <= b.len() {
        let id = &b[at..at + 4];
        let len = le32(b, at + 4).unwrap_or(0);
        let body = at + 8;
        if id == b"fmt " {
            let tag = le16(b, body).ok_or_else(|| ProbeError("truncated WAV fmt".into()))?;
            let channels =
                le16(b, body + 2).ok_or_else(|| ProbeError("truncated WAV fmt".into()))?;
            let rate = le32(b, body + 4).ok_or_else(|| ProbeError("truncated WAV fmt".into()))?;
            let bits = le16(b, body + 14).ok_or_else(|| ProbeError("truncated WAV fmt".into()))?;
            fmt = Some((tag, channels, rate, bits));
        } else if id == b"data" {
            data_len = Some(len.min((b.len() - body) as u32));
            break;
        }
        at = body + len as usize + (len as usize & 1);
    }
    let (tag, channels, rate, bits) =
        fmt.ok_or_else(|| ProbeError("WAV without a fmt chunk".into()))?;
    let data_len = data_len.ok_or_else(|| ProbeError("WAV without a data chunk".into()))?;
    let bytes_per_sec = rate as u64 * channels as u64 * (bits as u64 / 8).max(1);
    let duration = if bytes_per_sec == 0 {
        0.0
    } else {
        data_len as f64 / bytes_per_sec as f64
    };
    let codec = if tag == 1 {
        format!("pcm_s{bits}le")
    } else {
        format!("wav_format_{tag}")
    };
    Ok(Probe {
        kind: Some(MediaKind::Wav),
        duration: Some(duration),
        audio_codec: Some(codec),
        format: Some("wav".into()),
        bitrate: Some(bytes_per_sec * 8),
        size_bytes: b.len() as u64,
        ..Probe::default()
    })
}

/// Iterates over the boxes in `b[start..end]`, yielding (type, payload start, payload end).
fn boxes(b: &[u8], start: usize, end: usize) -> Vec<([u8; 4], usize, usize)> {
    let mut out = Vec::new();
    let mut at = start;
    while at + 8 <= end {
        let Some(size) = be32(b, at) else { break };
        let kind = [b[at + 4], b[at + 5], b[at + 6], b[at + 7]];
        let (header, size) = match size {
            0 => (8usize, end - at),
            1 => match b.get(at + 8..at + 16) {
                Some(s) => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(s);
                    (16, u64::from_be_bytes(a).min((end - at) as u64) as usize)
                }
                None => break,
            },
            n => (8, n as usize),
        };
        if size < header || at + size > end {
            break;
        }
        out.push((kind, at + header, at + size));
        at += size;
    }
    out
}

fn find_box(b: &[u8], start: usize, end: usize, kind: &[u8; 4]) -> Option<(usize, usize)> {
    boxes(b, start, end)
        .into_iter()
        .find(|(k, _, _)| k == kind)
        .map(|(_, s, e)| (s, e))
}

fn probe_mp4(b: &[u8], kind: MediaKind) -> Result<Probe, ProbeError> {
    let (moov_s, moov_e) = find_box(b, 0, b.len(), b"moov")
        .ok_or_else(|| ProbeError("MP4 without a moov box".into()))?;
    let (mvhd_s, _) = find_box(b, moov_s, moov_e, b"mvhd")
        .ok_or_else(|| ProbeError("MP4 without an mvhd box".into()))?;
    let version = b.get(mvhd_s).copied().unwrap_or(0);
    let (timescale, duration) = if version == 1 {
        let ts = be32(b, mvhd_s + 20);
        let hi = be32(b, mvhd_s + 24);
        let lo = be32(b, mvhd_s + 28);
        (ts, hi.zip(lo).map(|(h, l)| ((h as u64) << 32) | l as u64))
    } else {
        (be32(b, mvhd_s + 12), be32(b, mvhd_s + 16).map(u64::from))
    };
    let timescale = timescale.ok_or_else(|| ProbeError("truncated mvhd box".into()))?;
    let duration = duration.ok_or_else(|| ProbeError("truncated mvhd box".into()))?;
    let secs = if timescale == 0 {
        0.0
    } else {
        duration as f64 / timescale as f64
    };
    let mut probe = Probe {
        kind: Some(kind),
        duration: Some(secs),
        format: Some("mov,mp4,m4a,3gp,3g2,mj2".into()),
        size_bytes: b.len() as u64,
        bitrate: if secs > 0.0 {
            Some((b.len() as f64 * 8.0 / secs) as u64)
        } else {
            None
        },
        ..Probe::default()
    };
    for (k, trak_s, trak_e) in boxes(b, moov_s, moov_e) {
        if &k != b"trak" {
            continue;
        }
        let handler = find_box(b, trak_s, trak_e, b"mdia").and_then(|(ms, me)| {
            find_box(b, ms, me, b"hdlr").and_then(|(hs, _)| b.get(hs + 8..hs + 12))
        });
        let codec = find_box(b, trak_s, trak_e, b"mdia")
            .and_then(|(s, e)| find_box(b, s, e, b"minf"))
            .and_then(|(s, e)| find_box(b, s, e, b"stbl"))
            .and_then(|(s, e)| find_box(b, s, e, b"stsd"))
            .and_then(|(s, _)| b.get(s + 12..s + 16))
            .map(|fourcc| match fourcc {
                b"avc1" | b"avc3" => "h264".to_string(),
                b"hvc1" | b"hev1" => "hevc".to_string(),
                b"mp4a" => "aac".to_string(),
                other => String::from_utf8_lossy(other).trim().to_string(),
            });
        match handler {
            Some(b"vide") => {
                if let Some((tk_s, _)) = find_box(b, trak_s, trak_e, b"tkhd") {
                    let v = b.get(tk_s).copied().unwrap_or(0);
                    let at = if v == 1 { tk_s + 88 } else { tk_s + 76 };
                    probe.width = be32(b, at).map(|w| w >> 16);
                    probe.height = be32(b, at + 4).map(|h| h >> 16);
                }
                probe.codec = codec;
                probe.fps = Some(30.0);
            }
            Some(b"soun") => probe.audio_codec = codec,
            _ => {}
        }
    }
    Ok(probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_roundtrip_and_crc() {
        let bytes = png(64, 36, [200, 10, 10]);
        let p = probe(&bytes).unwrap();
        assert_eq!(p.width, Some(64));
        assert_eq!(p.height, Some(36));
        assert_eq!(p.codec.as_deref(), Some("png"));
        // IHDR CRC is over type + data.
        let crc = crc32fast::hash(&bytes[12..29]);
        assert_eq!(be32(&bytes, 29), Some(crc));
        // IDAT decompresses to height * (1 + width * 3) bytes.
        let idat_len = be32(&bytes, 33).unwrap() as usize;
        assert_eq!(&bytes[37..41], b"IDAT");
        let mut d = flate2::read::ZlibDecoder::new(&bytes[41..41 + idat_len]);
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut d, &mut raw).unwrap();
        assert_eq!(raw.len(), 36 * (1 + 64 * 3));
        assert_eq!(&raw[1..4], &[200, 10, 10]);
        assert!(bytes.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]));
    }

    #[test]
    fn wav_duration() {
        let bytes = wav(2.5);
        assert_eq!(sniff(&bytes), MediaKind::Wav);
        let p = probe(&bytes).unwrap();
        assert_eq!(p.duration, Some(2.5));
        assert_eq!(p.audio_codec.as_deref(), Some("pcm_s16le"));
        assert_eq!(bytes.len(), 44 + 2 * 40_000);
    }

    #[test]
    fn mp4_structure() {
        let bytes = mp4(1080, 1920, 12.5);
        assert_eq!(sniff(&bytes), MediaKind::Mp4);
        let p = probe(&bytes).unwrap();
        assert_eq!(p.width, Some(1080));
        assert_eq!(p.height, Some(1920));
        assert_eq!(p.duration, Some(12.5));
        assert_eq!(p.codec.as_deref(), Some("h264"));
        // stco points at the mdat payload.
        let (moov_s, moov_e) = find_box(&bytes, 0, bytes.len(), b"moov").unwrap();
        let stco_pos = bytes.windows(4).position(|w| w == b"stco").unwrap();
        let offset = be32(&bytes, stco_pos + 12).unwrap() as usize;
        let (mdat_s, _) = find_box(&bytes, moov_e, bytes.len(), b"mdat").unwrap();
        assert!(moov_s < moov_e);
        assert_eq!(offset, mdat_s);
    }

    #[test]
    fn sniff_kinds() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), MediaKind::Jpeg);
        assert_eq!(sniff(b"GIF89a...."), MediaKind::Gif);
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), MediaKind::Webp);
        assert_eq!(sniff(b"ID3\x03\0\0\0"), MediaKind::Mp3);
        assert_eq!(sniff(b"\0\0\0\x14ftypqt  \0\0\0\0"), MediaKind::Mov);
        assert_eq!(sniff(&[0x1A, 0x45, 0xDF, 0xA3, 1]), MediaKind::Webm);
        assert_eq!(sniff(b"[1,2]"), MediaKind::Json);
        assert_eq!(sniff(b"{broken"), MediaKind::Text);
        assert_eq!(sniff(b"hello\nworld"), MediaKind::Text);
        assert_eq!(sniff(&[0, 159, 146, 150]), MediaKind::OctetStream);
        assert_eq!(sniff(&transcription_json("u", None)), MediaKind::Json);
    }

    #[test]
    fn probe_errors() {
        assert!(probe(b"").is_err());
        assert!(probe(&[0xFF, 0xD8, 0xFF, 0xE0]).is_err());
        let mut broken = mp4(10, 10, 1.0);
        broken.truncate(40);
        assert!(probe(&broken).is_err());
    }

    #[test]
    fn aspect_and_colour() {
        assert_eq!(dimensions_for_aspect("4:3", 1024), Some((1024, 768)));
        assert_eq!(dimensions_for_aspect("0:3", 1024), None);
        assert_eq!(colour_for("a"), colour_for("a"));
        assert_ne!(colour_for("a"), colour_for("b"));
    }

    #[tokio::test]
    async fn large_body_length() {
        use futures_util::StreamExt;
        let mut total = 0u64;
        let mut chunks = 0;
        let mut s = std::pin::pin!(large_body(200_000));
        while let Some(chunk) = s.next().await {
            total += chunk.unwrap().len() as u64;
            chunks += 1;
        }
        assert_eq!(total, 200_000);
        assert_eq!(chunks, 4);
    }
}
