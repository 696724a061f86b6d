//! A token bucket for per-connection rate limits, driven by the caller's clock.

use crate::Millis;

/// Tokens are kept in thousandths so that refill needs no floating point.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    milli_tokens: u64,
    capacity: u64,
    per_sec: u64,
    last: Millis,
}

impl TokenBucket {
    pub(crate) fn new(now: Millis, per_sec: u32, burst: u32) -> TokenBucket {
        let capacity = u64::from(burst) * 1000;
        TokenBucket { milli_tokens: capacity, capacity, per_sec: u64::from(per_sec), last: now }
    }

    /// Takes one token, or says how many milliseconds until one is available.
    pub(crate) fn take(&mut self, now: Millis) -> Result<(), u64> {
        let elapsed = now.since(self.last);
        self.last = self.last.max(now);
        // per_sec tokens per 1000 ms is per_sec milli-tokens per ms.
        self.milli_tokens = (self.milli_tokens + elapsed * self.per_sec).min(self.capacity);
        if self.milli_tokens >= 1000 {
            self.milli_tokens -= 1000;
            Ok(())
        } else {
            let missing = 1000 - self.milli_tokens;
            Err(missing.div_ceil(self.per_sec.max(1)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let mut b = TokenBucket::new(Millis(0), 2, 3);
        assert!(b.take(Millis(0)).is_ok());
        assert!(b.take(Millis(0)).is_ok());
        assert!(b.take(Millis(0)).is_ok());
        assert_eq!(b.take(Millis(0)), Err(500));
        assert_eq!(b.take(Millis(499)), Err(1));
        assert!(b.take(Millis(500)).is_ok());
        // Refill never exceeds the burst capacity.
        for _ in 0..3 {
            assert!(b.take(Millis(100_000)).is_ok());
        }
        assert!(b.take(Millis(100_000)).is_err());
    }
}
