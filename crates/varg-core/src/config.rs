//! Client configuration: where to send requests, with which key, and how patiently.
//!
//! ```
//! use std::time::Duration;
//! use varg_core::config::{CacheMode, Config, Provider};
//!
//! let config = Config::builder("varg_live_123")
//!     .base_url("http://127.0.0.1:8787/v1")
//!     .provider_key(Provider::Fal, "fal-key")
//!     .cache(CacheMode::NoCache)
//!     .build()
//!     .unwrap();
//! assert_eq!(config.base_url(), "http://127.0.0.1:8787/v1");
//! assert_eq!(format!("{:?}", config.api_key()), "ApiKey([redacted])");
//!
//! // Plain http to a non-loopback host is refused unless explicitly allowed.
//! assert!(Config::builder("k").base_url("http://example.com/v1").build().is_err());
//! ```
//!
//! Resolving the key from the environment is the caller's IO; this module only decides
//! between the sources it is handed:
//!
//! ```
//! use varg_core::config::{resolve_api_key, KeySource, KeySources};
//!
//! let sources = KeySources {
//!     explicit: None,
//!     env: Some(""), // set but empty counts as absent
//!     credentials_file: Some(r#"{"api_key":"varg_from_file","email":"a@b.c"}"#),
//! };
//! let (key, source) = resolve_api_key(&sources).unwrap();
//! assert_eq!(key.expose(), "varg_from_file");
//! assert_eq!(source, KeySource::CredentialsFile);
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use http::HeaderValue;
use url::{Host, Url};

use crate::error::Error;
use crate::retry::RetryPolicy;
use crate::secret::ApiKey;
use crate::transport::RequestTimeouts;
use crate::wait::WaitPolicy;

/// The default base URL of the v1 gateway.
pub const DEFAULT_BASE_URL: &str = "https://api.varg.ai/v1";
/// The environment variable holding the API key.
pub const ENV_API_KEY: &str = "VARG_API_KEY";
/// The environment variable holding a base URL override.
pub const ENV_BASE_URL: &str = "VARG_BASE_URL";
/// The default `User-Agent`.
pub const DEFAULT_USER_AGENT: &str = concat!("varg-rs/", env!("CARGO_PKG_VERSION"));

/// The credentials file the official CLI writes, relative to a home directory:
/// `<home>/.varg/credentials`. (Pure path arithmetic; the caller reads the file.)
pub fn credentials_path(home: &Path) -> PathBuf {
    home.join(".varg").join("credentials")
}

/// The places an API key can come from, in priority order, as values the caller has read.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeySources<'a> {
    /// A key given in code.
    pub explicit: Option<&'a str>,
    /// The value of `VARG_API_KEY`, if set.
    pub env: Option<&'a str>,
    /// The contents of `~/.varg/credentials` (JSON `{"api_key": ...}`), if the file exists.
    pub credentials_file: Option<&'a str>,
}

/// Where a resolved key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// Given in code.
    Explicit,
    /// The `VARG_API_KEY` environment variable.
    Environment,
    /// The credentials file.
    CredentialsFile,
}

/// Picks the API key: the explicit key, else `VARG_API_KEY`, else the credentials file.
/// Empty or blank values count as absent. A credentials file that is not JSON with a
/// string `api_key` is an error only if no earlier source supplied a key.
pub fn resolve_api_key(sources: &KeySources<'_>) -> Result<(ApiKey, KeySource), Error> {
    let present = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(ApiKey::new);
    if let Some(key) = present(sources.explicit) {
        return Ok((key, KeySource::Explicit));
    }
    if let Some(key) = present(sources.env) {
        return Ok((key, KeySource::Environment));
    }
    if let Some(contents) = sources.credentials_file {
        let value: serde_json::Value = serde_json::from_str(contents).map_err(|e| {
            Error::invalid_config(format!("the credentials file is not valid JSON: {e}"))
        })?;
        return match value.get("api_key").and_then(|k| k.as_str()).map(str::trim) {
            Some(key) if !key.is_empty() => Ok((ApiKey::new(key), KeySource::CredentialsFile)),
            _ => Err(Error::invalid_config(
                "the credentials file has no string \"api_key\"",
            )),
        };
    }
    Err(Error::invalid_config(NO_KEY_HELP))
}

/// What to do when no API key was found: the three places a key can come from, by the
/// names a user can act on.
pub const NO_KEY_HELP: &str = "no API key: set one with ClientBuilder::api_key, \
     or set the VARG_API_KEY environment variable, \
     or write ~/.varg/credentials containing {\"api_key\": \"varg_...\"}";

/// How a caller reads its environment: the clients pass `std::env::var` and
/// `std::fs::read_to_string`, tests pass maps. The IO stays with the caller.
pub struct Environment<'a> {
    /// Reads an environment variable (`None` when unset or not Unicode).
    pub var: &'a dyn Fn(&str) -> Option<String>,
    /// Reads a whole file (`None` when it does not exist or cannot be read).
    pub read_file: &'a dyn Fn(&Path) -> Option<String>,
}

/// The home directory as the environment names it: `HOME`, else `USERPROFILE` (empty
/// values count as unset).
pub fn home_dir(env: &Environment<'_>) -> Option<PathBuf> {
    [(env.var)("HOME"), (env.var)("USERPROFILE")]
        .into_iter()
        .flatten()
        .find(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// The key and base URL from the explicit values, else the environment: the key from
/// `explicit_key`, `VARG_API_KEY`, then the credentials file (read only when neither gave a
/// key); the base URL from `explicit_base_url`, `VARG_BASE_URL`, then the default. This is
/// [`resolve_api_key`] and [`resolve_base_url`] fed by `env`, shared by every client.
///
/// ```
/// use std::path::Path;
/// use varg_core::config::{Environment, KeySource, resolve_from_environment};
///
/// let var = |name: &str| match name {
///     "HOME" => Some("/home/ada".to_owned()),
///     "VARG_BASE_URL" => Some("http://127.0.0.1:8787/v1".to_owned()),
///     _ => None,
/// };
/// let read_file = |path: &Path| {
///     (path == Path::new("/home/ada/.varg/credentials")).then(|| r#"{"api_key":"varg_file"}"#.to_owned())
/// };
/// let env = Environment { var: &var, read_file: &read_file };
/// let (key, source, base) = resolve_from_environment(None, None, &env).unwrap();
/// assert_eq!((key.expose(), source), ("varg_file", KeySource::CredentialsFile));
/// assert_eq!(base, "http://127.0.0.1:8787/v1");
/// ```
pub fn resolve_from_environment(
    explicit_key: Option<&str>,
    explicit_base_url: Option<&str>,
    env: &Environment<'_>,
) -> Result<(ApiKey, KeySource, String), Error> {
    let env_key = (env.var)(ENV_API_KEY);
    let present = |v: Option<&str>| v.is_some_and(|v| !v.trim().is_empty());
    let credentials_file = if present(explicit_key) || present(env_key.as_deref()) {
        None
    } else {
        home_dir(env).and_then(|home| (env.read_file)(&credentials_path(&home)))
    };
    let (key, source) = resolve_api_key(&KeySources {
        explicit: explicit_key,
        env: env_key.as_deref(),
        credentials_file: credentials_file.as_deref(),
    })?;
    let env_base = (env.var)(ENV_BASE_URL);
    let base = resolve_base_url(explicit_base_url, env_base.as_deref()).to_owned();
    Ok((key, source, base))
}

/// `true` when `url` parses and its host is a loopback host (see [`is_loopback_host`]).
pub fn is_loopback_url(url: &str) -> bool {
    Url::parse(url.trim())
        .ok()
        .is_some_and(|u| u.host().is_some_and(|h| is_loopback_host(&h)))
}

/// Picks the base URL: the explicit one, else `VARG_BASE_URL`, else [`DEFAULT_BASE_URL`].
/// Blank values count as absent. (Validation happens in [`ConfigBuilder::build`].)
pub fn resolve_base_url<'a>(explicit: Option<&'a str>, env: Option<&'a str>) -> &'a str {
    let present = |v: Option<&'a str>| v.map(str::trim).filter(|v| !v.is_empty());
    present(explicit)
        .or_else(|| present(env))
        .unwrap_or(DEFAULT_BASE_URL)
}

/// A provider whose own key can be sent with a request (BYOK: the provider bills you, varg
/// charges nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Provider {
    /// fal.ai.
    Fal,
    /// ElevenLabs.
    ElevenLabs,
    /// Higgsfield.
    Higgsfield,
    /// Replicate.
    Replicate,
}

impl Provider {
    /// Every provider, in documentation order.
    pub const ALL: [Provider; 4] = [
        Provider::Fal,
        Provider::ElevenLabs,
        Provider::Higgsfield,
        Provider::Replicate,
    ];

    /// The request header carrying the key, e.g. `X-Provider-Key-Fal`.
    pub fn header_name(self) -> &'static str {
        match self {
            Provider::Fal => "X-Provider-Key-Fal",
            Provider::ElevenLabs => "X-Provider-Key-ElevenLabs",
            Provider::Higgsfield => "X-Provider-Key-Higgsfield",
            Provider::Replicate => "X-Provider-Key-Replicate",
        }
    }

    /// The environment variable the provider's own tools read, e.g. `FAL_KEY`.
    pub fn env_var(self) -> &'static str {
        match self {
            Provider::Fal => "FAL_KEY",
            Provider::ElevenLabs => "ELEVENLABS_API_KEY",
            Provider::Higgsfield => "HIGGSFIELD_API_KEY",
            Provider::Replicate => "REPLICATE_API_TOKEN",
        }
    }
}

/// Provider keys sent as `X-Provider-Key-*` headers. Debug output is redacted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderKeys {
    keys: Vec<(Provider, ApiKey)>,
}

impl ProviderKeys {
    /// No provider keys.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or replaces) the key for `provider`.
    pub fn set(&mut self, provider: Provider, key: impl Into<ApiKey>) -> &mut Self {
        let key = key.into();
        match self.keys.iter_mut().find(|(p, _)| *p == provider) {
            Some(slot) => slot.1 = key,
            None => {
                self.keys.push((provider, key));
                self.keys.sort_by_key(|(p, _)| *p);
            }
        }
        self
    }

    /// The key for `provider`, if set.
    pub fn get(&self, provider: Provider) -> Option<&ApiKey> {
        self.keys
            .iter()
            .find(|(p, _)| *p == provider)
            .map(|(_, k)| k)
    }

    /// Every key, in [`Provider::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Provider, &ApiKey)> {
        self.keys.iter().map(|(p, k)| (*p, k))
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// These keys, with those of `other` replacing keys for the same provider.
    pub fn merged(&self, other: &ProviderKeys) -> ProviderKeys {
        let mut out = self.clone();
        for (p, k) in other.iter() {
            out.set(p, k.clone());
        }
        out
    }
}

/// How a generation request uses the gateway's cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheMode {
    /// Use the cache (no header sent).
    #[default]
    Default,
    /// `Cache-Control: no-cache`: skip the lookup, still store the result.
    NoCache,
    /// `Cache-Control: no-store`: bypass the cache entirely.
    NoStore,
}

impl CacheMode {
    /// The `Cache-Control` value to send, if any.
    pub fn header_value(self) -> Option<&'static str> {
        match self {
            CacheMode::Default => None,
            CacheMode::NoCache => Some("no-cache"),
            CacheMode::NoStore => Some("no-store"),
        }
    }
}

/// The default timeouts: connect 10 s; read 30 s (the longest silence while waiting for an
/// answer or between two chunks of it); total 120 s for a whole JSON call: every attempt,
/// every backoff and every `Retry-After` sleep of one `balance()`, `get_job()` or
/// `create_*()` together. Uploads and downloads are bounded by connect and read, and by
/// [`Config::transfer_timeout`] when one is set; job streams by the wait's deadline.
pub const DEFAULT_TIMEOUTS: RequestTimeouts = RequestTimeouts {
    connect: Some(Duration::from_secs(10)),
    read: Some(Duration::from_secs(30)),
    total: Some(Duration::from_secs(120)),
};

/// A validated client configuration. Build one with [`Config::builder`].
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    base_url: String,
    api_key: ApiKey,
    provider_keys: ProviderKeys,
    cache: CacheMode,
    user_agent: String,
    timeouts: RequestTimeouts,
    transfer_timeout: Option<Duration>,
    retry: RetryPolicy,
    wait: WaitPolicy,
}

impl Config {
    /// Starts a configuration with this API key and every default.
    pub fn builder(api_key: impl Into<ApiKey>) -> ConfigBuilder {
        ConfigBuilder {
            base_url: DEFAULT_BASE_URL.to_owned(),
            allow_insecure_http: false,
            api_key: api_key.into(),
            provider_keys: ProviderKeys::new(),
            cache: CacheMode::Default,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
            timeouts: DEFAULT_TIMEOUTS,
            transfer_timeout: None,
            retry: RetryPolicy::default(),
            wait: WaitPolicy::default(),
        }
    }

    /// The base URL without a trailing slash, e.g. `https://api.varg.ai/v1`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The API key.
    pub fn api_key(&self) -> &ApiKey {
        &self.api_key
    }

    /// The BYOK provider keys.
    pub fn provider_keys(&self) -> &ProviderKeys {
        &self.provider_keys
    }

    /// The cache mode.
    pub fn cache(&self) -> CacheMode {
        self.cache
    }

    /// The `User-Agent` value.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// The timeouts. `total` bounds a whole JSON call, retries and their sleeps included.
    pub fn timeouts(&self) -> RequestTimeouts {
        self.timeouts
    }

    /// The bound of a whole upload or download, retries included (default `None`: a large
    /// file may take long; the connect and read timeouts still apply).
    pub fn transfer_timeout(&self) -> Option<Duration> {
        self.transfer_timeout
    }

    /// The time budget of one logical call of this kind, shared by all its attempts and
    /// sleeps: the total timeout for JSON calls, [`transfer_timeout`](Self::transfer_timeout)
    /// for uploads and downloads.
    pub fn call_budget(&self, kind: crate::ops::ExchangeKind) -> Option<Duration> {
        match kind {
            crate::ops::ExchangeKind::Json => self.timeouts.total,
            crate::ops::ExchangeKind::Streaming => self.transfer_timeout,
        }
    }

    /// The retry policy.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The wait policy.
    pub fn wait(&self) -> &WaitPolicy {
        &self.wait
    }

    /// This configuration with the per-request overrides of `options` applied. Provider
    /// keys in `options` are added to (and replace, per provider) the configured ones.
    pub fn with_options(&self, options: &RequestOptions) -> Config {
        let mut out = self.clone();
        if let Some(cache) = options.cache {
            out.cache = cache;
        }
        if let Some(t) = options.timeouts {
            out.timeouts = t;
        }
        if let Some(t) = options.transfer_timeout {
            out.transfer_timeout = Some(t);
        }
        if let Some(t) = options.total_timeout {
            out.timeouts.total = Some(t);
            out.transfer_timeout = Some(t);
        }
        if let Some(r) = &options.retry {
            out.retry = r.clone();
        }
        if let Some(w) = &options.wait {
            out.wait = w.clone();
        }
        if let Some(keys) = &options.provider_keys {
            out.provider_keys = out.provider_keys.merged(keys);
        }
        out
    }
}

/// Builds a [`Config`]; [`build`](Self::build) validates it.
#[derive(Debug, Clone)]
#[must_use]
pub struct ConfigBuilder {
    base_url: String,
    allow_insecure_http: bool,
    api_key: ApiKey,
    provider_keys: ProviderKeys,
    cache: CacheMode,
    user_agent: String,
    timeouts: RequestTimeouts,
    transfer_timeout: Option<Duration>,
    retry: RetryPolicy,
    wait: WaitPolicy,
}

impl ConfigBuilder {
    /// The gateway's base URL (default [`DEFAULT_BASE_URL`]).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Allows a plain `http://` base URL on a host other than loopback. The API key then
    /// travels unencrypted; only for trusted networks.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Sends `key` as the provider's BYOK header with every request.
    pub fn provider_key(mut self, provider: Provider, key: impl Into<ApiKey>) -> Self {
        self.provider_keys.set(provider, key);
        self
    }

    /// Replaces all provider keys.
    pub fn provider_keys(mut self, keys: ProviderKeys) -> Self {
        self.provider_keys = keys;
        self
    }

    /// The cache mode for generation requests.
    pub fn cache(mut self, mode: CacheMode) -> Self {
        self.cache = mode;
        self
    }

    /// The `User-Agent` header (default [`DEFAULT_USER_AGENT`]).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// The timeouts (default [`DEFAULT_TIMEOUTS`]).
    pub fn timeouts(mut self, timeouts: RequestTimeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Bounds every upload and download, retries included (default: unbounded but for the
    /// connect and read timeouts).
    pub fn transfer_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.transfer_timeout = timeout;
        self
    }

    /// The retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The job wait policy.
    pub fn wait(mut self, policy: WaitPolicy) -> Self {
        self.wait = policy;
        self
    }

    /// Validates and builds the configuration.
    pub fn build(self) -> Result<Config, Error> {
        let base_url = validate_base_url(&self.base_url, self.allow_insecure_http)?;
        if self.api_key.is_empty() {
            return Err(Error::invalid_config("the API key is empty"));
        }
        header_value("the API key", self.api_key.expose())?;
        for (provider, key) in self.provider_keys.iter() {
            header_value(provider.header_name(), key.expose())?;
        }
        header_value("the user agent", &self.user_agent)?;
        Ok(Config {
            base_url,
            api_key: self.api_key,
            provider_keys: self.provider_keys,
            cache: self.cache,
            user_agent: self.user_agent,
            timeouts: self.timeouts,
            transfer_timeout: self.transfer_timeout,
            retry: self.retry,
            wait: self.wait,
        })
    }
}

fn header_value(what: &str, value: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(value).map_err(|_| {
        Error::invalid_config(format!(
            "{what} contains characters not allowed in an HTTP header"
        ))
    })
}

/// Whether `host` is a loopback host (`localhost`, `*.localhost`, `127.0.0.0/8`, `::1`).
pub fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Checks a base URL and normalises it (no trailing slash). It must be absolute `https`
/// (or `http` to a loopback host, or to any host when `allow_insecure_http`), with a host,
/// without credentials, query or fragment.
pub fn validate_base_url(raw: &str, allow_insecure_http: bool) -> Result<String, Error> {
    let bad = |why: &str| Error::invalid_config(format!("base URL {raw:?} {why}"));
    let url = Url::parse(raw.trim()).map_err(|e| bad(&format!("is not a valid URL: {e}")))?;
    let host = url.host().ok_or_else(|| bad("has no host"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure_http || is_loopback_host(&host) => {}
        "http" => {
            return Err(bad(
                "uses plain http to a non-loopback host, which would send the API key unencrypted \
                 (use https, or allow insecure http explicitly)",
            ));
        }
        _ => return Err(bad("must use https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Per-request overrides of the [`Config`].
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RequestOptions {
    /// Cache mode for this request.
    pub cache: Option<CacheMode>,
    /// Timeouts for this request (`total` bounds the whole JSON call, retries included).
    pub timeouts: Option<RequestTimeouts>,
    /// The bound of a whole upload or download.
    pub transfer_timeout: Option<Duration>,
    /// The bound of every call, of any kind (see [`RequestOptions::total_timeout`]).
    pub total_timeout: Option<Duration>,
    /// Retry policy for this request.
    pub retry: Option<RetryPolicy>,
    /// Wait policy for this request (when it waits for a job).
    pub wait: Option<WaitPolicy>,
    /// Provider keys added for this request.
    pub provider_keys: Option<ProviderKeys>,
}

impl RequestOptions {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Overrides the cache mode.
    pub fn cache(mut self, mode: CacheMode) -> Self {
        self.cache = Some(mode);
        self
    }

    /// Overrides the timeouts (of JSON calls; see [`total_timeout`](Self::total_timeout)
    /// to bound uploads and downloads too).
    pub fn timeouts(mut self, timeouts: RequestTimeouts) -> Self {
        self.timeouts = Some(timeouts);
        self
    }

    /// Bounds every call of any kind made with these options by `timeout`, each call as a
    /// whole (every attempt, backoff and `Retry-After` sleep): JSON calls (`create_*`,
    /// `get_job`, `balance`, ...) and uploads and downloads alike. The connect and read
    /// timeouts keep their values, cut to `timeout` where longer. Job waits have their own
    /// deadline ([`WaitPolicy::deadline`]).
    pub fn total_timeout(mut self, timeout: Duration) -> Self {
        self.total_timeout = Some(timeout);
        self
    }

    /// Bounds each upload and download as a whole, retries included.
    pub fn transfer_timeout(mut self, timeout: Duration) -> Self {
        self.transfer_timeout = Some(timeout);
        self
    }

    /// Overrides the retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Overrides the wait policy.
    pub fn wait(mut self, policy: WaitPolicy) -> Self {
        self.wait = Some(policy);
        self
    }

    /// Adds a provider key for this request.
    pub fn provider_key(mut self, provider: Provider, key: impl Into<ApiKey>) -> Self {
        self.provider_keys
            .get_or_insert_with(ProviderKeys::new)
            .set(provider, key);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn environment_resolution_reads_the_file_only_when_needed() {
        let reads = Cell::new(0);
        let read_file = |_: &Path| {
            reads.set(reads.get() + 1);
            Some(r#"{"api_key":"varg_file"}"#.to_owned())
        };
        let with = |key: Option<&'static str>| {
            move |name: &str| match name {
                "HOME" => Some("/h".to_owned()),
                ENV_API_KEY => key.map(str::to_owned),
                _ => None,
            }
        };
        let var = with(Some("varg_env"));
        let env = Environment {
            var: &var,
            read_file: &read_file,
        };
        let (key, source, base) = resolve_from_environment(None, None, &env).unwrap();
        assert_eq!((key.expose(), source), ("varg_env", KeySource::Environment));
        assert_eq!(base, DEFAULT_BASE_URL);
        let (key, source, _) = resolve_from_environment(Some("varg_x"), None, &env).unwrap();
        assert_eq!((key.expose(), source), ("varg_x", KeySource::Explicit));
        assert_eq!(reads.get(), 0, "a key was found before the file was needed");
        let var = with(Some(" "));
        let env = Environment {
            var: &var,
            read_file: &read_file,
        };
        let (key, source, _) =
            resolve_from_environment(None, Some("http://localhost:1/v1"), &env).unwrap();
        assert_eq!(
            (key.expose(), source),
            ("varg_file", KeySource::CredentialsFile)
        );
        assert_eq!(reads.get(), 1);
        let no_file = |_: &Path| None;
        let var = with(None);
        let env = Environment {
            var: &var,
            read_file: &no_file,
        };
        assert!(resolve_from_environment(None, None, &env).is_err());
        let empty_home = |name: &str| (name == "HOME").then(String::new);
        let env = Environment {
            var: &empty_home,
            read_file: &no_file,
        };
        assert_eq!(home_dir(&env), None);
    }

    #[test]
    fn loopback_urls() {
        assert!(is_loopback_url("http://127.0.0.1:8787/v1"));
        assert!(is_loopback_url("http://localhost/v1"));
        assert!(is_loopback_url("http://[::1]:9/v1"));
        assert!(!is_loopback_url("https://api.varg.ai/v1"));
        assert!(!is_loopback_url("http://127.0.0.1.example.com/v1"));
        assert!(!is_loopback_url("not a url"));
    }

    #[test]
    fn base_url_rules() {
        let ok = |u: &str| validate_base_url(u, false).unwrap();
        assert_eq!(ok("https://api.varg.ai/v1/"), "https://api.varg.ai/v1");
        assert_eq!(ok("https://api.varg.ai/v1"), "https://api.varg.ai/v1");
        assert_eq!(ok("http://127.0.0.1:8080/v1"), "http://127.0.0.1:8080/v1");
        assert_eq!(ok("http://127.5.0.1/v1"), "http://127.5.0.1/v1");
        assert_eq!(ok("http://localhost:1/v1"), "http://localhost:1/v1");
        assert_eq!(ok("http://[::1]:9/v1"), "http://[::1]:9/v1");
        for bad in [
            "http://api.varg.ai/v1",
            "http://10.0.0.1/v1",
            "ftp://api.varg.ai/v1",
            "https://user:pw@api.varg.ai/v1",
            "https://api.varg.ai/v1?x=1",
            "not a url",
            "",
        ] {
            let err = validate_base_url(bad, false).unwrap_err();
            assert!(matches!(err, Error::InvalidConfig { .. }), "{bad}: {err}");
        }
        assert_eq!(
            validate_base_url("http://gateway.internal/v1", true).unwrap(),
            "http://gateway.internal/v1"
        );
    }

    #[test]
    fn key_resolution_order() {
        let r = |e: Option<&str>, v: Option<&str>, f: Option<&str>| {
            resolve_api_key(&KeySources {
                explicit: e,
                env: v,
                credentials_file: f,
            })
            .map(|(k, s)| (k.expose().to_owned(), s))
        };
        let file = Some(r#"{"api_key":"f"}"#);
        assert_eq!(
            r(Some("e"), Some("v"), file).unwrap(),
            ("e".into(), KeySource::Explicit)
        );
        assert_eq!(
            r(Some(" "), Some("v"), file).unwrap(),
            ("v".into(), KeySource::Environment)
        );
        assert_eq!(
            r(None, Some(""), file).unwrap(),
            ("f".into(), KeySource::CredentialsFile)
        );
        let missing = r(None, None, None).unwrap_err().to_string();
        for named in [
            "ClientBuilder::api_key",
            ENV_API_KEY,
            "~/.varg/credentials",
            "\"api_key\"",
        ] {
            assert!(missing.contains(named), "{missing}");
        }
        assert!(
            !missing.contains("login") && !missing.contains("log in"),
            "{missing}"
        );
        assert!(r(None, None, Some("{oops")).is_err());
        assert!(r(None, None, Some(r#"{"api_key":3}"#)).is_err());
        // A broken file does not matter when an earlier source has a key.
        assert_eq!(r(None, Some("v"), Some("{oops")).unwrap().0, "v");
        assert_eq!(
            credentials_path(Path::new("/home/u")),
            Path::new("/home/u/.varg/credentials")
        );
        assert_eq!(resolve_base_url(None, Some(" ")), DEFAULT_BASE_URL);
        assert_eq!(resolve_base_url(None, Some("http://x")), "http://x");
        assert_eq!(
            resolve_base_url(Some("http://y"), Some("http://x")),
            "http://y"
        );
    }

    #[test]
    fn options_override() {
        let c = Config::builder("k")
            .provider_key(Provider::Fal, "a")
            .build()
            .unwrap();
        assert_eq!(c.base_url(), DEFAULT_BASE_URL);
        assert_eq!(c.user_agent(), DEFAULT_USER_AGENT);
        let o = RequestOptions::new()
            .cache(CacheMode::NoStore)
            .provider_key(Provider::Fal, "b")
            .provider_key(Provider::Replicate, "c");
        let c2 = c.with_options(&o);
        assert_eq!(c2.cache(), CacheMode::NoStore);
        assert_eq!(c2.provider_keys().get(Provider::Fal).unwrap().expose(), "b");
        assert_eq!(c2.provider_keys().iter().count(), 2);
        assert_eq!(c.cache(), CacheMode::Default);
        // One per-call bound for every kind of call; connect and read stay.
        use crate::ops::ExchangeKind;
        assert_eq!(c.call_budget(ExchangeKind::Json), DEFAULT_TIMEOUTS.total);
        assert_eq!(c.call_budget(ExchangeKind::Streaming), None);
        let c3 = c.with_options(&RequestOptions::new().total_timeout(Duration::from_secs(7)));
        assert_eq!(
            c3.call_budget(ExchangeKind::Json),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            c3.call_budget(ExchangeKind::Streaming),
            Some(Duration::from_secs(7))
        );
        assert_eq!(c3.timeouts().read, DEFAULT_TIMEOUTS.read);
    }

    #[test]
    fn bad_header_values_are_refused() {
        assert!(Config::builder("k\u{7f}x").build().is_err());
        assert!(Config::builder("").build().is_err());
        assert!(Config::builder("k").user_agent("a\nb").build().is_err());
        assert!(
            Config::builder("k")
                .provider_key(Provider::ElevenLabs, "x\ny")
                .build()
                .is_err()
        );
    }

    #[test]
    fn debug_never_shows_keys() {
        let c = Config::builder("varg_topsecret")
            .provider_key(Provider::Fal, "fal_topsecret")
            .build()
            .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("topsecret"), "{shown}");
    }
}
