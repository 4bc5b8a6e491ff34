//! A fast non-cryptographic hasher for the demo Prometheus' internal maps.
//!
//! Keys are pointers and label sets the process made itself, so resistance to crafted
//! collisions (what std's SipHash buys) is not needed, while hashing speed dominates query
//! time in unoptimised test builds. Each word is mixed by rotate, xor and multiply.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Multiply-rotate hasher state.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

/// An odd 64-bit constant with well-spread bits (from the golden ratio).
const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl FastHasher {
    #[inline]
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.mix(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.mix(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Fold the high bits down: hashbrown takes bucket indices from the low bits.
        self.0 ^ (self.0 >> 29)
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
pub type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_work_and_spread() {
        let mut m: FastMap<usize, usize> = FastMap::default();
        for i in 0..10_000 {
            m.insert(i * 16, i);
        }
        assert_eq!(m.get(&(500 * 16)), Some(&500));
        let mut s: FastSet<Vec<(String, String)>> = FastSet::default();
        s.insert(vec![("a".into(), "b".into())]);
        assert!(s.contains(&vec![("a".to_string(), "b".to_string())]));
        assert!(!s.contains(&vec![("a".to_string(), "c".to_string())]));
    }
}
