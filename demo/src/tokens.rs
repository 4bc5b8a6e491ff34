//! The secrets of one demo run: bearer tokens for the Kubernetes API's `demo-admin` and
//! `demo-viewer` users and for the control API. New random values every run, handed out only
//! through the files the demo writes (kubeconfig and control-token file, both 0600) and the
//! in-process [`crate::Demo`] API.

use std::fmt;

/// Random bytes per token (256 bits), written as 64 hex digits.
const TOKEN_BYTES: usize = 32;

/// The bearer tokens of one run.
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    /// `demo-admin` on every simulated cluster.
    pub admin: String,
    /// `demo-viewer` (get, list and watch only).
    pub viewer: String,
    /// The control API (fault injection).
    pub control: String,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tokens { .. }")
    }
}

impl Tokens {
    /// Three fresh tokens from the operating system's random source.
    pub fn generate() -> anyhow::Result<Self> {
        Ok(Self {
            admin: random_token()?,
            viewer: random_token()?,
            control: random_token()?,
        })
    }
}

fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("no random numbers from the operating system"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The token of an `Authorization: Bearer TOKEN` header (the scheme is case-insensitive, as
/// HTTP authentication schemes are); `None` for a missing header or another scheme.
#[must_use]
pub fn bearer(authorization: Option<&str>) -> Option<&str> {
    let h = authorization?;
    let (scheme, token) = h.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Compares a presented token with the expected one in time independent of where they differ,
/// so a local process cannot guess a token byte by byte from response times.
#[must_use]
pub fn same(presented: &str, expected: &str) -> bool {
    let (a, b) = (presented.as_bytes(), expected.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_and_differ() {
        let a = Tokens::generate().unwrap();
        let b = Tokens::generate().unwrap();
        for t in [&a.admin, &a.viewer, &a.control, &b.admin] {
            assert_eq!(t.len(), 64, "{t}");
            assert!(t.bytes().all(|c| c.is_ascii_hexdigit()), "{t}");
        }
        assert_ne!(a.admin, a.viewer);
        assert_ne!(a.admin, a.control);
        assert_ne!(a.admin, b.admin, "a new run gets new tokens");
        assert_eq!(
            format!("{a:?}"),
            "Tokens { .. }",
            "Debug never prints a token"
        );
    }

    #[test]
    fn bearer_headers() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("BEARER abc")), Some("abc"));
        assert_eq!(bearer(Some("Basic eDp5")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(Some("Bearerabc")), None);
        assert_eq!(bearer(None), None);
    }

    #[test]
    fn comparison() {
        assert!(same("abc", "abc"));
        assert!(!same("abd", "abc"));
        assert!(!same("ab", "abc"));
        assert!(!same("", "abc"));
    }
}
