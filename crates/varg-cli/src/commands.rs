//! Command implementations.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Map, Value, json};
use varg_async::{Client, WaitOptions};
use varg_types::common::is_http_url;
use varg_types::model::{CATALOGUE, ModelInfo};
use varg_types::*;

use crate::CliError;
use crate::args::*;
use crate::connect::{Backend, connect};
use crate::interrupt::Inflight;
use crate::output::{Printer, describe, stdout_line};
use crate::target::{Target, save};

/// A connected client, and the emulator behind it when running offline.
pub struct Ctx {
    /// The client.
    pub client: Client,
    /// Output.
    pub printer: Printer,
    /// When the command started (`--timeout` counts from here).
    pub started: Instant,
    /// `--timeout`: the whole command's budget.
    pub timeout: Option<Duration>,
    /// `--cancel-on-timeout`.
    pub cancel_on_timeout: bool,
    /// Which backend the client talks to.
    pub backend: Backend,
    /// Jobs and partial files to account for if the command is stopped (it also keeps the
    /// in-process emulator alive).
    pub inflight: Arc<Inflight>,
}

impl Ctx {
    /// What is left of `--timeout`.
    pub fn remaining(&self) -> Option<Duration> {
        self.timeout.map(|t| {
            t.saturating_sub(self.started.elapsed())
                .max(Duration::from_millis(1))
        })
    }

    /// Wait options from the global flags, reporting status changes to `bar`.
    pub fn wait_options(&self, bar: &indicatif::ProgressBar) -> WaitOptions {
        let mut options = WaitOptions::new().cancel_on_deadline(self.cancel_on_timeout);
        if let Some(remaining) = self.remaining() {
            options = options.deadline(remaining);
        }
        let printer = self.printer;
        let bar = bar.clone();
        options.on_status(move |job: &Job| printer.status(&bar, job))
    }
}

/// Parses `--timeout` (a positive number of seconds).
pub fn parse_timeout(secs: Option<f64>) -> Result<Option<Duration>, CliError> {
    match secs {
        Some(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => {
            Ok(Some(Duration::from_secs_f64(secs)))
        }
        Some(secs) => Err(CliError::usage(format!(
            "--timeout must be a positive number of seconds (got {secs})"
        ))),
        None => Ok(None),
    }
}

/// Runs one parsed command line.
pub async fn run(
    cli: Cli,
    printer: Printer,
    timeout: Option<Duration>,
    inflight: Arc<Inflight>,
) -> Result<(), CliError> {
    match cli.command {
        Command::Models(args) => return models(args, printer),
        Command::Emulator(args) => return emulator(args, printer).await,
        Command::Completions(args) => return crate::args::completions(args.shell),
        _ => {}
    }
    let connection = connect(&cli.global, printer).await?;
    inflight.connected(&connection.client, connection.backend.resume_flags());
    if let Some(emulator) = connection.emulator {
        inflight.keep_alive(emulator);
    }
    let ctx = Ctx {
        client: connection.client,
        printer,
        started: Instant::now(),
        timeout,
        cancel_on_timeout: cli.global.cancel_on_timeout,
        backend: connection.backend,
        inflight,
    };
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
            let cents = balance.balance_cents.unwrap_or_default();
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
                    stdout_line(&format!(
                        "{}  {}  {}  {} cents{}",
                        record.created_at.as_deref().unwrap_or("-"),
                        record.job_id.as_deref().unwrap_or("-"),
                        record.model.as_deref().unwrap_or("-"),
                        record.cost_cents.unwrap_or_default(),
                        if record.cache_hit == Some(true) {
                            " (cache hit)"
                        } else {
                            ""
                        }
                    ));
                }
                stdout_line(&format!(
                    "total: {} cents",
                    usage.total_cents.unwrap_or_default()
                ));
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
        Command::Models(_) | Command::Emulator(_) | Command::Completions(_) => Ok(()),
    }
}

/// An input given as `PATH_OR_URL`: checked at once, uploaded only after the request that
/// uses it has been validated (so a broken rule costs no upload).
enum Input {
    Url(String),
    Local(PathBuf),
}

impl Input {
    fn parse(input: &str) -> Result<Input, CliError> {
        if is_http_url(input) {
            return Ok(Input::Url(input.to_owned()));
        }
        let path = Path::new(input);
        if !path.is_file() {
            return Err(CliError::usage(format!(
                "{input:?} is neither an http(s) URL nor a readable file"
            )));
        }
        Ok(Input::Local(path.to_owned()))
    }

    fn parse_all(inputs: &[String]) -> Result<Vec<Input>, CliError> {
        inputs.iter().map(|i| Input::parse(i)).collect()
    }

    /// A URL that stands in for the upload while the request is validated.
    fn stand_in(&self) -> String {
        match self {
            Input::Url(url) => url.clone(),
            Input::Local(_) => "https://upload.invalid/file".to_owned(),
        }
    }

    /// The URL to send: the upload's URL for a local file (deduplicated by hash).
    async fn resolve(&self, ctx: &Ctx) -> Result<String, CliError> {
        match self {
            Input::Url(url) => Ok(url.clone()),
            Input::Local(path) => Ok(upload(ctx, path).await?.url),
        }
    }
}

fn stand_ins(inputs: &[Input]) -> Option<Vec<FileRef>> {
    (!inputs.is_empty()).then(|| inputs.iter().map(|i| FileRef::new(i.stand_in())).collect())
}

async fn resolve_all(ctx: &Ctx, inputs: &[Input]) -> Result<Option<Vec<FileRef>>, CliError> {
    if inputs.is_empty() {
        return Ok(None);
    }
    let mut files = Vec::with_capacity(inputs.len());
    for input in inputs {
        files.push(FileRef::new(input.resolve(ctx).await?));
    }
    Ok(Some(files))
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

/// The checked output destination for a job command (before anything is sent): `-o`, or on
/// the built-in emulator (whose URLs die with the process) a file in the current directory.
fn plan_target(ctx: &Ctx, out: &OutputArgs) -> Result<Option<Target>, CliError> {
    plan_output(ctx, out.output.as_deref(), out.no_wait)
}

fn plan_output(
    ctx: &Ctx,
    output: Option<&Path>,
    no_wait: bool,
) -> Result<Option<Target>, CliError> {
    match output {
        Some(path) => {
            let target = Target::plan(path)?;
            if target == Target::Stdout && ctx.printer.json {
                return Err(CliError::usage(
                    "-o - writes the output to stdout, where --json writes its lines; pick one",
                ));
            }
            Ok(Some(target))
        }
        None if no_wait || !ctx.backend.is_built_in() => Ok(None),
        // Built-in emulator: save beside the user rather than print a URL that dies with us.
        None => Ok(Target::plan(Path::new(".")).ok()),
    }
}

/// Creates a job with `create`, waits for it, and prints or saves the result.
async fn run_job<F>(
    ctx: &Ctx,
    label: &str,
    out: &OutputArgs,
    target: Option<Target>,
    create: F,
) -> Result<Job, CliError>
where
    F: std::future::Future<Output = Result<Job, varg_core::Error>>,
{
    ctx.inflight.creating();
    let job = match create.await {
        Ok(job) => {
            ctx.inflight.created(
                Some(job.job_id.as_str()),
                target.as_ref().and_then(Target::hint_path),
            );
            job
        }
        Err(err) => {
            ctx.inflight.created(None, None);
            return Err(err.into());
        }
    };
    ctx.printer
        .event(json!({"event": "created", "job_id": job.job_id, "status": job.status}));
    ctx.printer
        .note(&format!("{label} job {} created", job.job_id));
    if out.no_wait {
        ctx.inflight.finished(job.job_id.as_str());
        let flags = ctx.backend.resume_flags();
        ctx.printer
            .result(&describe(&job), json!({"event": "job", "job": job}));
        ctx.printer.note(&format!(
            "`varg job wait {}{flags}` waits for it",
            job.job_id
        ));
        return Ok(job);
    }
    finish(ctx, label, job, target).await
}

/// Waits for `job`, then saves its output to `target` or prints its URL.
async fn finish(ctx: &Ctx, label: &str, job: Job, target: Option<Target>) -> Result<Job, CliError> {
    let bar = ctx.printer.spinner(label);
    bar.set_message(job.status.to_string());
    let waited = ctx.client.wait_for(job, ctx.wait_options(&bar)).await;
    bar.finish_and_clear();
    let job = match waited {
        Ok(job) => job,
        Err(err) => {
            if let Some(id) = err.job_id() {
                ctx.inflight.finished(id.as_str());
            }
            return Err(err.into());
        }
    };
    let Some(target) = target else {
        ctx.inflight.finished(job.job_id.as_str());
        ctx.printer
            .result(&describe(&job), json!({"event": "completed", "job": job}));
        return Ok(job);
    };
    let (file, bytes) = save(ctx, &job, &target).await?;
    ctx.inflight.finished(job.job_id.as_str());
    let cache = if job.cache_hit() { ", cache hit" } else { "" };
    match file {
        Some(path) => ctx.printer.result(
            &format!(
                "saved {} ({bytes} bytes, {}{cache})",
                path.display(),
                job.job_id
            ),
            json!({"event": "completed", "job": job, "file": path, "bytes": bytes}),
        ),
        // The output went to stdout: the summary goes to stderr.
        None => ctx.printer.note(&format!(
            "wrote {bytes} bytes to stdout ({}{cache})",
            job.job_id
        )),
    }
    Ok(job)
}

async fn image(ctx: &Ctx, args: ImageArgs) -> Result<(), CliError> {
    let target = plan_target(ctx, &args.out)?;
    let inputs = Input::parse_all(&args.files)?;
    let mut request = ImageRequest::new(args.model, args.prompt);
    request.aspect_ratio = args.aspect_ratio.map(AspectRatio::new);
    request.provider_options = provider_options(&args.options)?;
    request.files = stand_ins(&inputs);
    check(&request)?;
    crate::catalogue::warn_unknown(ctx.printer, &request.model, &Capability::Image);
    request.files = resolve_all(ctx, &inputs).await?;
    run_job(
        ctx,
        "image",
        &args.out,
        target,
        ctx.client.create_image(&request),
    )
    .await
    .map(|_| ())
}

async fn video(ctx: &Ctx, args: VideoArgs) -> Result<(), CliError> {
    let target = plan_target(ctx, &args.out)?;
    let inputs = Input::parse_all(&args.files)?;
    let mut request = VideoRequest::new(args.model, args.prompt);
    request.duration = args.duration;
    request.aspect_ratio = args.aspect_ratio.map(AspectRatio::new);
    request.provider_options = provider_options(&args.options)?;
    request.files = stand_ins(&inputs);
    check(&request)?;
    crate::catalogue::warn_unknown(ctx.printer, &request.model, &Capability::Video);
    request.files = resolve_all(ctx, &inputs).await?;
    run_job(
        ctx,
        "video",
        &args.out,
        target,
        ctx.client.create_video(&request),
    )
    .await
    .map(|_| ())
}

async fn speech(ctx: &Ctx, args: SpeechArgs) -> Result<(), CliError> {
    let target = plan_target(ctx, &args.out)?;
    let mut request = SpeechRequest::new(args.model, args.text);
    request.voice = args.voice.map(Voice::new);
    request.provider_options = provider_options(&args.options)?;
    check(&request)?;
    crate::catalogue::warn_unknown(ctx.printer, &request.model, &Capability::Speech);
    run_job(
        ctx,
        "speech",
        &args.out,
        target,
        ctx.client.create_speech(&request),
    )
    .await
    .map(|_| ())
}

async fn music(ctx: &Ctx, args: MusicArgs) -> Result<(), CliError> {
    let target = plan_target(ctx, &args.out)?;
    let mut request = MusicRequest::new(args.model, args.prompt);
    request.duration = args.duration;
    request.provider_options = provider_options(&args.options)?;
    check(&request)?;
    crate::catalogue::warn_unknown(ctx.printer, &request.model, &Capability::Music);
    run_job(
        ctx,
        "music",
        &args.out,
        target,
        ctx.client.create_music(&request),
    )
    .await
    .map(|_| ())
}

async fn transcribe(ctx: &Ctx, args: TranscribeArgs) -> Result<(), CliError> {
    let target = plan_target(ctx, &args.out)?;
    let audio = Input::parse(&args.audio)?;
    let mut request = TranscriptionRequest::new(args.model, audio.stand_in());
    request.language = args.language;
    check(&request)?;
    crate::catalogue::warn_unknown(ctx.printer, &request.model, &Capability::Transcription);
    request.audio_url = audio.resolve(ctx).await?;
    run_job(
        ctx,
        "transcription",
        &args.out,
        target,
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
            let target = plan_output(ctx, output.as_deref(), false)?;
            ctx.inflight
                .watching(&id, target.as_ref().and_then(Target::hint_path));
            let job = ctx.client.get_job(&id).await;
            let job = job.inspect_err(|_| ctx.inflight.finished(&id))?;
            finish(ctx, "job", job, target).await?;
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
            let target = plan_target(ctx, &out)?;
            let url = url.as_deref().map(Input::parse).transpose()?;
            let labelled = pairs(&inputs, "--input")?
                .into_iter()
                .map(|(label, input)| Ok((label, Input::parse(&input)?)))
                .collect::<Result<Vec<_>, CliError>>()?;
            let build = |url: Option<String>, labelled: Vec<(String, String)>| {
                let mut request = FfmpegRequest::new(command.clone());
                request.url = url;
                for (label, input) in labelled {
                    request = request.input_file(label, input);
                }
                for (label, name) in pairs(&outputs, "--output-file")? {
                    request = request.output_file(label, name);
                }
                if output_folder {
                    request = request.output_folder();
                }
                Ok::<_, CliError>(request)
            };
            check(&build(
                url.as_ref().map(Input::stand_in),
                labelled
                    .iter()
                    .map(|(l, i)| (l.clone(), i.stand_in()))
                    .collect(),
            )?)?;
            let url = match &url {
                Some(input) => Some(input.resolve(ctx).await?),
                None => None,
            };
            let mut resolved = Vec::with_capacity(labelled.len());
            for (label, input) in &labelled {
                resolved.push((label.clone(), input.resolve(ctx).await?));
            }
            let request = build(url, resolved)?;
            run_job(ctx, "ffmpeg", &out, target, ctx.client.ffmpeg(&request)).await?;
        }
        MediaCommand::Trim {
            url,
            start,
            end,
            duration,
            precise,
            out,
        } => {
            let target = plan_target(ctx, &out)?;
            let source = Input::parse(&url)?;
            let mut request = TrimRequest::new(source.stand_in(), start);
            request.end = end;
            request.duration = duration;
            request.precise = precise.then_some(true);
            check(&request)?;
            request.url = source.resolve(ctx).await?;
            run_job(ctx, "trim", &out, target, ctx.client.trim(&request)).await?;
        }
        MediaCommand::Resize {
            url,
            width,
            height,
            fit,
            out,
        } => {
            let target = plan_target(ctx, &out)?;
            let source = Input::parse(&url)?;
            let mut request = ResizeRequest::new(source.stand_in());
            request.width = width;
            request.height = height;
            request.fit = fit.as_deref().map(ResizeFit::from_wire);
            check(&request)?;
            request.url = source.resolve(ctx).await?;
            run_job(ctx, "resize", &out, target, ctx.client.resize(&request)).await?;
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
            let target = plan_target(ctx, &out)?;
            let source = Input::parse(&url)?;
            let mut request = SliceRequest::new(source.stand_in());
            request.every = every;
            request.at = (!at.is_empty()).then_some(at);
            request.count = count;
            request.codec = codec.as_deref().map(SliceCodec::from_wire);
            request.thumbnails = no_thumbnails.then_some(false);
            check(&request)?;
            request.video_url = source.resolve(ctx).await?;
            let job = run_job(ctx, "slice", &out, target, ctx.client.slice(&request)).await?;
            if !ctx.printer.json && !ctx.printer.quiet {
                for (i, segment) in job
                    .metadata
                    .iter()
                    .flat_map(|m| m.segments.iter().flatten())
                    .enumerate()
                {
                    stdout_line(&format!(
                        "  segment {}: {} ({}-{} s)",
                        i + 1,
                        segment.url.as_deref().unwrap_or("-"),
                        segment.start.map_or("?".into(), |s| s.to_string()),
                        segment.end.map_or("?".into(), |s| s.to_string())
                    ));
                }
            }
        }
        MediaCommand::Probe { url } => {
            let source = Input::parse(&url)?;
            let mut request = ProbeRequest::new(source.stand_in());
            check(&request)?;
            request.url = source.resolve(ctx).await?;
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
    let credits = |model: &ModelInfo| match model.credits {
        Some((lo, hi)) if lo == hi => format!("{lo}"),
        Some((lo, hi)) => format!("{lo}-{hi}"),
        None => "-".into(),
    };
    // Column widths from the rows themselves, so the table stays aligned as it grows.
    let width = |header: &str, cell: &dyn Fn(&ModelInfo) -> String| {
        selected
            .iter()
            .map(|m| cell(m).chars().count())
            .chain([header.len()])
            .max()
            .unwrap_or(0)
    };
    let id = |m: &ModelInfo| m.id.as_str().to_owned();
    let kind = |m: &ModelInfo| m.kind.as_str().to_owned();
    let provider = |m: &ModelInfo| m.provider.unwrap_or("-").to_owned();
    let (wi, wk, wp, wc) = (
        width("MODEL", &id),
        width("KIND", &kind),
        width("PROVIDER", &provider),
        width("CREDITS", &credits),
    );
    if !printer.json && !printer.quiet {
        stdout_line(&format!(
            "{:<wi$}  {:<wk$}  {:<wp$}  {:>wc$}",
            "MODEL", "KIND", "PROVIDER", "CREDITS"
        ));
    }
    for model in selected.iter().copied() {
        printer.result(
            &format!(
                "{:<wi$}  {:<wk$}  {:<wp$}  {:>wc$}",
                id(model),
                kind(model),
                provider(model),
                credits(model)
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

async fn emulator(
    args: varg_emulator::cli::EmulatorArgs,
    printer: Printer,
) -> Result<(), CliError> {
    let addr = args.addr;
    let builder = args.to_builder().map_err(CliError::usage)?;
    let handle = builder
        .start()
        .await
        .map_err(|e| CliError::other(format!("cannot start the emulator on {addr}: {e}")))?;
    let base_url = handle.base_url();
    // A server outlives its audience: a closed stdout must not stop it (unlike other
    // commands, which end quietly on a closed pipe).
    let line = if printer.json {
        json!({"event": "emulator", "base_url": base_url}).to_string()
    } else {
        format!(
            "varg emulator listening; base URL {base_url}\n  export VARG_BASE_URL={base_url} VARG_API_KEY=varg_local"
        )
    };
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    }
    // Serve until the process is interrupted (main handles the signal).
    std::future::pending::<()>().await;
    drop(handle);
    Ok(())
}
