//! An incremental decoder for `text/event-stream` (server-sent events).
//!
//! Feed it the bytes of a response body in whatever pieces the network delivers; it returns
//! complete events. The result does not depend on how the bytes were split: a line ending
//! split between two chunks (`\r` then `\n`), a multi-byte UTF-8 character split in half, or
//! one byte per chunk all give the same events.
//!
//! Each byte is examined once: a chunk is scanned for line endings, the pieces between them are
//! appended to the current line, and a finished line is interpreted and dropped. The buffers
//! never hold more than one event, and an event larger than the configured cap fails with
//! [`SseError::EventTooLarge`] instead of growing without bound.
//!
//! Comment lines (starting with `:`) are the gateway's keepalives: they produce no event but
//! are counted in [`SseDecoder::keepalives`].
//!
//! ```
//! use varg_core::sse::SseDecoder;
//!
//! let mut decoder = SseDecoder::new();
//! let mut events = Vec::new();
//! decoder.feed(b": keepalive\r\nevent: status\r\ndata: {\"a\":", &mut events).unwrap();
//! decoder.feed(b"1}\r\n\r\n", &mut events).unwrap();
//! assert_eq!(events.len(), 1);
//! assert_eq!(events[0].event, "status");
//! assert_eq!(events[0].data, "{\"a\":1}");
//! assert_eq!(decoder.keepalives(), 1);
//! ```

use std::time::Duration;

/// The default cap on the size of one event (data, event name and id together): 4 MiB.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

/// One dispatched server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The event name (`event:` field); `"message"` when the event named none.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The last event id seen on the stream so far (`id:` field), if any.
    pub id: Option<String>,
    /// The reconnection delay if this event carried a valid `retry:` field.
    pub retry: Option<Duration>,
}

/// Why the decoder stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// One event (or one line) grew beyond the configured cap.
    #[error("server-sent event larger than the {limit}-byte limit")]
    EventTooLarge {
        /// The cap in bytes.
        limit: usize,
    },
}

/// An incremental server-sent-events decoder. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct SseDecoder {
    max_event_bytes: usize,
    /// Bytes of the line being assembled (without its terminator).
    line: Vec<u8>,
    /// The previous chunk ended with `\r`; a leading `\n` in the next chunk belongs to it.
    pending_cr: bool,
    /// No line has been completed yet (the first line may start with a byte-order mark).
    first_line: bool,
    data: String,
    has_data: bool,
    event: String,
    retry_in_event: Option<Duration>,
    last_id: Option<String>,
    retry: Option<Duration>,
    keepalives: u64,
    failed: Option<SseError>,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder with the default event size cap ([`DEFAULT_MAX_EVENT_BYTES`]).
    pub fn new() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_EVENT_BYTES)
    }

    /// A decoder whose events (data plus name plus the current line) may not exceed `limit`
    /// bytes.
    pub fn with_max_event_bytes(limit: usize) -> Self {
        Self {
            max_event_bytes: limit,
            line: Vec::new(),
            pending_cr: false,
            first_line: true,
            data: String::new(),
            has_data: false,
            event: String::new(),
            retry_in_event: None,
            last_id: None,
            retry: None,
            keepalives: 0,
            failed: None,
        }
    }

    /// How many comment lines (keepalives) have been seen.
    pub fn keepalives(&self) -> u64 {
        self.keepalives
    }

    /// The last event id seen (`id:` field), to send as `Last-Event-ID` on reconnect.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// The reconnection delay most recently announced by the server (`retry:` field).
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Feeds the next chunk of the body, appending every event it completes to `out`.
    ///
    /// Events completed before an error are still appended. After an error the decoder
    /// keeps returning the same error.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let mut rest = chunk;
        if self.pending_cr && !rest.is_empty() {
            self.pending_cr = false;
            if let Some((&b'\n', tail)) = rest.split_first() {
                rest = tail;
            }
        }
        while !rest.is_empty() {
            match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
                None => {
                    self.append_line(rest)?;
                    break;
                }
                Some(pos) => {
                    self.append_line(&rest[..pos])?;
                    let terminator = rest[pos];
                    rest = &rest[pos + 1..];
                    if terminator == b'\r' {
                        match rest.first() {
                            Some(b'\n') => rest = &rest[1..],
                            Some(_) => {}
                            None => self.pending_cr = true,
                        }
                    }
                    self.finish_line(out)?;
                }
            }
        }
        Ok(())
    }

    /// Ends the stream. Per the SSE rules an event without its closing blank line is not
    /// dispatched; this returns `true` if such a partial event (or partial line) was dropped.
    pub fn finish(&mut self) -> bool {
        let partial = !self.line.is_empty() || self.has_data || !self.event.is_empty();
        self.line.clear();
        self.reset_event();
        self.pending_cr = false;
        partial
    }

    fn append_line(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.line.len() + bytes.len() + self.data.len() + self.event.len() > self.max_event_bytes
        {
            return Err(self.fail());
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn fail(&mut self) -> SseError {
        let err = SseError::EventTooLarge {
            limit: self.max_event_bytes,
        };
        self.failed = Some(err.clone());
        self.line = Vec::new();
        self.data = String::new();
        err
    }

    fn reset_event(&mut self) {
        self.data.clear();
        self.has_data = false;
        self.event.clear();
        self.retry_in_event = None;
    }

    fn finish_line(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let mut line = std::mem::take(&mut self.line);
        let mut bytes: &[u8] = &line;
        if self.first_line {
            self.first_line = false;
            if let Some(stripped) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
                bytes = stripped;
            }
        }
        let result = self.process_line(bytes, out);
        // Keep the allocation for the next line.
        line.clear();
        self.line = line;
        result
    }

    fn process_line(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if bytes.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if bytes[0] == b':' {
            self.keepalives += 1;
            return Ok(());
        }
        let (name, value) = match bytes.iter().position(|&b| b == b':') {
            Some(pos) => {
                let value = &bytes[pos + 1..];
                (&bytes[..pos], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (bytes, &b""[..]),
        };
        let value = String::from_utf8_lossy(value);
        match name {
            b"data" => {
                if self.data.len() + value.len() + 1 + self.event.len() > self.max_event_bytes {
                    return Err(self.fail());
                }
                self.data.push_str(&value);
                self.data.push('\n');
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                self.event.push_str(&value);
            }
            b"id" if !value.contains('\0') => {
                self.last_id = Some(value.into_owned());
            }
            b"retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(ms) = value.parse::<u64>() {
                    let delay = Duration::from_millis(ms);
                    self.retry = Some(delay);
                    self.retry_in_event = Some(delay);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if !self.has_data {
            self.reset_event();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the trailing '\n' added after the last data line
        let event = if self.event.is_empty() {
            "message".to_owned()
        } else {
            std::mem::take(&mut self.event)
        };
        out.push(SseEvent {
            event,
            data,
            id: self.last_id.clone(),
            retry: self.retry_in_event,
        });
        self.reset_event();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            d.feed(c, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn basic_fields_and_defaults() {
        let ev =
            decode_all(&[b"data: hello\n\nevent: status\nid: 7\nretry: 1500\ndata: a\ndata:b\n\n"]);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].event, "message");
        assert_eq!(ev[0].data, "hello");
        assert_eq!(ev[0].id, None);
        assert_eq!(ev[1].event, "status");
        assert_eq!(ev[1].data, "a\nb");
        assert_eq!(ev[1].id.as_deref(), Some("7"));
        assert_eq!(ev[1].retry, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn cr_lf_and_crlf_are_equivalent() {
        let lf = decode_all(&[b"event: x\ndata: 1\n\n"]);
        let cr = decode_all(&[b"event: x\rdata: 1\r\r"]);
        let crlf = decode_all(&[b"event: x\r\ndata: 1\r\n\r\n"]);
        assert_eq!(lf, cr);
        assert_eq!(lf, crlf);
        assert_eq!(lf.len(), 1);
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_ending() {
        let ev = decode_all(&[b"data: 1\r", b"\n", b"\r", b"\ndata: 2\r\n\r\n"]);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].data, "1");
        assert_eq!(ev[1].data, "2");
    }

    #[test]
    fn empty_chunk_after_cr_keeps_the_pending_cr() {
        let ev = decode_all(&[b"event: status\r", b"", b"\ndata: 1\r\n\r\n"]);
        assert_eq!(ev[0].event, "status");
    }

    #[test]
    fn comments_are_counted_not_emitted() {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        d.feed(b": ping\n\n:\n\n", &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(d.keepalives(), 2);
    }

    #[test]
    fn blank_event_without_data_is_not_dispatched() {
        let ev = decode_all(&[b"event: status\n\ndata\n\n"]);
        assert_eq!(ev.len(), 1);
        // The `event:` of the first (empty) block must not leak into the second.
        assert_eq!(ev[0].event, "message");
        assert_eq!(ev[0].data, "");
    }

    #[test]
    fn id_persists_and_nul_ids_are_ignored() {
        let ev = decode_all(&[b"id: 1\ndata: a\n\nid: b\0c\ndata: b\n\n"]);
        assert_eq!(ev[0].id.as_deref(), Some("1"));
        assert_eq!(ev[1].id.as_deref(), Some("1"));
    }

    #[test]
    fn invalid_retry_is_ignored() {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        d.feed(b"retry: 1.5\nretry: x\ndata: a\n\n", &mut out)
            .unwrap();
        assert_eq!(out[0].retry, None);
        assert_eq!(d.retry(), None);
    }

    #[test]
    fn bom_is_stripped_even_when_split() {
        let ev = decode_all(&[b"\xEF", b"\xBB\xBFdata: x\n\n"]);
        assert_eq!(ev[0].data, "x");
    }

    #[test]
    fn utf8_split_inside_a_character() {
        let text = "data: héllo ✓\n\n".as_bytes();
        let ev = decode_all(&[&text[..8], &text[8..14], &text[14..]]);
        assert_eq!(ev[0].data, "héllo ✓");
    }

    #[test]
    fn unterminated_event_is_dropped_at_finish() {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        d.feed(b"data: a\n\ndata: partial", &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert!(d.finish());
        assert!(!d.finish());
    }

    #[test]
    fn oversized_event_fails_cleanly_and_keeps_failing() {
        let mut d = SseDecoder::with_max_event_bytes(16);
        let mut out = Vec::new();
        d.feed(b"data: ok\n\n", &mut out).unwrap();
        let err = d.feed(b"data: 0123456789abcdef\n\n", &mut out).unwrap_err();
        assert_eq!(err, SseError::EventTooLarge { limit: 16 });
        assert_eq!(out.len(), 1);
        assert_eq!(d.feed(b"data: x\n\n", &mut out).unwrap_err(), err);
        // Many small data lines also hit the cap.
        let mut d = SseDecoder::with_max_event_bytes(16);
        let mut res = Ok(());
        for _ in 0..10 {
            res = res.and_then(|()| d.feed(b"data: abc\n", &mut out));
        }
        assert!(res.is_err());
    }

    const SAMPLE: &[u8] = b"\xEF\xBB\xBF: hi\r\nevent: status\r\ndata: {\"job_id\":\"j\xC3\xA9\"}\r\n\r\n\
id: 42\nretry: 3000\ndata: line1\ndata: line2\n\n: keepalive\r\rdata\r\revent: custom\rdata: x\r\n\r\n";

    fn decode_split(bytes: &[u8], cuts: &[usize]) -> (Vec<SseEvent>, u64) {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        let mut start = 0;
        for &c in cuts {
            d.feed(&bytes[start..c], &mut out).unwrap();
            start = c;
        }
        d.feed(&bytes[start..], &mut out).unwrap();
        (out, d.keepalives())
    }

    #[test]
    fn one_byte_at_a_time() {
        let cuts: Vec<usize> = (1..SAMPLE.len()).collect();
        assert_eq!(decode_split(SAMPLE, &cuts), decode_split(SAMPLE, &[]));
    }

    #[test]
    fn sample_whole() {
        let (ev, keepalives) = decode_split(SAMPLE, &[]);
        assert_eq!(ev.len(), 4);
        assert_eq!(keepalives, 2);
        assert_eq!(ev[0].data, "{\"job_id\":\"jé\"}");
        assert_eq!(ev[1].data, "line1\nline2");
        assert_eq!(ev[2].data, "");
        assert_eq!(ev[3].event, "custom");
        assert_eq!(ev[3].id.as_deref(), Some("42"));
    }

    proptest! {
        #[test]
        fn any_split_gives_the_same_events(mut cuts in proptest::collection::vec(0..=SAMPLE.len(), 0..12)) {
            cuts.sort_unstable();
            let whole = decode_split(SAMPLE, &[]);
            prop_assert_eq!(decode_split(SAMPLE, &cuts), whole);
        }

        #[test]
        fn any_split_of_arbitrary_streams(
            body in proptest::collection::vec(
                prop_oneof![
                    Just(b'\n'), Just(b'\r'), Just(b':'), Just(b' '), Just(b'a'),
                    Just(0xC3u8), Just(0xA9u8), Just(b'd'),
                ], 0..200),
            prefix in prop_oneof![Just(&b"data"[..]), Just(&b"event"[..]), Just(&b"id"[..]), Just(&b""[..])],
            mut cuts in proptest::collection::vec(0usize..400, 0..12),
        ) {
            let mut bytes = prefix.to_vec();
            bytes.extend_from_slice(&body);
            for c in &mut cuts { *c %= bytes.len() + 1; }
            cuts.sort_unstable();
            let whole = decode_split(&bytes, &[]);
            prop_assert_eq!(decode_split(&bytes, &cuts), whole);
        }

    }
}
