//! What the command prints: human text and spinners on stderr, results on stdout, or one JSON
//! object per line with `--json`.
//!
//! Every write goes through [`stdout_line`] / [`stderr_line`]: a closed pipe (`varg models |
//! head`) ends the process quietly with exit code 0, as other Unix tools do, instead of the
//! panic `println!` gives.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use varg_types::Job;

/// Writes one line to stdout and flushes it; exits 0 when the reader has gone away.
pub fn stdout_line(text: &str) {
    let mut out = std::io::stdout().lock();
    let written = writeln!(out, "{text}").and_then(|()| out.flush());
    if let Err(err) = written {
        closed_pipe(err);
    }
}

/// Writes one line to stderr. A closed stderr is ignored (there is nowhere left to report).
pub fn stderr_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// A write to stdout failed: a closed pipe ends the command successfully (the reader has
/// what it wanted); any other error is reported once and exits 5.
pub fn closed_pipe(err: std::io::Error) -> ! {
    if err.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    stderr_line(&format!("error: cannot write to stdout: {err}"));
    std::process::exit(5);
}

/// The printer every command writes through.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// `--json`.
    pub json: bool,
    /// `--quiet`.
    pub quiet: bool,
}

impl Printer {
    /// Prints a JSON event line (in `--json` mode only).
    pub fn event(&self, value: Value) {
        if self.json {
            stdout_line(&value.to_string());
        }
    }

    /// Prints a result: `value` as a JSON line in `--json` mode, `text` otherwise (unless quiet).
    pub fn result(&self, text: &str, value: Value) {
        if self.json {
            self.event(value);
        } else if !self.quiet {
            stdout_line(text);
        }
    }

    /// A note for people on stderr (never in `--json` or `--quiet` mode).
    pub fn note(&self, text: &str) {
        if !self.json && !self.quiet {
            stderr_line(text);
        }
    }

    /// A spinner on stderr that follows a job; hidden when stderr is not a terminal, in
    /// `--json` and in `--quiet` mode.
    pub fn spinner(&self, label: &str) -> ProgressBar {
        let visible = !self.json && !self.quiet && std::io::stderr().is_terminal();
        let bar = if visible {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(label.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    /// A byte progress bar for downloads, hidden like [`Printer::spinner`].
    pub fn download_bar(&self, label: &str) -> ProgressBar {
        let visible = !self.json && !self.quiet && std::io::stderr().is_terminal();
        let bar = if visible {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(label.to_owned());
        bar
    }

    /// Reports one status change of a job.
    pub fn status(&self, bar: &ProgressBar, job: &Job) {
        bar.set_message(job.status.to_string());
        self.event(json!({"event": "status", "job_id": job.job_id, "status": job.status}));
    }
}

/// A one-line human summary of a job.
pub fn describe(job: &Job) -> String {
    let mut text = format!("{} {}", job.job_id, job.status);
    if let Some(url) = job.output_url() {
        text.push(' ');
        text.push_str(url);
    }
    if job.cache_hit() {
        text.push_str(" (cache hit)");
    }
    if let Some(error) = &job.error {
        text.push_str(": ");
        text.push_str(error);
    }
    text
}
