//! `limit`/`continue` paging of list requests: the opaque continue token.
//!
//! The token carries the resourceVersion of the first page and the key of the last object
//! sent. Later pages report the first page's resourceVersion, so a client that watches from
//! the list's version after the last page replays every change made while it was paging
//! (at-least-once, as with the real API server's snapshot pages).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::store::{ApiError, ObjKey};

/// Where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinueToken {
    /// Token format, so a token from another server version is refused cleanly.
    v: u32,
    /// resourceVersion of the first page.
    pub rv: u64,
    pub ns: String,
    pub name: String,
}

const FORMAT: u32 = 1;

impl ContinueToken {
    #[must_use]
    pub fn new(rv: u64, after: &ObjKey) -> Self {
        Self {
            v: FORMAT,
            rv,
            ns: after.ns.clone(),
            name: after.name.clone(),
        }
    }

    #[must_use]
    pub fn after(&self) -> ObjKey {
        ObjKey::new(&self.ns, &self.name)
    }

    #[must_use]
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes a token from a request; anything malformed is a 400, as on a real cluster.
    pub fn decode(token: &str) -> Result<Self, ApiError> {
        let invalid =
            |why: &str| ApiError::bad_request(format!("continue key is not valid: {why}"));
        let bytes = URL_SAFE_NO_PAD
            .decode(token.trim_end_matches('='))
            .map_err(|_| invalid("not base64"))?;
        let token: Self =
            serde_json::from_slice(&bytes).map_err(|_| invalid("not a continue token"))?;
        if token.v != FORMAT {
            return Err(invalid("unknown token version"));
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = ContinueToken::new(4711, &ObjKey::new("shop", "web-7"));
        let s = t.encode();
        assert!(
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        let back = ContinueToken::decode(&s).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.after(), ObjKey::new("shop", "web-7"));
        assert_eq!(back.rv, 4711);
    }

    #[test]
    fn garbage_is_a_bad_request() {
        for bad in [
            "",
            "!!!",
            "bm90IGpzb24",
            &URL_SAFE_NO_PAD.encode(br#"{"v":9,"rv":1,"ns":"","name":"a"}"#),
        ] {
            let e = ContinueToken::decode(bad).unwrap_err();
            assert_eq!(e.code, 400, "{bad}");
        }
    }
}
