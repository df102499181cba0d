//! Where a job's output goes (`-o`), checked before anything is sent, and the download into it.
//!
//! A bad path must never cost a paid job: [`Target::plan`] checks that the file can be written
//! (its directory exists, is a directory and accepts a new file) before the create request
//! leaves. Writing happens into `<path>.part`, renamed when complete; the partial file is
//! removed on every failure and on interrupt, and every IO error names the path and carries
//! the job id.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;
use varg_types::Job;

use crate::CliError;
use crate::commands::Ctx;

/// A checked output destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// This file (created or replaced).
    File(PathBuf),
    /// A file named after the job (`<job_id>.<ext>`) in this directory.
    Dir(PathBuf),
    /// Standard output (`-o -`).
    Stdout,
}

impl Target {
    /// Checks `-o PATH` before any request is sent.
    pub fn plan(path: &Path) -> Result<Target, CliError> {
        if path.as_os_str() == "-" {
            return Ok(Target::Stdout);
        }
        let shown = path.display();
        if path.is_dir() {
            writable_dir(path, path)?;
            return Ok(Target::Dir(path.to_owned()));
        }
        let text = path.as_os_str().to_string_lossy();
        if text.ends_with('/') || text.ends_with(std::path::MAIN_SEPARATOR) {
            return Err(CliError::usage(format!(
                "-o {shown}: no such directory (create it first, or name a file)"
            )));
        }
        if path.file_name().is_none() {
            return Err(CliError::usage(format!("-o {shown}: not a file name")));
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        match std::fs::metadata(parent) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(CliError::usage(format!(
                    "-o {shown}: {} is not a directory",
                    parent.display()
                )));
            }
            Err(err) => {
                return Err(CliError::usage(format!(
                    "-o {shown}: directory {} does not exist ({err}); create it first",
                    parent.display()
                )));
            }
        }
        if let Ok(meta) = std::fs::symlink_metadata(path)
            && !meta.is_file()
            && !meta.file_type().is_symlink()
        {
            return Err(CliError::usage(format!(
                "-o {shown}: exists and is not a regular file"
            )));
        }
        writable_dir(parent, path)?;
        Ok(Target::File(path.to_owned()))
    }

    /// The file to write for `job` (`None` for standard output).
    pub fn path_for(&self, job: &Job) -> Option<PathBuf> {
        match self {
            Target::File(path) => Some(path.clone()),
            Target::Dir(dir) => Some(dir.join(file_name_for(job))),
            Target::Stdout => None,
        }
    }

    /// Where a resumed `varg job wait` should write (for hints).
    pub fn hint_path(&self) -> Option<PathBuf> {
        match self {
            Target::File(path) | Target::Dir(path) => Some(path.clone()),
            Target::Stdout => None,
        }
    }
}

/// `<job_id>.<ext>`, with the id made safe as a file name.
pub fn file_name_for(job: &Job) -> String {
    format!(
        "{}.{}",
        crate::batch::sanitize(job.job_id.as_str()),
        crate::batch::extension(job)
    )
}

/// Proves `dir` accepts a new file by creating and removing one.
fn writable_dir(dir: &Path, shown: &Path) -> Result<(), CliError> {
    tempfile::Builder::new()
        .prefix(".varg-write-check")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|err| {
            CliError::usage(format!(
                "-o {}: cannot write in {} ({err})",
                shown.display(),
                dir.display()
            ))
        })
}

/// An IO error about `path`, carrying the job it concerns.
fn io_error(what: &str, path: &Path, job: &Job, err: std::io::Error) -> CliError {
    CliError {
        code: 5,
        message: format!("{what} {}: {err}", path.display()),
        job_id: Some(job.job_id.to_string()),
        resume: true,
    }
}

/// Downloads `job`'s output to `target`; returns the file written (if any) and the byte count.
pub async fn save(
    ctx: &Ctx,
    job: &Job,
    target: &Target,
) -> Result<(Option<PathBuf>, u64), CliError> {
    let Some(path) = target.path_for(job) else {
        let mut out = tokio::io::stdout();
        let written = ctx.client.download(job, &mut out, None).await;
        let flushed = out.flush().await;
        return match (written, flushed) {
            (Ok(n), Ok(())) => Ok((None, n)),
            (_, Err(err)) if err.kind() == std::io::ErrorKind::BrokenPipe => {
                crate::output::closed_pipe(err)
            }
            (Err(err), _) => Err(CliError::from(err.with_job_id(&job.job_id))),
            (Ok(_), Err(err)) => Err(CliError {
                code: 5,
                message: format!("cannot write to stdout: {err}"),
                job_id: Some(job.job_id.to_string()),
                resume: true,
            }),
        };
    };
    let bytes = save_to_path(ctx, job, &path).await?;
    Ok((Some(path), bytes))
}

/// Downloads `job`'s output into `path` through `<path>.part`.
pub async fn save_to_path(ctx: &Ctx, job: &Job, path: &Path) -> Result<u64, CliError> {
    let bar = ctx.printer.download_bar(&path.display().to_string());
    let progress_bar = bar.clone();
    let progress = move |p: varg_async::DownloadProgress| {
        if let Some(total) = p.total {
            progress_bar.set_length(total);
        }
        progress_bar.set_position(p.downloaded);
    };
    let mut part = path.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let mut file = tokio::fs::File::create(&part)
        .await
        .map_err(|e| io_error("cannot create", &part, job, e))?;
    ctx.inflight.part_started(part.clone());
    let result = async {
        let written = ctx
            .client
            .download(job, &mut file, Some(&progress))
            .await
            .map_err(|err| CliError::from(err.with_job_id(&job.job_id)))?;
        file.flush()
            .await
            .map_err(|e| io_error("cannot write", &part, job, e))?;
        file.sync_all()
            .await
            .map_err(|e| io_error("cannot write", &part, job, e))?;
        tokio::fs::rename(&part, path)
            .await
            .map_err(|e| io_error("cannot rename the download to", path, job, e))?;
        Ok(written)
    }
    .await;
    bar.finish_and_clear();
    drop(file);
    if result.is_err() {
        let _ = tokio::fs::remove_file(&part).await;
    }
    ctx.inflight.part_done(&part);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_paths_are_checked_before_anything_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cat.png");
        std::fs::write(&file, b"x").unwrap();

        assert_eq!(Target::plan(Path::new("-")).unwrap(), Target::Stdout);
        assert_eq!(
            Target::plan(dir.path()).unwrap(),
            Target::Dir(dir.path().to_owned())
        );
        assert_eq!(Target::plan(&file).unwrap(), Target::File(file.clone()));
        let new = dir.path().join("new.png");
        assert_eq!(Target::plan(&new).unwrap(), Target::File(new));

        let under_a_file = Target::plan(&file.join("x.png")).unwrap_err();
        assert_eq!(under_a_file.code, 2);
        assert!(
            under_a_file.message.contains("is not a directory"),
            "{}",
            under_a_file.message
        );
        let missing = Target::plan(&dir.path().join("nope/x.png")).unwrap_err();
        assert!(
            missing.message.contains("does not exist"),
            "{}",
            missing.message
        );
        let slash = Target::plan(&dir.path().join("outdir/")).unwrap_err();
        assert!(
            slash.message.contains("no such directory"),
            "{}",
            slash.message
        );
        // Nothing was left behind by the write checks.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_unwritable_directory_is_refused() {
        let err = Target::plan(Path::new("/proc/varg-test.png")).unwrap_err();
        assert!(
            err.message.contains("cannot write in /proc"),
            "{}",
            err.message
        );
    }
}
