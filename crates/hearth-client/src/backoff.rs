//! Reconnect delays: exponential, capped, with jitter.

use crate::core::Millis;

/// How long to wait between reconnect attempts.
///
/// The delay doubles with every failed attempt, from `initial_ms` up to `max_ms`. Half of it
/// is fixed and half is random ("equal jitter"): when a server restarts, every client of a
/// LAN party loses its connection at the same instant, and without jitter they would all
/// knock again at the same instants too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first retry, before jitter.
    pub initial_ms: Millis,
    /// The longest delay, before jitter.
    pub max_ms: Millis,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { initial_ms: 500, max_ms: 15_000 }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (0 for the first), given a uniformly random
    /// `random`. Always between half the capped exponential delay and all of it.
    pub fn delay(&self, attempt: u32, random: u64) -> Millis {
        let exp = self.initial_ms.saturating_mul(1u64 << attempt.min(32)).min(self.max_ms);
        let half = exp / 2;
        half + random % (exp - half + 1)
    }
}

/// A small pseudo-random generator (SplitMix64). Jitter needs spread, not secrecy, and the
/// core must not reach for an OS source of randomness: the seed is an input like time.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_capped_and_jitter_within_bounds() {
        let b = Backoff { initial_ms: 100, max_ms: 1000 };
        let mut rng = SplitMix::new(7);
        for attempt in 0..40 {
            let exp = (100u64 << attempt.min(20)).min(1000);
            for _ in 0..50 {
                let d = b.delay(attempt, rng.next());
                assert!(d >= exp / 2 && d <= exp, "attempt {attempt}: {d} not in [{}, {exp}]", exp / 2);
            }
        }
        // Jitter really spreads clients out.
        let spread: std::collections::BTreeSet<_> = (0..50).map(|_| b.delay(5, rng.next())).collect();
        assert!(spread.len() > 10);
    }
}
