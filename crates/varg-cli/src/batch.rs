//! `varg batch`: one request per JSONL line, bounded concurrency, resumable through the
//! manifest journal (see [`crate::manifest`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;
use varg_async::WaitOptions;
use varg_types::*;

use crate::CliError;
use crate::args::BatchArgs;
use crate::commands::Ctx;
use crate::manifest::{Manifest, Record, RequestKey, State};
use crate::target::save_to_path;

/// One input line: a request body plus `"type"` naming the endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BatchRequest {
    /// `POST /image`.
    Image(ImageRequest),
    /// `POST /video`.
    Video(VideoRequest),
    /// `POST /speech`.
    Speech(SpeechRequest),
    /// `POST /music`.
    Music(MusicRequest),
    /// `POST /transcription`.
    Transcription(TranscriptionRequest),
    /// `POST /ffmpeg`.
    Ffmpeg(FfmpegRequest),
    /// `POST /ffmpeg/trim`.
    Trim(TrimRequest),
    /// `POST /ffmpeg/resize`.
    Resize(ResizeRequest),
    /// `POST /ffmpeg/slice`.
    Slice(SliceRequest),
}

impl BatchRequest {
    fn validate(&self) -> Result<(), ValidationError> {
        match self {
            BatchRequest::Image(r) => r.validate(),
            BatchRequest::Video(r) => r.validate(),
            BatchRequest::Speech(r) => r.validate(),
            BatchRequest::Music(r) => r.validate(),
            BatchRequest::Transcription(r) => r.validate(),
            BatchRequest::Ffmpeg(r) => r.validate(),
            BatchRequest::Trim(r) => r.validate(),
            BatchRequest::Resize(r) => r.validate(),
            BatchRequest::Slice(r) => r.validate(),
        }
    }

    async fn create(&self, ctx: &Ctx) -> Result<Job, varg_core::Error> {
        let client = &ctx.client;
        match self {
            BatchRequest::Image(r) => client.create_image(r).await,
            BatchRequest::Video(r) => client.create_video(r).await,
            BatchRequest::Speech(r) => client.create_speech(r).await,
            BatchRequest::Music(r) => client.create_music(r).await,
            BatchRequest::Transcription(r) => client.create_transcription(r).await,
            BatchRequest::Ffmpeg(r) => client.ffmpeg(r).await,
            BatchRequest::Trim(r) => client.trim(r).await,
            BatchRequest::Resize(r) => client.resize(r).await,
            BatchRequest::Slice(r) => client.slice(r).await,
        }
    }
}

/// One request of the batch.
#[derive(Debug, Clone)]
pub struct Item {
    /// Its line in the file (1-based).
    pub line: usize,
    /// Which request it is, for the journal.
    pub key: RequestKey,
    /// The request.
    pub request: BatchRequest,
}

/// Reads and validates every line before anything is sent.
pub fn parse(text: &str) -> Result<Vec<Item>, CliError> {
    let mut items = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let number = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| CliError::usage(format!("line {number}: {e}")))?;
        let request: BatchRequest = serde_json::from_value(value.clone())
            .map_err(|e| CliError::usage(format!("line {number}: {e}")))?;
        request
            .validate()
            .map_err(|e| CliError::usage(format!("line {number}: {e}")))?;
        let hash = RequestKey::content_hash(&value);
        let n = seen.entry(hash.clone()).or_default();
        *n += 1;
        items.push(Item {
            line: number,
            key: RequestKey { key: hash, n: *n },
            request,
        });
    }
    Ok(items)
}

/// The file name for a line's output: `0007-job_x.png`.
fn output_path(dir: &Path, line: usize, job: &Job) -> PathBuf {
    dir.join(format!(
        "{line:04}-{}.{}",
        sanitize(job.job_id.as_str()),
        extension(job)
    ))
}

/// `id` with every character that is not safe in a file name replaced by `_`.
pub fn sanitize(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A file extension for a job's output, from its media type or its URL.
pub fn extension(job: &Job) -> String {
    let from_type = job
        .output
        .as_ref()
        .and_then(|o| o.media_type.as_deref())
        .and_then(varg_core::ops::extension_for_media_type);
    if let Some(ext) = from_type {
        return ext.to_owned();
    }
    job.output_url()
        .and_then(|u| u.split(['?', '#']).next())
        .and_then(|p| p.rsplit('/').next())
        .and_then(|name| name.rsplit_once('.'))
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .filter(|ext| {
            !ext.is_empty() && ext.len() <= 5 && ext.chars().all(|c| c.is_ascii_alphanumeric())
        })
        .unwrap_or_else(|| "bin".to_owned())
}

/// How one line ended.
enum Outcome {
    Completed,
    JobFailed,
    Error(CliError),
}

/// Runs the batch.
pub async fn run(ctx: &Ctx, args: BatchArgs) -> Result<(), CliError> {
    if args.concurrency == 0 {
        return Err(CliError::usage("--concurrency must be at least 1"));
    }
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| CliError::usage(format!("cannot read {}: {e}", args.file.display())))?;
    let items = parse(&text)?;
    let manifest = Manifest::open(&args.out_dir).map_err(|e| {
        CliError::other(format!(
            "cannot open the batch journal in {}: {e}",
            args.out_dir.display()
        ))
    })?;
    if manifest.ignored() > 0 {
        ctx.printer.note(&format!(
            "batch: {} journal record(s) in {} could not be read (cut short, or written by an older varg without request keys) and are ignored",
            manifest.ignored(),
            manifest.path().display()
        ));
    }
    ctx.inflight.batch(format!(
        "varg batch {} --out-dir {}",
        args.file.display(),
        args.out_dir.display()
    ));
    let total = items.len();
    ctx.printer.note(&format!(
        "batch: {total} request(s), {} at a time, journal {}",
        args.concurrency,
        manifest.path().display()
    ));
    let manifest = Arc::new(Mutex::new(manifest));

    let outcomes: Vec<Outcome> = futures::stream::iter(items)
        .map(|item| {
            let manifest = Arc::clone(&manifest);
            let out_dir = args.out_dir.clone();
            async move { run_line(ctx, &manifest, &out_dir, item).await }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;

    let completed = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Completed))
        .count();
    let failed = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::JobFailed))
        .count();
    let mut first_error = None;
    for outcome in outcomes {
        if let Outcome::Error(err) = outcome {
            first_error.get_or_insert(err);
        }
    }
    let errors = total - completed - failed;
    ctx.printer.result(
        &format!("batch done: {completed} completed, {failed} failed, {errors} errors"),
        json!({"event": "batch_done", "completed": completed, "failed": failed, "errors": errors}),
    );
    match first_error {
        Some(err) => Err(err),
        None if failed > 0 => Err(CliError {
            code: 1,
            message: format!("{failed} job(s) failed"),
            job_id: None,
            resume: false,
        }),
        None => Ok(()),
    }
}

fn record(manifest: &Mutex<Manifest>, record: Record) -> std::io::Result<()> {
    manifest
        .lock()
        .map_err(|_| std::io::Error::other("manifest lock poisoned"))
        .and_then(|mut m| m.record(record))
}

async fn run_line(ctx: &Ctx, manifest: &Mutex<Manifest>, out_dir: &Path, item: Item) -> Outcome {
    let Item { line, key, request } = item;
    let state = manifest.lock().map(|m| m.state(&key)).unwrap_or(State::New);
    let job_id = match state {
        State::Completed { job_id, file } => {
            let present = file.as_deref().is_some_and(Path::exists);
            if present {
                ctx.printer.result(
                    &format!("line {line}: already completed ({job_id})"),
                    json!({"event": "batch_item", "line": line, "job_id": job_id, "status": "completed", "resumed": true, "file": file}),
                );
                return Outcome::Completed;
            }
            // The output file was deleted since: fetch the job again and download it.
            ctx.printer.note(&format!(
                "line {line}: output of {job_id} is missing; downloading it again"
            ));
            JobId::new(job_id)
        }
        State::Failed(job_id) => {
            ctx.printer.result(
                &format!("line {line}: failed in an earlier run ({job_id})"),
                json!({"event": "batch_item", "line": line, "job_id": job_id, "status": "failed", "resumed": true}),
            );
            return Outcome::JobFailed;
        }
        State::Created(job_id) => {
            ctx.printer
                .note(&format!("line {line}: resuming the wait on {job_id}"));
            JobId::new(job_id)
        }
        State::New => {
            let job = match request.create(ctx).await {
                Ok(job) => job,
                Err(err) => return line_error(ctx, line, err.into()),
            };
            let recorded = record(
                manifest,
                Record::Created {
                    key: key.clone(),
                    line,
                    job_id: job.job_id.to_string(),
                },
            );
            if let Err(err) = recorded {
                return line_error(
                    ctx,
                    line,
                    CliError {
                        code: 5,
                        message: format!("cannot write the batch journal: {err}"),
                        job_id: Some(job.job_id.to_string()),
                        resume: true,
                    },
                );
            }
            ctx.printer
                .event(json!({"event": "created", "line": line, "job_id": job.job_id}));
            job.job_id
        }
    };

    let printer = ctx.printer;
    let mut options = WaitOptions::new().on_status(move |job: &Job| {
        printer.event(
            json!({"event": "status", "line": line, "job_id": job.job_id, "status": job.status}),
        );
    });
    if let Some(remaining) = ctx.remaining() {
        options = options
            .deadline(remaining)
            .cancel_on_deadline(ctx.cancel_on_timeout);
    }
    ctx.inflight.watching(job_id.as_str(), None);
    let finished = ctx.client.wait(job_id.as_str(), options).await;
    ctx.inflight.finished(job_id.as_str());
    let (finished_record, outcome) = match finished {
        Ok(job) => {
            let path = output_path(out_dir, line, &job);
            match save_to_path(ctx, &job, &path).await {
                Ok(bytes) => {
                    ctx.printer.result(
                        &format!("line {line}: {} -> {} ({bytes} bytes)", job.job_id, path.display()),
                        json!({"event": "batch_item", "line": line, "job_id": job.job_id, "status": "completed", "file": path, "bytes": bytes}),
                    );
                    (
                        Record::Finished {
                            key,
                            line,
                            job_id: job.job_id.to_string(),
                            status: "completed".into(),
                            file: Some(path.display().to_string()),
                            error: None,
                        },
                        Outcome::Completed,
                    )
                }
                Err(err) => return line_error(ctx, line, err),
            }
        }
        Err(varg_core::Error::JobFailed { job }) | Err(varg_core::Error::JobCancelled { job }) => {
            ctx.printer.result(
                &format!("line {line}: {} {}: {}", job.job_id, job.status, job.error.as_deref().unwrap_or("-")),
                json!({"event": "batch_item", "line": line, "job_id": job.job_id, "status": job.status, "error": job.error}),
            );
            (
                Record::Finished {
                    key,
                    line,
                    job_id: job.job_id.to_string(),
                    status: job.status.to_string(),
                    file: None,
                    error: job.error.clone(),
                },
                Outcome::JobFailed,
            )
        }
        Err(err) => return line_error(ctx, line, CliError::from(err.with_job_id(&job_id))),
    };
    if let Err(err) = record(manifest, finished_record) {
        return line_error(
            ctx,
            line,
            CliError::other(format!("cannot write the batch journal: {err}")),
        );
    }
    outcome
}

fn line_error(ctx: &Ctx, line: usize, err: CliError) -> Outcome {
    if !ctx.printer.json {
        crate::output::stderr_line(&format!("line {line}: error: {}", err.message));
    }
    ctx.printer.event(json!({"event": "batch_item", "line": line, "error": err.message, "exit_code": err.code, "job_id": err.job_id}));
    Outcome::Error(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates_every_line_first() {
        let ok = parse(
            "{\"type\":\"image\",\"model\":\"flux-schnell\",\"prompt\":\"a cat\"}\n\n# comment\n{\"type\":\"speech\",\"model\":\"eleven_v3\",\"text\":\"hi\"}\n",
        )
        .unwrap();
        assert_eq!(ok.iter().map(|i| i.line).collect::<Vec<_>>(), [1, 4]);
        let err =
            parse("{\"type\":\"image\",\"model\":\"flux-schnell\",\"prompt\":\"\"}").unwrap_err();
        assert_eq!(err.code, 2);
        assert!(err.message.starts_with("line 1: prompt"), "{}", err.message);
        let err = parse("{\"type\":\"hologram\"}").unwrap_err();
        assert!(err.message.contains("line 1"), "{}", err.message);
    }

    #[test]
    fn identical_lines_are_separate_requests_and_moving_a_line_keeps_its_key() {
        let cat = r#"{"type":"image","model":"flux-schnell","prompt":"a cat"}"#;
        let hi = r#"{"type":"speech","model":"eleven_v3","text":"hi"}"#;
        let first = parse(&format!("{cat}\n{cat}\n{cat}\n")).unwrap();
        let keys: Vec<_> = first.iter().map(|i| i.key.clone()).collect();
        assert_eq!(keys.iter().map(|k| k.n).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(keys.iter().all(|k| k.key == keys[0].key));
        // A new line inserted at the top: the image requests keep their keys, the speech
        // request gets one of its own.
        let edited = parse(&format!("{hi}\n{cat}\n{cat}\n{cat}\n")).unwrap();
        assert_ne!(edited[0].key.key, keys[0].key);
        assert_eq!(
            edited[1..]
                .iter()
                .map(|i| i.key.clone())
                .collect::<Vec<_>>(),
            keys
        );
    }

    #[test]
    fn extensions_follow_media_type_then_url() {
        let mut job = Job::new("job_1", JobStatus::Completed);
        job.output = Some(JobOutput::new(
            "https://s3.varg.ai/o/job_1.mp4",
            Some("image/png".into()),
        ));
        assert_eq!(extension(&job), "png");
        job.output = Some(JobOutput::new("https://s3.varg.ai/o/job_1.MP4?sig=1", None));
        assert_eq!(extension(&job), "mp4");
        job.output = Some(JobOutput::new("https://s3.varg.ai/o/job_1", None));
        assert_eq!(extension(&job), "bin");
    }
}
