//! Command implementations.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Map, Value, json};
use varg_async::{Client, WaitOptions};
use varg_core::CacheMode;
use varg_core::config::{Environment, is_loopback_url, resolve_base_url, resolve_from_environment};
use varg_emulator::{Emulator, EmulatorHandle};
use varg_types::common::is_http_url;
use varg_types::model::{CATALOGUE, ModelInfo};
use varg_types::*;

use crate::CliError;
use crate::args::*;
use crate::output::{Printer, describe};

/// A connected client, and the emulator behind it when running offline.
pub struct Ctx {
    /// The client.
    pub client: Client,
    /// Output.
    pub printer: Printer,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `--cancel-on-timeout`.
    pub cancel_on_timeout: bool,
    /// Keeps the in-process emulator alive while the command runs.
    pub _emulator: Option<EmulatorHandle>,
}

impl Ctx {
    /// Wait options from the global flags, reporting status changes to `bar`.
    pub fn wait_options(&self, bar: &indicatif::ProgressBar) -> WaitOptions {
        let mut options = WaitOptions::new().cancel_on_deadline(self.cancel_on_timeout);
        if let Some(timeout) = self.timeout {
            options = options.deadline(timeout);
        }
        let printer = self.printer;
        let bar = bar.clone();
        options.on_status(move |job: &Job| printer.status(&bar, job))
    }
}

/// Runs one parsed command line.
pub async fn run(cli: Cli, printer: Printer) -> Result<(), CliError> {
    match cli.command {
        Command::Models(args) => return models(args, printer),
        Command::Emulator(args) => return emulator(args, printer).await,
        _ => {}
    }
    let ctx = connect(&cli.global, printer).await?;
    match cli.command {
        Command::Image(args) => image(&ctx, args).await,
        Command::Video(args) => video(&ctx, args).await,
        Command::Speech(args) => speech(&ctx, args).await,
        Command::Music(args) => music(&ctx, args).await,
        Command::Transcribe(args) => transcribe(&ctx, args).await,
        Command::Upload(args) => upload(&ctx, &args.path).await.map(|_| ()),
        Command::Job(command) => job(&ctx, command).await,
        Command::Media(command) => media(&ctx, command).await,
        Command::Voices(args) => voices(&ctx, args).await,
        Command::Balance => {
            let balance = ctx.client.balance().await?;
            let cents = balance.balance_cents.unwrap_or(0.0);
            let currency = balance.currency.clone().unwrap_or_else(|| "usd".into());
            ctx.printer.result(
                &format!(
                    "{cents} credits ({:.2} {})",
                    cents / 100.0,
                    currency.to_uppercase()
                ),
                json!({"event": "balance", "balance": balance}),
            );
            Ok(())
        }
        Command::Usage(args) => {
            let mut query = UsageQuery::new();
            query.from = args.from;
            query.to = args.to;
            let usage = ctx.client.usage(&query).await?;
            if ctx.printer.json {
                ctx.printer.event(json!({"event": "usage", "usage": usage}));
            } else if !ctx.printer.quiet {
                for record in &usage.usage {
                    println!(
                        "{}  {}  {}  {} cents{}",
                        record.created_at.as_deref().unwrap_or("-"),
                        record.job_id.as_deref().unwrap_or("-"),
                        record.model.as_deref().unwrap_or("-"),
                        record.cost_cents.unwrap_or(0.0),
                        if record.cache_hit == Some(true) {
                            " (cache hit)"
                        } else {
                            ""
                        }
                    );
                }
                println!("total: {} cents", usage.total_cents.unwrap_or(0.0));
            }
            Ok(())
        }
        Command::Me => {
            let me = ctx.client.me().await?;
            ctx.printer.result(
                &format!(
                    "{} {}",
                    me.user_id.as_deref().unwrap_or("-"),
                    me.email.as_deref().unwrap_or("-")
                ),
                json!({"event": "me", "me": me}),
            );
            Ok(())
        }
        Command::Batch(args) => crate::batch::run(&ctx, args).await,
        Command::Models(_) | Command::Emulator(_) => Ok(()),
    }
}

/// Builds the client: the configured gateway, or the in-process emulator when there is no key.
async fn connect(global: &Global, printer: Printer) -> Result<Ctx, CliError> {
    // The key from --api-key / VARG_API_KEY, else ~/.varg/credentials; the base URL from
    // --base-url / VARG_BASE_URL. Empty values count as unset.
    let file_read = Cell::new(false);
    let read_file = |path: &Path| {
        let text = std::fs::read_to_string(path).ok();
        file_read.set(text.is_some());
        text
    };
    let env = Environment {
        var: &|name: &str| std::env::var(name).ok(),
        read_file: &read_file,
    };
    let explicit_base = global.base_url.as_deref();
    let key = match resolve_from_environment(global.api_key.as_deref(), explicit_base, &env) {
        Ok((key, _, base)) => Some((key, base)),
        // No key anywhere: run on the built-in emulator (below).
        Err(_) if !file_read.get() => None,
        // A credentials file that cannot be read as one is reported, not silently replaced
        // by the emulator.
        Err(err) => {
            return Err(CliError {
                code: 3,
                message: format!("~/.varg/credentials: {err}"),
                job_id: None,
            });
        }
    };
    let base_url = resolve_base_url(explicit_base, None).to_owned();

    let mut emulator = None;
    let (key, base_url) = match (key, global.emulator) {
        (Some((key, base)), false) => (key, Some(base)),
        (None, false) if is_loopback_url(&base_url) => {
            // A local gateway (such as `varg emulator`) accepts any varg_ key.
            (varg_core::ApiKey::from("varg_local"), Some(base_url))
        }
        _ => {
            let handle = Emulator::builder()
                .start()
                .await
                .map_err(|e| CliError::other(format!("cannot start the built-in emulator: {e}")))?;
            let base = handle.base_url();
            if !printer.quiet {
                eprintln!(
                    "{} running on the built-in emulator at {base} (placeholder media, no cost)",
                    if global.emulator {
                        "--emulator:"
                    } else {
                        "no API key found:"
                    }
                );
            }
            emulator = Some(handle);
            (varg_core::ApiKey::from("varg_emulator"), Some(base))
        }
    };
    let cache = match global.cache {
        CacheArg::Default => CacheMode::Default,
        CacheArg::NoCache => CacheMode::NoCache,
        CacheArg::NoStore => CacheMode::NoStore,
    };
    let mut builder = Client::builder().api_key(key).cache(cache);
    if let Some(base) = base_url {
        builder = builder.base_url(base);
    }
    let client = builder.build()?;
    let timeout = match global.timeout {
        Some(secs) if secs.is_finite() && secs > 0.0 => Some(Duration::from_secs_f64(secs)),
        Some(secs) => {
            return Err(CliError::usage(format!(
                "--timeout must be a positive number of seconds (got {secs})"
            )));
        }
        None => None,
    };
    Ok(Ctx {
        client,
        printer,
        timeout,
        cancel_on_timeout: global.cancel_on_timeout,
        _emulator: emulator,
    })
}

/// Turns `PATH_OR_URL` into a URL, uploading a local file first (deduplicated by hash).
async fn input_url(ctx: &Ctx, input: &str) -> Result<String, CliError> {
    if is_http_url(input) {
        return Ok(input.to_owned());
    }
    let path = Path::new(input);
    if !path.is_file() {
        return Err(CliError::usage(format!(
            "{input:?} is neither an http(s) URL nor a readable file"
        )));
    }
    Ok(upload(ctx, path).await?.url)
}

async fn input_urls(ctx: &Ctx, inputs: &[String]) -> Result<Vec<FileRef>, CliError> {
    let mut files = Vec::with_capacity(inputs.len());
    for input in inputs {
        files.push(FileRef::new(input_url(ctx, input).await?));
    }
    Ok(files)
}

async fn upload(ctx: &Ctx, path: &Path) -> Result<FileUploadResponse, CliError> {
    let uploaded = ctx.client.upload_path(path).await?;
    ctx.printer.result(
        &format!(
            "{} -> {}{}",
            path.display(),
            uploaded.url,
            if uploaded.deduplicated {
                " (already uploaded)"
            } else {
                ""
            }
        ),
        json!({"event": "uploaded", "path": path, "file": uploaded}),
    );
    Ok(uploaded)
}

/// Parses repeated `KEY=VALUE` provider options; values are JSON when they parse as JSON.
fn provider_options(options: &[String]) -> Result<Option<ProviderOptions>, CliError> {
    if options.is_empty() {
        return Ok(None);
    }
    let mut map = Map::new();
    for option in options {
        let (key, value) = option
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--option {option:?} is not KEY=VALUE")))?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        map.insert(key.to_owned(), value);
    }
    Ok(Some(map))
}

fn pairs(items: &[String], flag: &str) -> Result<Vec<(String, String)>, CliError> {
    items
        .iter()
        .map(|item| {
            item.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| CliError::usage(format!("{flag} {item:?} is not LABEL=VALUE")))
        })
        .collect()
}

/// Validates a request before anything is sent (exit code 2 on a broken rule).
fn check(request: &impl Validate) -> Result<(), CliError> {
    request
        .validate()
        .map_err(|e| CliError::from(varg_core::Error::InvalidInput(e)))
}

/// Validates `request` as it will be once its inputs are uploaded (with stand-in URLs for
/// local files), so a broken rule costs no upload.
fn check_before_upload<R: Validate + Clone>(
    request: &R,
    inputs: &[String],
    set_files: impl Fn(&mut R, Option<Vec<FileRef>>),
) -> Result<(), CliError> {
    let mut dry = request.clone();
    let files = inputs
        .iter()
        .map(|input| {
            if is_http_url(input) {
                FileRef::new(input.as_str())
            } else {
                FileRef::new("https://upload.invalid/file")
            }
        })
        .collect::<Vec<_>>();
    set_files(&mut dry, (!files.is_empty()).then_some(files));
    check(&dry)
}

/// Creates a job with `create`, waits for it, and prints or saves the result.
async fn run_job<F>(ctx: &Ctx, label: &str, out: &OutputArgs, create: F) -> Result<Job, CliError>
where
    F: std::future::Future<Output = Result<Job, varg_core::Error>>,
{
    let job = create.await?;
    ctx.printer
        .event(json!({"event": "created", "job_id": job.job_id, "status": job.status}));
    if out.no_wait {
        ctx.printer
            .result(&describe(&job), json!({"event": "job", "job": job}));
        return Ok(job);
    }
    finish(ctx, label, job, out.output.as_deref()).await
}

/// Waits for `job`, then saves its output to `output` or prints its URL.
async fn finish(ctx: &Ctx, label: &str, job: Job, output: Option<&Path>) -> Result<Job, CliError> {
    let bar = ctx.printer.spinner(label);
    bar.set_message(job.status.to_string());
    let waited = ctx.client.wait_for(job, ctx.wait_options(&bar)).await;
    bar.finish_and_clear();
    let job = waited?;
    match output {
        Some(path) => {
            let bytes = save(ctx, &job, path).await?;
            ctx.printer.result(
                &format!(
                    "{} ({} bytes, {}){}",
                    path.display(),
                    bytes,
                    job.job_id,
                    if job.cache_hit() { ", cache hit" } else { "" }
                ),
                json!({"event": "completed", "job": job, "file": path, "bytes": bytes}),
            );
        }
        None => ctx
            .printer
            .result(&describe(&job), json!({"event": "completed", "job": job})),
    }
    Ok(job)
}

/// Downloads a job's output to `path` with a progress bar.
pub async fn save(ctx: &Ctx, job: &Job, path: &Path) -> Result<u64, CliError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let bar = ctx.printer.download_bar(&path.display().to_string());
    let progress_bar = bar.clone();
    let progress = move |p: varg_async::DownloadProgress| {
        if let Some(total) = p.total {
            progress_bar.set_length(total);
        }
        progress_bar.set_position(p.downloaded);
    };
    // Written beside the target and renamed when complete: a failed or interrupted download
    // never leaves a truncated file at `path`.
    let mut part = path.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let mut file = tokio::fs::File::create(&part).await?;
    let written = ctx.client.download(job, &mut file, Some(&progress)).await;
    bar.finish_and_clear();
    let written = match written {
        Ok(n) => n,
        Err(err) => {
            drop(file);
            let _ = tokio::fs::remove_file(&part).await;
            return Err(CliError::from(err.with_job_id(&job.job_id)));
        }
    };
    use tokio::io::AsyncWriteExt;
    file.flush().await?;
    file.sync_all().await?;
    drop(file);
    tokio::fs::rename(&part, path).await?;
    Ok(written)
}

async fn image(ctx: &Ctx, args: ImageArgs) -> Result<(), CliError> {
    let mut request = ImageRequest::new(args.model, args.prompt);
    request.aspect_ratio = args.aspect_ratio.map(AspectRatio::new);
    request.provider_options = provider_options(&args.options)?;
    check_before_upload(&request, &args.files, |r, files| r.files = files)?;
    if !args.files.is_empty() {
        request.files = Some(input_urls(ctx, &args.files).await?);
    }
    check(&request)?;
    run_job(ctx, "image", &args.out, ctx.client.create_image(&request))
        .await
        .map(|_| ())
}

async fn video(ctx: &Ctx, args: VideoArgs) -> Result<(), CliError> {
    let mut request = VideoRequest::new(args.model, args.prompt);
    request.duration = args.duration;
    request.aspect_ratio = args.aspect_ratio.map(AspectRatio::new);
    request.provider_options = provider_options(&args.options)?;
    check_before_upload(&request, &args.files, |r, files| r.files = files)?;
    if !args.files.is_empty() {
        request.files = Some(input_urls(ctx, &args.files).await?);
    }
    check(&request)?;
    run_job(ctx, "video", &args.out, ctx.client.create_video(&request))
        .await
        .map(|_| ())
}

async fn speech(ctx: &Ctx, args: SpeechArgs) -> Result<(), CliError> {
    let mut request = SpeechRequest::new(args.model, args.text);
    request.voice = args.voice.map(Voice::new);
    request.provider_options = provider_options(&args.options)?;
    check(&request)?;
    run_job(ctx, "speech", &args.out, ctx.client.create_speech(&request))
        .await
        .map(|_| ())
}

async fn music(ctx: &Ctx, args: MusicArgs) -> Result<(), CliError> {
    let mut request = MusicRequest::new(args.model, args.prompt);
    request.duration = args.duration;
    request.provider_options = provider_options(&args.options)?;
    check(&request)?;
    run_job(ctx, "music", &args.out, ctx.client.create_music(&request))
        .await
        .map(|_| ())
}

async fn transcribe(ctx: &Ctx, args: TranscribeArgs) -> Result<(), CliError> {
    let url = input_url(ctx, &args.audio).await?;
    let mut request = TranscriptionRequest::new(args.model, url);
    request.language = args.language;
    check(&request)?;
    run_job(
        ctx,
        "transcription",
        &args.out,
        ctx.client.create_transcription(&request),
    )
    .await
    .map(|_| ())
}

async fn job(ctx: &Ctx, command: JobCommand) -> Result<(), CliError> {
    match command {
        JobCommand::Get { id } => {
            let job = ctx.client.get_job(&id).await?;
            ctx.printer
                .result(&describe(&job), json!({"event": "job", "job": job}));
        }
        JobCommand::Cancel { id } => {
            ctx.client.cancel_job(&id).await?;
            ctx.printer.result(
                &format!("cancel requested for {id}"),
                json!({"event": "cancel_requested", "job_id": id}),
            );
        }
        JobCommand::Wait { id, output } => {
            let job = ctx.client.get_job(&id).await?;
            finish(ctx, "job", job, output.as_deref()).await?;
        }
        JobCommand::Events { id } => {
            let events = ctx.client.events(&id);
            futures::pin_mut!(events);
            while let Some(job) = events.next().await {
                let job = job?;
                ctx.printer
                    .result(&describe(&job), json!({"event": "status", "job": job}));
            }
        }
    }
    Ok(())
}

async fn media(ctx: &Ctx, command: MediaCommand) -> Result<(), CliError> {
    match command {
        MediaCommand::Ffmpeg {
            command,
            url,
            inputs,
            outputs,
            output_folder,
            out,
        } => {
            let mut request = FfmpegRequest::new(command);
            if let Some(url) = url {
                request.url = Some(input_url(ctx, &url).await?);
            }
            for (label, input) in pairs(&inputs, "--input")? {
                let url = input_url(ctx, &input).await?;
                request = request.input_file(label, url);
            }
            for (label, name) in pairs(&outputs, "--output-file")? {
                request = request.output_file(label, name);
            }
            if output_folder {
                request = request.output_folder();
            }
            check(&request)?;
            run_job(ctx, "ffmpeg", &out, ctx.client.ffmpeg(&request)).await?;
        }
        MediaCommand::Trim {
            url,
            start,
            end,
            duration,
            precise,
            out,
        } => {
            let mut request = TrimRequest::new(input_url(ctx, &url).await?, start);
            request.end = end;
            request.duration = duration;
            request.precise = precise.then_some(true);
            check(&request)?;
            run_job(ctx, "trim", &out, ctx.client.trim(&request)).await?;
        }
        MediaCommand::Resize {
            url,
            width,
            height,
            fit,
            out,
        } => {
            let mut request = ResizeRequest::new(input_url(ctx, &url).await?);
            request.width = width;
            request.height = height;
            request.fit = fit.as_deref().map(ResizeFit::from_wire);
            check(&request)?;
            run_job(ctx, "resize", &out, ctx.client.resize(&request)).await?;
        }
        MediaCommand::Slice {
            url,
            every,
            at,
            count,
            codec,
            no_thumbnails,
            out,
        } => {
            let mut request = SliceRequest::new(input_url(ctx, &url).await?);
            request.every = every;
            request.at = (!at.is_empty()).then_some(at);
            request.count = count;
            request.codec = codec.as_deref().map(SliceCodec::from_wire);
            request.thumbnails = no_thumbnails.then_some(false);
            check(&request)?;
            let job = run_job(ctx, "slice", &out, ctx.client.slice(&request)).await?;
            if !ctx.printer.json && !ctx.printer.quiet {
                for (i, segment) in job
                    .metadata
                    .iter()
                    .flat_map(|m| m.segments.iter().flatten())
                    .enumerate()
                {
                    println!(
                        "  segment {}: {} ({}-{} s)",
                        i + 1,
                        segment.url.as_deref().unwrap_or("-"),
                        segment.start.map_or("?".into(), |s| s.to_string()),
                        segment.end.map_or("?".into(), |s| s.to_string())
                    );
                }
            }
        }
        MediaCommand::Probe { url } => {
            let request = ProbeRequest::new(input_url(ctx, &url).await?);
            check(&request)?;
            let probe = ctx.client.probe(&request).await?;
            let text = serde_json::to_string_pretty(&probe).unwrap_or_default();
            ctx.printer
                .result(&text, json!({"event": "probe", "probe": probe}));
        }
    }
    Ok(())
}

async fn voices(ctx: &Ctx, args: VoicesArgs) -> Result<(), CliError> {
    let voices = ctx.client.voices().await?;
    let filter = args.filter.map(|f| f.to_lowercase());
    for voice in voices.voices.iter().filter(|v| {
        filter.as_deref().is_none_or(|f| {
            v.name.to_lowercase().contains(f) || v.voice_id.to_lowercase().contains(f)
        })
    }) {
        ctx.printer.result(
            &format!("{:<24} {}", voice.voice_id, voice.name),
            json!({"event": "voice", "voice": voice}),
        );
    }
    Ok(())
}

fn models(args: ModelsArgs, printer: Printer) -> Result<(), CliError> {
    let filter = args.capability.map(|c| c.to_lowercase().replace('-', "_"));
    let matches = |m: &ModelInfo| match filter.as_deref() {
        None => true,
        Some(f) => m.capability().as_str() == f || m.kind.as_str() == f,
    };
    let selected: Vec<&ModelInfo> = CATALOGUE.iter().filter(|m| matches(m)).collect();
    if selected.is_empty() {
        return Err(CliError::usage(format!(
            "no documented models for {:?}; try image, video, speech, music, transcription, or a kind such as lipsync",
            filter.unwrap_or_default()
        )));
    }
    for model in selected {
        let credits = match model.credits {
            Some((lo, hi)) if lo == hi => format!("{lo}"),
            Some((lo, hi)) => format!("{lo}-{hi}"),
            None => "-".into(),
        };
        printer.result(
            &format!(
                "{:<28} {:<14} {:<11} {:>7} credits",
                model.id,
                model.kind.as_str(),
                model.provider.unwrap_or("-"),
                credits
            ),
            json!({
                "event": "model",
                "id": model.id,
                "capability": model.capability(),
                "kind": model.kind,
                "provider": model.provider,
                "credits": model.credits.map(|(lo, hi)| json!({"min": lo, "max": hi})),
                "duration_rule": model.duration.describe(),
            }),
        );
    }
    Ok(())
}

async fn emulator(args: EmulatorArgs, printer: Printer) -> Result<(), CliError> {
    let mut builder = Emulator::builder().addr(args.addr);
    if let Some(seed) = args.seed {
        builder = builder.seed(seed);
    }
    if let Some(key) = args.key {
        builder = builder.api_key(key);
    }
    let handle = builder
        .start()
        .await
        .map_err(|e| CliError::other(format!("cannot start the emulator on {}: {e}", args.addr)))?;
    printer.result(
        &format!("varg emulator listening; base URL {}", handle.base_url()),
        json!({"event": "emulator", "base_url": handle.base_url()}),
    );
    let handle = Arc::new(handle);
    // Serve until the process is interrupted.
    std::future::pending::<()>().await;
    drop(handle);
    Ok(())
}
