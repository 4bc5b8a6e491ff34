//! Compressed sample chunks for the demo TSDB.
//!
//! The simulator writes one sample per series every few seconds and keeps hours of history,
//! so a plain `(i64, f64)` per sample (16 bytes) would cost hundreds of megabytes for a few
//! thousand series. Chunks store timestamps as delta-of-delta (regular scrapes cost one bit)
//! and values as XOR against the previous value (unchanged gauges cost one bit, counters a few
//! bytes), the scheme described in Facebook's Gorilla paper. This encoder is written from that
//! description: the bucket sizes and the 6-bit leading-zero field are our own choices.

/// Samples per chunk before it is sealed; 120 samples are 10 minutes at a 5 s interval.
pub const CHUNK_SAMPLES: u16 = 120;

/// Bit-level append buffer, most significant bit first.
#[derive(Debug, Clone, Default)]
struct BitWriter {
    bytes: Vec<u8>,
    /// Number of bits used in the last byte (0 means the last byte is full or there is none).
    used: u8,
}

impl BitWriter {
    fn push_bit(&mut self, bit: bool) {
        if self.used == 0 {
            self.bytes.push(0);
        }
        if bit && let Some(last) = self.bytes.last_mut() {
            *last |= 0x80 >> self.used;
        }
        self.used = (self.used + 1) % 8;
    }

    /// Appends the low `n` bits of `v` (n <= 64), high bit first.
    fn push_bits(&mut self, v: u64, n: u8) {
        let mut left = n;
        while left > 0 {
            if self.used == 0 {
                self.bytes.push(0);
            }
            let free = 8 - self.used;
            let take = free.min(left);
            // The next `take` bits of `v` below position `left`.
            let chunk = ((v >> (left - take)) & ((1u64 << take) - 1)) as u8;
            if let Some(last) = self.bytes.last_mut() {
                *last |= chunk << (free - take);
            }
            self.used = (self.used + take) % 8;
            left -= take;
        }
    }
}

/// Reads what a [`BitWriter`] wrote.
struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn bit(&mut self) -> Option<bool> {
        let byte = self.bytes.get(self.pos / 8)?;
        let bit = byte & (0x80 >> (self.pos % 8)) != 0;
        self.pos += 1;
        Some(bit)
    }

    /// Reads `n` bits (n <= 64), up to a byte at a time.
    fn bits(&mut self, n: u8) -> Option<u64> {
        let mut v = 0u64;
        let mut left = n;
        while left > 0 {
            let byte = *self.bytes.get(self.pos / 8)?;
            let avail = 8 - (self.pos % 8) as u8;
            let take = avail.min(left);
            let chunk = (u16::from(byte) >> (avail - take)) & ((1u16 << take) - 1);
            v = (v << take) | u64::from(chunk);
            left -= take;
            self.pos += usize::from(take);
        }
        Some(v)
    }
}

/// Delta-of-delta buckets: (prefix bits set before the terminating 0, payload bits).
const DOD_BUCKETS: [(u8, u8); 3] = [(1, 14), (2, 17), (3, 20)];

/// One chunk: up to [`CHUNK_SAMPLES`] samples of one series, in time order.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub min_t: i64,
    pub max_t: i64,
    count: u16,
    bits: BitWriter,
    // Encoder state (the last sample and the XOR window), needed to append.
    prev_delta: i64,
    prev_v: u64,
    leading: u8,
    trailing: u8,
}

impl Chunk {
    /// A chunk holding one sample.
    #[must_use]
    pub fn new(t: i64, v: f64) -> Self {
        let mut bits = BitWriter::default();
        bits.push_bits(v.to_bits(), 64);
        Self {
            min_t: t,
            max_t: t,
            count: 1,
            bits,
            prev_delta: 0,
            prev_v: v.to_bits(),
            leading: u8::MAX,
            trailing: 0,
        }
    }

    #[must_use]
    pub fn is_full(&self) -> bool {
        self.count >= CHUNK_SAMPLES
    }

    #[must_use]
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes of sample data held.
    #[must_use]
    pub fn data_bytes(&self) -> usize {
        self.bits.bytes.capacity()
    }

    /// Releases spare capacity once the chunk will not grow any more.
    pub fn seal(&mut self) {
        self.bits.bytes.shrink_to_fit();
    }

    /// Appends a sample; `t` must be greater than `max_t` (the caller checks).
    pub fn push(&mut self, t: i64, v: f64) {
        let delta = t - self.max_t;
        let dod = delta - self.prev_delta;
        self.write_dod(dod);
        self.write_value(v.to_bits());
        self.prev_delta = delta;
        self.max_t = t;
        self.count += 1;
    }

    fn write_dod(&mut self, dod: i64) {
        if dod == 0 {
            self.bits.push_bit(false);
            return;
        }
        for (ones, width) in DOD_BUCKETS {
            let half = 1i64 << (width - 1);
            if (-half..half).contains(&dod) {
                for _ in 0..ones {
                    self.bits.push_bit(true);
                }
                self.bits.push_bit(false);
                // Two's complement, truncated to `width` bits.
                self.bits
                    .push_bits(dod as u64 & ((1u64 << width) - 1), width);
                return;
            }
        }
        for _ in 0..4 {
            self.bits.push_bit(true);
        }
        self.bits.push_bits(dod as u64, 64);
    }

    fn write_value(&mut self, v: u64) {
        let xor = v ^ self.prev_v;
        self.prev_v = v;
        if xor == 0 {
            self.bits.push_bit(false);
            return;
        }
        self.bits.push_bit(true);
        let leading = xor.leading_zeros() as u8;
        let trailing = xor.trailing_zeros() as u8;
        if self.leading != u8::MAX && leading >= self.leading && trailing >= self.trailing {
            // The meaningful bits fit in the previous window: reuse it.
            self.bits.push_bit(false);
            let width = 64 - self.leading - self.trailing;
            self.bits.push_bits(xor >> self.trailing, width);
        } else {
            self.bits.push_bit(true);
            let width = 64 - leading - trailing;
            self.bits.push_bits(u64::from(leading), 6);
            // width is 1..=64; store width - 1 in 6 bits.
            self.bits.push_bits(u64::from(width - 1), 6);
            self.bits.push_bits(xor >> trailing, width);
            self.leading = leading;
            self.trailing = trailing;
        }
    }

    /// Decodes every sample, oldest first.
    #[must_use]
    pub fn iter(&self) -> ChunkIter<'_> {
        ChunkIter {
            r: BitReader {
                bytes: &self.bits.bytes,
                pos: 0,
            },
            left: self.count,
            first: true,
            t: self.min_t,
            delta: 0,
            v: 0,
            leading: 0,
            trailing: 0,
        }
    }
}

/// Iterator over a chunk's samples.
pub struct ChunkIter<'a> {
    r: BitReader<'a>,
    left: u16,
    first: bool,
    t: i64,
    delta: i64,
    v: u64,
    leading: u8,
    trailing: u8,
}

impl ChunkIter<'_> {
    fn read_dod(&mut self) -> Option<i64> {
        let mut ones = 0u8;
        while ones < 4 && self.r.bit()? {
            ones += 1;
        }
        if ones == 0 {
            return Some(0);
        }
        if ones == 4 {
            return Some(self.r.bits(64)? as i64);
        }
        let width = DOD_BUCKETS[usize::from(ones - 1)].1;
        let raw = self.r.bits(width)?;
        // Sign-extend from `width` bits.
        let shift = 64 - u32::from(width);
        Some(((raw << shift) as i64) >> shift)
    }

    fn read_value(&mut self) -> Option<u64> {
        if !self.r.bit()? {
            return Some(self.v);
        }
        if self.r.bit()? {
            self.leading = self.r.bits(6)? as u8;
            let width = self.r.bits(6)? as u8 + 1;
            self.trailing = 64 - self.leading - width;
        }
        let width = 64 - self.leading - self.trailing;
        let bits = self.r.bits(width)?;
        Some(self.v ^ (bits << self.trailing))
    }
}

impl Iterator for ChunkIter<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        if self.first {
            self.first = false;
            self.v = self.r.bits(64)?;
            return Some((self.t, f64::from_bits(self.v)));
        }
        let dod = self.read_dod()?;
        self.delta += dod;
        self.t += self.delta;
        self.v = self.read_value()?;
        Some((self.t, f64::from_bits(self.v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(samples: &[(i64, f64)]) {
        let mut c = Chunk::new(samples[0].0, samples[0].1);
        for (t, v) in &samples[1..] {
            c.push(*t, *v);
        }
        let got: Vec<(i64, f64)> = c.iter().collect();
        assert_eq!(got.len(), samples.len());
        for (g, w) in got.iter().zip(samples) {
            assert_eq!(g.0, w.0);
            assert_eq!(g.1.to_bits(), w.1.to_bits(), "{g:?} vs {w:?}");
        }
    }

    #[test]
    fn regular_counter_roundtrips_compactly() {
        let s: Vec<(i64, f64)> = (0..120)
            .map(|i| (1_700_000_000_000 + i * 5000, (i * 7) as f64))
            .collect();
        roundtrip(&s);
        let mut c = Chunk::new(s[0].0, s[0].1);
        for (t, v) in &s[1..] {
            c.push(*t, *v);
        }
        // Far below 16 bytes per sample.
        assert!(c.data_bytes() < 120 * 4, "{} bytes", c.data_bytes());
    }

    #[test]
    fn irregular_times_and_special_values_roundtrip() {
        let vals = [
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-300,
            -123.456,
            f64::from_bits(0x7ff0_0000_0000_0002),
            42.0,
            42.0,
            f64::MAX,
            f64::MIN_POSITIVE,
        ];
        let mut t = -5_000_000_000i64;
        let mut s = Vec::new();
        let gaps = [
            1,
            5000,
            4999,
            70_000,
            1,
            3_000_000_000,
            5000,
            17,
            1 << 40,
            3,
            3,
        ];
        for (i, v) in vals.iter().enumerate() {
            s.push((t, *v));
            t += gaps[i % gaps.len()];
        }
        roundtrip(&s);
    }

    #[test]
    fn single_sample() {
        roundtrip(&[(5, 1.5)]);
    }
}
