//! The allowlist: what our OpenAPI has beyond (or differently from) the
//! documented file, each entry naming the newer documentation it comes from.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::drift::{Finding, FindingKind};

/// Source tags an entry may cite (the labels of `varg-api/FACTS.md`).
pub const SOURCE_TAGS: &[&str] = &["[N]", "[S]", "[O]", "[V2]", "[D]"];

/// One explained difference.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowEntry {
    /// The finding kind it explains, e.g. `extra-endpoint`.
    pub kind: String,
    /// The finding location, e.g. `POST /ffmpeg` or `Job.pricing`.
    pub at: String,
    /// For enum findings: the values it covers.
    #[serde(default)]
    pub values: Vec<String>,
    /// Where the difference comes from: one or more of [`SOURCE_TAGS`].
    pub source: String,
    /// Why we have it.
    pub note: String,
}

impl AllowEntry {
    /// Whether this entry explains `finding`.
    pub fn matches(&self, finding: &Finding) -> bool {
        if self.kind != finding.kind.as_str() || self.at != finding.at {
            return false;
        }
        match &finding.value {
            Some(value) => self.values.iter().any(|v| v == value),
            None => self.values.is_empty(),
        }
    }
}

/// The whole allowlist file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowlist {
    /// The entries.
    #[serde(default)]
    pub entries: Vec<AllowEntry>,
}

impl Allowlist {
    /// Parses an allowlist (YAML or JSON) and checks every entry.
    pub fn parse(text: &str) -> Result<Self> {
        let list: Allowlist = serde_yaml_ng::from_str(text).context("invalid allowlist")?;
        list.validate()?;
        Ok(list)
    }

    /// Reads an allowlist file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    fn validate(&self) -> Result<()> {
        for (i, entry) in self.entries.iter().enumerate() {
            if FindingKind::from_name(&entry.kind).is_none() {
                bail!("entry {i} ({}): unknown kind `{}`", entry.at, entry.kind);
            }
            if !SOURCE_TAGS.iter().any(|tag| entry.source.contains(tag)) {
                bail!(
                    "entry {i} ({} {}): `source` must cite one of {}",
                    entry.kind,
                    entry.at,
                    SOURCE_TAGS.join(", ")
                );
            }
            if entry.note.trim().is_empty() {
                bail!("entry {i} ({} {}): `note` is empty", entry.kind, entry.at);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_needs_a_source_tag() {
        let err = Allowlist::parse(
            "entries:\n  - {kind: extra-endpoint, at: POST /x, source: a blog, note: n}\n",
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("source"), "{err:#}");
    }

    #[test]
    fn entry_needs_a_known_kind() {
        let err = Allowlist::parse(
            "entries:\n  - {kind: extra-thing, at: POST /x, source: \"[N]\", note: n}\n",
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("unknown kind"), "{err:#}");
    }

    #[test]
    fn enum_entries_match_listed_values_only() {
        let list = Allowlist::parse(
            "entries:\n  - kind: extra-enum-value\n    at: Voice\n    values: [bella]\n    source: \"[S]\"\n    note: more voices\n",
        )
        .unwrap();
        let finding = |v: &str| Finding {
            kind: FindingKind::ExtraEnumValue,
            at: "Voice".into(),
            value: Some(v.into()),
            message: String::new(),
        };
        assert!(list.entries[0].matches(&finding("bella")));
        assert!(!list.entries[0].matches(&finding("george")));
    }
}
