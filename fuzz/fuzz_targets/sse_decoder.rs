//! The SSE decoder must never panic on any bytes, and the events it yields must not depend on
//! how the body was split into chunks (nor on the event size cap being hit at a chunk edge).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use varg_core::ops::{StreamItem, decode_stream_event};
use varg_core::sse::{SseDecoder, SseEvent};

#[derive(Debug, Arbitrary)]
struct Input {
    body: Vec<u8>,
    /// Chunk lengths, used cyclically (a zero length feeds an empty chunk).
    cuts: Vec<u8>,
    /// Event size cap: small values exercise `EventTooLarge`; 0 means the default cap.
    cap: u16,
}

fn decoder(cap: u16) -> SseDecoder {
    if cap == 0 {
        SseDecoder::new()
    } else {
        SseDecoder::with_max_event_bytes(usize::from(cap))
    }
}

fn run_whole(input: &Input) -> (Vec<SseEvent>, bool, bool, u64, Option<String>) {
    let mut d = decoder(input.cap);
    let mut out = Vec::new();
    let err = d.feed(&input.body, &mut out).is_err();
    let keepalives = d.keepalives();
    let id = d.last_event_id().map(str::to_owned);
    let partial = d.finish();
    (out, err, partial, keepalives, id)
}

fn run_chunked(input: &Input) -> (Vec<SseEvent>, bool, bool, u64, Option<String>) {
    let mut d = decoder(input.cap);
    let mut out = Vec::new();
    let mut rest: &[u8] = &input.body;
    let mut err = false;
    let mut i = 0usize;
    while !rest.is_empty() {
        let len = if input.cuts.is_empty() {
            1
        } else {
            usize::from(input.cuts[i % input.cuts.len()])
        };
        i += 1;
        let len = len.min(rest.len());
        let (chunk, tail) = rest.split_at(len);
        rest = tail;
        if d.feed(chunk, &mut out).is_err() {
            err = true;
            // Once failed, it must stay failed.
            assert!(d.feed(b"\n\n", &mut out).is_err());
            break;
        }
        if i > input.body.len() * 2 + 16 {
            // Only zero-length cuts: feed the rest at once.
            err = d.feed(rest, &mut out).is_err();
            break;
        }
    }
    let keepalives = d.keepalives();
    let id = d.last_event_id().map(str::to_owned);
    let partial = d.finish();
    (out, err, partial, keepalives, id)
}

fuzz_target!(|input: Input| {
    let whole = run_whole(&input);
    let chunked = run_chunked(&input);
    assert_eq!(whole.0, chunked.0, "events differ with chunking");
    assert_eq!(whole.1, chunked.1, "error differs with chunking");
    if !whole.1 {
        assert_eq!(
            whole.2, chunked.2,
            "partial-event flag differs with chunking"
        );
        assert_eq!(whole.3, chunked.3, "keepalive count differs with chunking");
        assert_eq!(whole.4, chunked.4, "last event id differs with chunking");
    }
    for event in &whole.0 {
        if input.cap != 0 {
            assert!(event.data.len() + event.event.len() <= usize::from(input.cap) + 16);
        }
        // Decoding an event as a job must not panic either.
        match decode_stream_event(event) {
            Ok(StreamItem::Status(job)) => {
                let _ = format!("{job:?}");
            }
            Ok(_) => {}
            Err(e) => {
                let _ = (e.to_string(), format!("{e:?}"));
            }
        }
    }
});
