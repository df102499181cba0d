//! Which gateway a command talks to: the configured one, a local one named by URL, or the
//! built-in emulator, and the client for it.
//!
//! The rule, in order:
//! 1. `--emulator` runs on the built-in emulator, whatever else is configured.
//! 2. An explicit base URL (`--base-url` or `VARG_BASE_URL`) is always the one used: with the
//!    configured key; with the local key `varg_local` when it names this machine (such as the
//!    URL `varg emulator` prints); refused with a reason when it names another host and no key
//!    is configured. It is never silently replaced by the built-in emulator.
//! 3. A configured key (`--api-key`, `VARG_API_KEY`, `~/.varg/credentials`) without a base URL
//!    talks to the real gateway.
//! 4. Nothing configured: the built-in emulator, whose jobs and outputs are kept under
//!    `~/.varg/emulator/` so `--no-wait`, `varg job wait` and a resumed batch work across runs.

use std::cell::Cell;
use std::path::{Path, PathBuf};

use url::Url;
use varg_async::Client;
use varg_core::CacheMode;
use varg_core::config::{Environment, home_dir, is_loopback_url, resolve_from_environment};
use varg_emulator::{Emulator, EmulatorHandle};

use crate::CliError;
use crate::args::{CacheArg, Global};
use crate::output::{Printer, stderr_line};

/// Where the command's requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A gateway named by URL or the default one, with a configured key.
    Gateway,
    /// A gateway on this machine named by URL, with no key configured.
    Local,
    /// The built-in emulator in this process; `state_dir` keeps its jobs across runs.
    BuiltIn {
        /// `--emulator` was given (so a resume hint must repeat it).
        forced: bool,
        /// Where its state lives, if it could be created.
        state_dir: Option<PathBuf>,
    },
}

impl Backend {
    /// Flags a later command needs to reach the same jobs (for resume hints).
    pub fn resume_flags(&self) -> &'static str {
        match self {
            Backend::BuiltIn { forced: true, .. } => " --emulator",
            _ => "",
        }
    }

    /// `true` on the built-in emulator, whose output URLs die with the process.
    pub fn is_built_in(&self) -> bool {
        matches!(self, Backend::BuiltIn { .. })
    }
}

/// The client, the backend it talks to, and the emulator kept alive behind it.
pub struct Connection {
    /// The client.
    pub client: Client,
    /// Which backend.
    pub backend: Backend,
    /// Keeps the in-process emulator alive while the command runs.
    pub emulator: Option<EmulatorHandle>,
}

/// The built-in emulator's state directory: `~/.varg/emulator`.
pub fn emulator_state_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var(name).ok();
    let read_file = |_: &Path| None;
    let env = Environment {
        var: &var,
        read_file: &read_file,
    };
    home_dir(&env).map(|home| home.join(".varg").join("emulator"))
}

/// A URL with any userinfo password replaced, for messages.
pub fn redacted(raw: &str) -> String {
    match Url::parse(raw.trim()) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        Ok(_) => raw.trim().to_owned(),
        // Unparseable: still hide anything between "//" and "@".
        Err(_) => match (raw.find("//"), raw.rfind('@')) {
            (Some(start), Some(at)) if at > start => {
                format!("{}//***{}", &raw[..start], &raw[at..])
            }
            _ => raw.trim().to_owned(),
        },
    }
}

/// Checks an explicit base URL before anything is sent: absolute http(s) with a host.
fn check_base_url(raw: &str) -> Result<Url, CliError> {
    let shown = redacted(raw);
    let url = Url::parse(raw.trim()).map_err(|e| {
        CliError::usage(format!(
            "base URL {shown:?} is not an absolute URL ({e}); expected e.g. http://127.0.0.1:8787/v1"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(CliError::usage(format!(
            "base URL {shown:?} must start with http:// or https:// and name a host; expected e.g. http://127.0.0.1:8787/v1"
        )));
    }
    Ok(url)
}

/// `true` for a URL naming this machine: loopback, or the unspecified address a server
/// prints when it listens on every interface.
fn names_this_machine(url: &Url) -> bool {
    let unspecified = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => ip.is_unspecified(),
        _ => false,
    };
    unspecified || is_loopback_url(url.as_str())
}

/// Builds the client for the global flags (see the module docs for the rule).
pub async fn connect(global: &Global, printer: Printer) -> Result<Connection, CliError> {
    let explicit_base = global
        .base_url
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty());
    let cache = match global.cache {
        CacheArg::Default => CacheMode::Default,
        CacheArg::NoCache => CacheMode::NoCache,
        CacheArg::NoStore => CacheMode::NoStore,
    };
    if global.emulator {
        return built_in(true, cache, printer).await;
    }

    let file_read = Cell::new(false);
    let read_file = |path: &Path| {
        let text = std::fs::read_to_string(path).ok();
        file_read.set(text.is_some());
        text
    };
    let var = |name: &str| std::env::var(name).ok();
    let env = Environment {
        var: &var,
        read_file: &read_file,
    };
    let key = match resolve_from_environment(global.api_key.as_deref(), explicit_base, &env) {
        Ok((key, _, _)) => Some(key),
        Err(_) if !file_read.get() => None,
        // A credentials file that cannot be read as one is reported, not silently replaced.
        Err(err) => {
            return Err(CliError {
                code: 3,
                message: format!("~/.varg/credentials: {err}"),
                job_id: None,
                resume: false,
            });
        }
    };

    let (key, base, backend) = match (key, explicit_base) {
        (key, Some(raw)) => {
            let url = check_base_url(raw)?;
            match key {
                Some(key) => (key, Some(raw.to_owned()), Backend::Gateway),
                // A local gateway (such as `varg emulator`) accepts any varg_ key.
                None if names_this_machine(&url) => (
                    varg_core::ApiKey::from("varg_local"),
                    Some(local_url(url)),
                    Backend::Local,
                ),
                None => {
                    return Err(CliError {
                        code: 3,
                        message: format!(
                            "no API key for {}: pass --api-key, set VARG_API_KEY or write {{\"api_key\": \"varg_...\"}} to ~/.varg/credentials (or drop --base-url / VARG_BASE_URL to run on the built-in emulator)",
                            redacted(raw)
                        ),
                        job_id: None,
                        resume: false,
                    });
                }
            }
        }
        (Some(key), None) => (key, None, Backend::Gateway),
        (None, None) => return built_in(false, cache, printer).await,
    };
    let mut builder = Client::builder().api_key(key).cache(cache);
    if let Some(base) = base {
        builder = builder.base_url(base);
    }
    let client = builder.build().map_err(|e| {
        let mut err = CliError::from(e);
        err.message = redact_in(&err.message, explicit_base);
        err
    })?;
    Ok(Connection {
        client,
        backend,
        emulator: None,
    })
}

/// A local URL a client can connect to: the unspecified address becomes loopback.
fn local_url(mut url: Url) -> String {
    match url.host() {
        Some(url::Host::Ipv4(ip)) if ip.is_unspecified() => {
            let _ = url.set_host(Some("127.0.0.1"));
        }
        Some(url::Host::Ipv6(ip)) if ip.is_unspecified() => {
            let _ = url.set_host(Some("[::1]"));
        }
        _ => {}
    }
    url.as_str().trim_end_matches('/').to_owned()
}

/// Replaces any raw URL (which may carry a password) in `message` by its redacted form.
fn redact_in(message: &str, raw: Option<&str>) -> String {
    match raw {
        Some(raw) if !raw.is_empty() => message.replace(raw, &redacted(raw)),
        _ => message.to_owned(),
    }
}

async fn built_in(
    forced: bool,
    cache: CacheMode,
    printer: Printer,
) -> Result<Connection, CliError> {
    let mut builder = Emulator::builder();
    let state_dir = emulator_state_dir().filter(|dir| match std::fs::create_dir_all(dir) {
        Ok(()) => true,
        Err(err) => {
            if !printer.quiet {
                stderr_line(&format!(
                    "note: cannot keep emulator state in {} ({err}); jobs will not outlive this run",
                    dir.display()
                ));
            }
            false
        }
    });
    if let Some(dir) = &state_dir {
        builder = builder.state_dir(dir.clone());
    }
    let handle = builder
        .start()
        .await
        .map_err(|e| CliError::other(format!("cannot start the built-in emulator: {e}")))?;
    let base = handle.base_url();
    if !printer.quiet {
        stderr_line(&format!(
            "{} running on the built-in emulator (placeholder media, no cost{})",
            if forced {
                "--emulator:"
            } else {
                "no API key found:"
            },
            state_dir
                .as_ref()
                .map(|d| format!("; jobs kept in {}", d.display()))
                .unwrap_or_default()
        ));
    }
    let client = Client::builder()
        .api_key(varg_core::ApiKey::from("varg_emulator"))
        .base_url(base)
        .cache(cache)
        .build()?;
    Ok(Connection {
        client,
        backend: Backend::BuiltIn { forced, state_dir },
        emulator: Some(handle),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_never_shown() {
        assert_eq!(
            redacted("http://ada:s3cret@example.com/v1"),
            "http://ada:***@example.com/v1"
        );
        assert!(!redacted("ht!tp://ada:s3cret@exa mple/v1").contains("s3cret"));
        assert_eq!(redacted("http://127.0.0.1:1/v1"), "http://127.0.0.1:1/v1");
    }

    #[test]
    fn base_urls_need_a_scheme_and_a_host() {
        assert!(check_base_url("127.0.0.1:8787/v1").is_err());
        assert!(check_base_url("localhost:8787").is_err());
        assert!(check_base_url("ftp://example.com/v1").is_err());
        let err = check_base_url("nope://ada:s3cret@").unwrap_err();
        assert!(!err.message.contains("s3cret"), "{}", err.message);
        assert!(check_base_url("http://example.invalid/v1").is_ok());
    }

    #[test]
    fn the_unspecified_address_counts_as_this_machine() {
        let url = Url::parse("http://0.0.0.0:8787/v1").unwrap();
        assert!(names_this_machine(&url));
        assert_eq!(local_url(url), "http://127.0.0.1:8787/v1");
        assert!(!names_this_machine(
            &Url::parse("http://example.invalid/v1").unwrap()
        ));
    }
}
