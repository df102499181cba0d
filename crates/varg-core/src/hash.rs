//! The content hash used to deduplicate uploads (`X-Content-Hash: sha256:<hex>`).

use sha2::{Digest, Sha256};

/// A streaming SHA-256 hasher: feed the file in pieces, then take the `sha256:<hex>` string.
///
/// ```
/// use varg_core::hash::ContentHasher;
///
/// let mut hasher = ContentHasher::new();
/// hasher.update(b"hello ");
/// hasher.update(b"world");
/// assert_eq!(
///     hasher.finish(),
///     "sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct ContentHasher {
    inner: Sha256,
    len: u64,
}

impl ContentHasher {
    /// A hasher that has seen no bytes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next piece of content.
    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// How many bytes have been fed.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no bytes have been fed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The hash in the form the gateway uses: `sha256:` and 64 lower-case hex digits.
    pub fn finish(self) -> String {
        format!("sha256:{}", hex::encode(self.inner.finalize()))
    }

    /// The content hash of a byte slice held in memory.
    pub fn hash(bytes: &[u8]) -> String {
        let mut h = Self::new();
        h.update(bytes);
        h.finish()
    }
}

impl std::io::Write for ContentHasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_input() {
        assert_eq!(
            ContentHasher::hash(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(ContentHasher::new().is_empty());
    }

    proptest! {
        #[test]
        fn chunking_does_not_matter(data in proptest::collection::vec(any::<u8>(), 0..512), cut in 0usize..512) {
            let cut = cut.min(data.len());
            let mut h = ContentHasher::new();
            h.update(&data[..cut]);
            h.update(&data[cut..]);
            prop_assert_eq!(h.len(), data.len() as u64);
            prop_assert_eq!(h.finish(), ContentHasher::hash(&data));
        }
    }
}
