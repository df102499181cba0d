//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Generate images, video, speech, music and transcriptions with the varg gateway.
///
/// With no API key (no --api-key, no VARG_API_KEY, no ~/.varg/credentials) the command runs on
/// a built-in local emulator: placeholder media of the right kind and shape, at no cost.
#[derive(Debug, Parser)]
#[command(name = "varg", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// The documented exit codes.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  a job failed, was cancelled, or did not finish before --timeout
  2  usage: bad arguments or a request that breaks a documented rule
  3  authentication or balance (401, 402, 403)
  4  network: connection, timeout, rate limit or server errors that outlasted the retries
  5  any other error (not found, unreadable response, local I/O)";

/// Options every command takes (listed under "Global options" in every command's help).
#[derive(Debug, Args)]
pub struct Global {
    /// API key (default: VARG_API_KEY, then ~/.varg/credentials).
    #[arg(long, global = true, env = "VARG_API_KEY", hide_env_values = true, help_heading = GLOBAL)]
    pub api_key: Option<String>,
    /// Gateway base URL (default: VARG_BASE_URL, then https://api.varg.ai/v1). Always used
    /// when given; with no key it must name this machine (e.g. a `varg emulator`).
    #[arg(long, global = true, env = "VARG_BASE_URL", help_heading = GLOBAL)]
    pub base_url: Option<String>,
    /// Run on the built-in local emulator even if an API key is configured.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub emulator: bool,
    /// Print one JSON object per line on stdout (for machines).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,
    /// Print nothing but errors (and, with --json, the JSON lines).
    #[arg(long, short, global = true, help_heading = GLOBAL)]
    pub quiet: bool,
    /// Log to stderr: once for the SDK's requests and retries, twice for everything
    /// (RUST_LOG overrides). No short form: `-v` is `speech --voice`.
    #[arg(long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,
    /// Bound the whole command (requests, retries, the wait and the download) to this many
    /// seconds. A job still running then keeps its id (printed, with how to wait for it).
    #[arg(long, global = true, value_name = "SECONDS", help_heading = GLOBAL)]
    pub timeout: Option<f64>,
    /// Cancel the job when --timeout passes.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub cancel_on_timeout: bool,
    /// Cancel the job on Ctrl-C / SIGTERM (by default it keeps running and the command
    /// prints how to pick it up).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub cancel_on_interrupt: bool,
    /// Cache control: `default`, `no-cache` (skip the lookup, still store) or `no-store`.
    #[arg(long, global = true, value_enum, default_value_t = CacheArg::Default, help_heading = GLOBAL)]
    pub cache: CacheArg,
}

/// The help heading of [`Global`]'s flags.
const GLOBAL: &str = "Global options";

/// `--cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CacheArg {
    /// Use the gateway cache.
    Default,
    /// Skip the cache lookup but store the result.
    NoCache,
    /// Bypass the cache entirely.
    NoStore,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate, edit or upscale an image.
    Image(ImageArgs),
    /// Generate, edit, lip-sync or upscale a video.
    Video(VideoArgs),
    /// Turn text into speech.
    Speech(SpeechArgs),
    /// Generate music.
    Music(MusicArgs),
    /// Transcribe audio (a local file is uploaded first).
    Transcribe(TranscribeArgs),
    /// Upload a file (deduplicated by content hash) and print its URL.
    Upload(UploadArgs),
    /// Inspect, wait for or cancel a job.
    #[command(subcommand)]
    Job(JobCommand),
    /// Media processing: ffmpeg, trim, resize, slice, probe.
    #[command(subcommand)]
    Media(MediaCommand),
    /// List voices, optionally filtered by a substring of the name or id.
    Voices(VoicesArgs),
    /// Show the account balance.
    Balance,
    /// Show usage for a date range.
    Usage(UsageArgs),
    /// Show the current user.
    Me,
    /// List the documented models, optionally for one capability or kind.
    Models(ModelsArgs),
    /// Run the local emulator (a varg gateway on loopback) until interrupted.
    Emulator(varg_emulator::cli::EmulatorArgs),
    /// Run one request per line of a JSONL file, resumably.
    Batch(BatchArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
}

/// `varg completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Writes the completion script for `shell` to stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<(), crate::CliError> {
    use clap::CommandFactory;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "varg", &mut script);
    let mut out = std::io::stdout().lock();
    if let Err(err) =
        std::io::Write::write_all(&mut out, &script).and_then(|()| std::io::Write::flush(&mut out))
    {
        crate::output::closed_pipe(err);
    }
    Ok(())
}

/// Where to put a job's output.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Write the output to this file, into this directory (named after the job), or to
    /// stdout with `-`. Checked before the job is created. Without it the output URL is
    /// printed, or on the built-in emulator the file is saved in the current directory.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Print the job as soon as it is created, without waiting.
    #[arg(long, conflicts_with = "output")]
    pub no_wait: bool,
}

/// `varg image`.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// What to draw (for edit models the change; may be empty for upscale models).
    pub prompt: String,
    /// Model: text-to-image, edit or upscale (see `varg models image`).
    #[arg(long, short, default_value = "flux-schnell")]
    pub model: String,
    /// Aspect ratio, W:H (gateway default 1:1).
    #[arg(long, short)]
    pub aspect_ratio: Option<String>,
    /// Input image: a URL, or a local file that is uploaded first. Repeatable.
    #[arg(long = "file", short = 'f', value_name = "PATH_OR_URL")]
    pub files: Vec<String>,
    /// Provider option KEY=VALUE (VALUE parsed as JSON when it can be). Repeatable.
    #[arg(long = "option", value_name = "KEY=VALUE")]
    pub options: Vec<String>,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `varg video`.
#[derive(Debug, Args)]
pub struct VideoArgs {
    /// What to film (may be empty for lipsync and upscale models).
    pub prompt: String,
    /// Model (see `varg models video`).
    #[arg(long, short, default_value = "kling-v3")]
    pub model: String,
    /// Length in seconds (gateway default 5).
    #[arg(long, short)]
    pub duration: Option<f64>,
    /// Aspect ratio, W:H.
    #[arg(long, short)]
    pub aspect_ratio: Option<String>,
    /// Input file (start/end frame, source video, audio): a URL or a local file. Repeatable.
    #[arg(long = "file", short = 'f', value_name = "PATH_OR_URL")]
    pub files: Vec<String>,
    /// Provider option KEY=VALUE. Repeatable.
    #[arg(long = "option", value_name = "KEY=VALUE")]
    pub options: Vec<String>,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `varg speech`.
#[derive(Debug, Args)]
pub struct SpeechArgs {
    /// The text to speak.
    pub text: String,
    /// Model (see `varg models speech`).
    #[arg(long, short, default_value = "eleven_multilingual_v2")]
    pub model: String,
    /// Voice name (rachel, domi, sarah, ...) or an ElevenLabs voice id (gateway default rachel).
    #[arg(long, short)]
    pub voice: Option<String>,
    /// Provider option KEY=VALUE. Repeatable.
    #[arg(long = "option", value_name = "KEY=VALUE")]
    pub options: Vec<String>,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `varg music`.
#[derive(Debug, Args)]
pub struct MusicArgs {
    /// Genre, mood, tempo, instruments.
    pub prompt: String,
    /// Model.
    #[arg(long, short, default_value = "music_v1")]
    pub model: String,
    /// Length in seconds.
    #[arg(long, short)]
    pub duration: Option<f64>,
    /// Provider option KEY=VALUE. Repeatable.
    #[arg(long = "option", value_name = "KEY=VALUE")]
    pub options: Vec<String>,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `varg transcribe`.
#[derive(Debug, Args)]
pub struct TranscribeArgs {
    /// The audio: a URL, or a local file that is uploaded first.
    pub audio: String,
    /// Model (see `varg models transcription`).
    #[arg(long, short, default_value = "whisper")]
    pub model: String,
    /// Language code (detected when omitted).
    #[arg(long, short)]
    pub language: Option<String>,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `varg upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The file to upload (at most 50 MB).
    pub path: PathBuf,
}

/// `varg job ...`.
#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Print a job.
    Get {
        /// The job id.
        id: String,
    },
    /// Cancel a queued or processing job.
    Cancel {
        /// The job id.
        id: String,
    },
    /// Wait for a job to finish (and optionally save its output).
    Wait {
        /// The job id.
        id: String,
        /// Write the output to this file, directory, or `-` for stdout.
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// Print each status change of a job until it finishes.
    Events {
        /// The job id.
        id: String,
    },
}

/// `varg media ...`.
#[derive(Debug, Subcommand)]
pub enum MediaCommand {
    /// Run an ffmpeg command with {{in_N}} / {{out_N}} placeholders.
    Ffmpeg {
        /// The ffmpeg arguments (may start with `-`).
        #[arg(allow_hyphen_values = true)]
        command: String,
        /// Shorthand input for {{in_1}} (URL or local file).
        #[arg(long)]
        url: Option<String>,
        /// Labelled input LABEL=PATH_OR_URL. Repeatable.
        #[arg(long = "input", value_name = "LABEL=PATH_OR_URL")]
        inputs: Vec<String>,
        /// Labelled output LABEL=FILE_NAME. Repeatable.
        #[arg(
            long = "output-file",
            value_name = "LABEL=NAME",
            conflicts_with = "output_folder"
        )]
        outputs: Vec<String>,
        /// Return every file the command writes.
        #[arg(long)]
        output_folder: bool,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Trim a video.
    Trim {
        /// Source video (URL or local file).
        url: String,
        /// Start in seconds.
        #[arg(long)]
        start: f64,
        /// End in seconds.
        #[arg(long, conflicts_with = "duration")]
        end: Option<f64>,
        /// Length in seconds.
        #[arg(long)]
        duration: Option<f64>,
        /// Re-encode for frame-accurate cuts.
        #[arg(long)]
        precise: bool,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Resize a video.
    Resize {
        /// Source video (URL or local file).
        url: String,
        /// Width in pixels.
        #[arg(long)]
        width: Option<u32>,
        /// Height in pixels.
        #[arg(long)]
        height: Option<u32>,
        /// cover, contain or stretch.
        #[arg(long)]
        fit: Option<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Slice a video into segments.
    Slice {
        /// Source video (URL or local file).
        url: String,
        /// Split every N seconds.
        #[arg(long)]
        every: Option<f64>,
        /// Split at these timestamps (comma separated).
        #[arg(long, value_delimiter = ',')]
        at: Vec<f64>,
        /// Split into N equal parts.
        #[arg(long)]
        count: Option<u32>,
        /// copy or reencode.
        #[arg(long)]
        codec: Option<String>,
        /// Skip per-segment thumbnails.
        #[arg(long)]
        no_thumbnails: bool,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Print the metadata of a media file (synchronous).
    Probe {
        /// The file (URL or local file).
        url: String,
    },
}

/// `varg voices`.
#[derive(Debug, Args)]
pub struct VoicesArgs {
    /// Only voices whose name or id contains this (case-insensitive).
    pub filter: Option<String>,
}

/// `varg usage`.
#[derive(Debug, Args)]
pub struct UsageArgs {
    /// First day, YYYY-MM-DD.
    #[arg(long)]
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD.
    #[arg(long)]
    pub to: Option<String>,
}

/// `varg models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// image, video, speech, music, transcription, or a kind such as lipsync or image_edit.
    pub capability: Option<String>,
}

/// `varg batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// JSONL file: one request per line, e.g. {"type":"image","model":"flux-schnell","prompt":"a cat"}.
    pub file: PathBuf,
    /// Jobs in flight at once.
    #[arg(long, short, default_value_t = 4)]
    pub concurrency: usize,
    /// Where outputs and the manifest journal go.
    #[arg(long, default_value = "varg-batch-out")]
    pub out_dir: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_line_definition_is_consistent() {
        // clap checks flag clashes (a global short flag against a command's own) lazily, at
        // parse time of the command concerned; this checks every command up front.
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
