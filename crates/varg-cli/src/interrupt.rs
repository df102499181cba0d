//! What a command leaves behind when it is stopped early (SIGINT, SIGTERM or `--timeout`):
//! the jobs it created and has not seen finish, and the partial downloads it was writing.
//!
//! Commands register each job the moment the gateway returns its id, and each `.part` file
//! while it is written. When the command is stopped, [`Inflight::abandon`] removes the partial
//! files and, for every job, either cancels it (when asked) or prints how to pick it up again,
//! so a stopped command never loses a job that keeps running and billing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use varg_async::Client;
use varg_emulator::EmulatorHandle;

use crate::output::stderr_line;

/// Why the command was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT (Ctrl-C) or SIGTERM.
    Signal,
    /// `--timeout` passed.
    Timeout,
}

/// Jobs and files a running command is responsible for.
#[derive(Default)]
pub struct Inflight {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    client: Option<Client>,
    resume_flags: &'static str,
    jobs: BTreeMap<String, Option<PathBuf>>,
    creating: usize,
    parts: BTreeSet<PathBuf>,
    batch: Option<String>,
    emulator: Option<EmulatorHandle>,
}

impl Inflight {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The client to cancel with, and the flags a resume command must repeat.
    pub fn connected(&self, client: &Client, resume_flags: &'static str) {
        let mut state = self.lock();
        state.client = Some(client.clone());
        state.resume_flags = resume_flags;
    }

    /// The flags a command must repeat to reach this command's jobs.
    pub fn resume_flags(&self) -> &'static str {
        self.lock().resume_flags
    }

    /// Keeps the in-process emulator serving until the process exits, so a stopped command
    /// can still cancel its jobs there (and they are saved in its state directory).
    pub fn keep_alive(&self, emulator: EmulatorHandle) {
        self.lock().emulator = Some(emulator);
    }

    /// A create request is about to be sent (its job id is not known yet).
    pub fn creating(&self) {
        self.lock().creating += 1;
    }

    /// The create request ended: with a job (`Some`), or with an error.
    pub fn created(&self, job_id: Option<&str>, output: Option<PathBuf>) {
        let mut state = self.lock();
        state.creating = state.creating.saturating_sub(1);
        if let Some(id) = job_id {
            state.jobs.insert(id.to_owned(), output);
        }
    }

    /// A job being waited on by id (`varg job wait`).
    pub fn watching(&self, job_id: &str, output: Option<PathBuf>) {
        self.lock().jobs.insert(job_id.to_owned(), output);
    }

    /// The job finished (or its output was saved): nothing to resume.
    pub fn finished(&self, job_id: &str) {
        self.lock().jobs.remove(job_id);
    }

    /// A partial download file exists at `path`.
    pub fn part_started(&self, path: PathBuf) {
        self.lock().parts.insert(path);
    }

    /// The partial file at `path` was renamed or removed.
    pub fn part_done(&self, path: &PathBuf) {
        self.lock().parts.remove(path);
    }

    /// A batch is running: the resume hint is the same command again.
    pub fn batch(&self, command: String) {
        self.lock().batch = Some(command);
    }

    /// Cleans up after a stop and says what was left running. Cancels the jobs when `cancel`.
    pub async fn abandon(&self, why: Stop, cancel: bool) {
        let (client, flags, jobs, creating, parts, batch) = {
            let mut state = self.lock();
            (
                state.client.clone(),
                state.resume_flags,
                std::mem::take(&mut state.jobs),
                state.creating,
                std::mem::take(&mut state.parts),
                state.batch.take(),
            )
        };
        for part in &parts {
            let _ = std::fs::remove_file(part);
        }
        let what = match why {
            Stop::Signal => "interrupted",
            Stop::Timeout => "--timeout passed",
        };
        if creating > 0 {
            stderr_line(&format!(
                "{what} while a job was being created: if the gateway created it, it is listed by `varg usage{flags}`"
            ));
        }
        if let Some(command) = batch {
            stderr_line(&format!(
                "{what}: every job created so far is in the batch journal; `{command}` resumes without creating them again"
            ));
            if !cancel {
                return;
            }
        }
        for (id, output) in jobs {
            if cancel && let Some(client) = &client {
                let cancelled =
                    tokio::time::timeout(Duration::from_secs(5), client.cancel_job(&id)).await;
                match cancelled {
                    Ok(Ok(())) => stderr_line(&format!("{what}: cancel requested for {id}")),
                    Ok(Err(err)) => stderr_line(&format!(
                        "{what}: could not cancel {id} ({err}); `varg job cancel {id}{flags}` tries again"
                    )),
                    Err(_) => stderr_line(&format!(
                        "{what}: no answer to the cancel of {id} within 5 s; `varg job cancel {id}{flags}` tries again"
                    )),
                }
                continue;
            }
            let output = output
                .map(|p| format!(" -o {}", shell_word(&p.display().to_string())))
                .unwrap_or_default();
            stderr_line(&format!(
                "{what}: job {id} is still running; `varg job wait {id}{flags}{output}` picks it up (or `varg job cancel {id}{flags}`)"
            ));
        }
    }
}

/// `word` quoted for a POSIX shell when it needs it.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Resolves when the process gets SIGINT or (on Unix) SIGTERM.
pub async fn signalled() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        match (int, term) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            // No signal handling available: never resolve (the default action still applies).
            _ => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("out/logo.png"), "out/logo.png");
        assert_eq!(shell_word("my logo.png"), "'my logo.png'");
        assert_eq!(shell_word("it's.png"), r"'it'\''s.png'");
    }
}
