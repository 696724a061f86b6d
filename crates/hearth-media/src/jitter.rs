//! An adaptive playout (jitter) buffer for one peer's audio, keyed by RTP sequence number
//! and timestamp.
//!
//! The buffer holds encoded packets and hands them out in timestamp order, one call of
//! [`JitterBuffer::next`] per packet's worth of playback. It never decodes, so it can be
//! tested as pure data; [`crate::PeerReceiver`] pairs it with an Opus decoder.
//!
//! **Delay.** Each arrival's transit (arrival time minus RTP timestamp) is kept for the
//! last `history_packets` packets; the target delay is the 95th percentile of transit above
//! the window's minimum, clamped to the configured range — the idea of libwebrtc's NetEq. A
//! talk spurt starts playing once its first packet has waited the target delay. No packet of
//! margin is added on top (NetEq adds one): packet k is due one packet duration after packet
//! k − 1, so a first packet held for the 95th percentile of lateness already covers 95 % of
//! the packets after it, and the player's own block boundary (up to one tick after the target
//! is reached) adds margin for free. The rare later packet is stretched over, which grows the
//! delay by exactly its lateness. The default floor is 5 ms: on a LAN every millisecond of
//! buffer is latency the user hears.
//!
//! **Growing.** When the buffer runs dry while playing, it asks for a stretch (a concealed
//! frame that does *not* advance the playout point), so a late packet is still played when it
//! comes and the delay grows by exactly the time it was late. After too long a stretch the
//! stream counts as stopped and the next packet starts a new spurt.
//!
//! **Shrinking.** If the buffered audio never fell below target + one packet during half a
//! second of playout, one packet is dropped, so an excess left by a past spike drains at
//! about 40 ms per second once the network is calm.
//!
//! **Odd input.** Duplicates and packets whose time has passed are counted and dropped;
//! reordered packets are sorted by timestamp; sequence numbers and timestamps are unwrapped
//! to 64 bits so wrap-around is invisible. A hole with a later packet present is reported as
//! lost, with that later packet offered for Opus in-band FEC when it directly follows.
//! A packet from before the end of the previous spurt is late too. A jump in timestamps
//! with sequence numbers running on (voice activation or DTX stopped the sender), or a hole
//! longer than the largest delay, starts a new spurt instead of being concealed; a timestamp
//! more than 10 s behind means the sender restarted its clock, and resets the buffer.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::SAMPLE_RATE;

/// Settings of a [`JitterBuffer`].
#[derive(Debug, Clone, PartialEq)]
pub struct JitterConfig {
    /// Lowest target delay, ms.
    pub min_delay_ms: u32,
    /// Highest target delay, ms.
    pub max_delay_ms: u32,
    /// Target delay before enough packets were seen to measure jitter, ms.
    pub start_delay_ms: u32,
    /// Arrivals remembered for the delay estimate; fewer means faster adaptation both ways.
    pub history_packets: usize,
    /// Most concealed frames in a row while waiting for a packet before the stream counts
    /// as stopped.
    pub max_stretch_frames: u32,
}

impl Default for JitterConfig {
    fn default() -> JitterConfig {
        JitterConfig {
            min_delay_ms: 5,
            max_delay_ms: 400,
            start_delay_ms: 20,
            history_packets: 100,
            max_stretch_frames: 10,
        }
    }
}

/// What became of an inserted packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// Stored for playout.
    Accepted,
    /// Already stored or already played.
    Duplicate,
    /// Its playout time has passed; dropped (its lateness still counts toward the delay).
    Late,
}

/// What to play next; see [`JitterBuffer::next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Decode and play this packet.
    Packet {
        /// The payload as inserted.
        data: Vec<u8>,
        /// Samples at 48 kHz the packet covers.
        samples: u32,
    },
    /// `samples` of audio are missing: decode `fec` with FEC on if given, else conceal.
    Lost {
        /// Samples at 48 kHz to fill.
        samples: u32,
        /// The packet after the hole, whose in-band FEC may carry the missing audio.
        fec: Option<Vec<u8>>,
    },
    /// Nothing has arrived yet in time: conceal `samples` while waiting, without skipping
    /// anything (this is how the buffer grows).
    Stretch {
        /// Samples at 48 kHz to fill.
        samples: u32,
    },
    /// Nothing to play (not started, or the peer is silent): play silence.
    Idle,
}

/// Counters for diagnostics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets accepted.
    pub accepted: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Late packets dropped.
    pub late: u64,
    /// Holes reported as [`Next::Lost`].
    pub lost: u64,
    /// Stretches reported as [`Next::Stretch`].
    pub stretched: u64,
    /// Packets dropped to shrink the delay.
    pub dropped: u64,
}

#[derive(Debug, Clone)]
struct Stored {
    seq: u64,
    data: Vec<u8>,
    samples: u32,
    arrival: i64,
}

/// An adaptive jitter buffer for one peer. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    config: JitterConfig,
    packets: BTreeMap<u64, Stored>,
    highest_seq: Option<u64>,
    highest_ts: Option<u64>,
    transits: VecDeque<i64>,
    // Timestamp of the next sample to play; None between talk spurts.
    playout: Option<u64>,
    // Where the last spurt's playout ended; packets before it are late even between spurts.
    played_until: Option<u64>,
    last_played_seq: Option<u64>,
    recent_played: VecDeque<(u64, u64)>,
    last_samples: u32,
    stretch_run: u32,
    pops_in_window: u32,
    min_level_in_window: i64,
    stats: JitterStats,
}

/// Unwrapped values start here, so a packet reordered before the very first one still has
/// a non-negative extended value.
const EXTENDED_BASE: u64 = 1 << 40;
/// A bound on stored packets, so a peer sending far-future timestamps cannot make the
/// buffer grow without limit.
const MAX_STORED: usize = 1000;
const SHRINK_WINDOW_POPS: u32 = 25;
/// A packet this far (10 s) behind the playout point means the sender's clock restarted.
const RESET_SAMPLES: u64 = 10 * SAMPLE_RATE as u64;
const RECENT_PLAYED: usize = 64;
/// Samples a packet covers when the caller cannot tell (20 ms).
const DEFAULT_PACKET_SAMPLES: u32 = 960;

fn unwrap(value: u64, bits: u32, reference: Option<u64>) -> u64 {
    let Some(reference) = reference else {
        return EXTENDED_BASE + value;
    };
    let modulus = 1u64 << bits;
    let candidate = (reference & !(modulus - 1)) | value;
    [
        candidate.wrapping_sub(modulus),
        candidate,
        candidate + modulus,
    ]
    .into_iter()
    .min_by_key(|&c| c.abs_diff(reference))
    .unwrap_or(candidate)
}

fn to_samples(now: Duration) -> i64 {
    (now.as_nanos() * u128::from(SAMPLE_RATE) / 1_000_000_000) as i64
}

fn ms_to_samples(ms: u32) -> i64 {
    i64::from(ms) * i64::from(SAMPLE_RATE) / 1000
}

impl JitterBuffer {
    /// An empty buffer.
    pub fn new(config: JitterConfig) -> JitterBuffer {
        JitterBuffer {
            config,
            packets: BTreeMap::new(),
            highest_seq: None,
            highest_ts: None,
            transits: VecDeque::new(),
            playout: None,
            played_until: None,
            last_played_seq: None,
            recent_played: VecDeque::with_capacity(RECENT_PLAYED),
            last_samples: DEFAULT_PACKET_SAMPLES,
            stretch_run: 0,
            pops_in_window: 0,
            min_level_in_window: i64::MAX,
            stats: JitterStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// The current target delay in ms.
    pub fn target_delay_ms(&self) -> u32 {
        (self.target_samples() * 1000 / i64::from(SAMPLE_RATE)) as u32
    }

    /// Audio buffered ahead of the playout point, in ms (0 between spurts).
    pub fn buffered_ms(&self) -> u32 {
        (self.level().max(0) * 1000 / i64::from(SAMPLE_RATE)) as u32
    }

    /// Stores a packet that arrived at `now` (any monotonic clock, same one for every call).
    /// `samples` is the audio it covers at 48 kHz (for Opus, from the packet's TOC); zero is
    /// taken as 20 ms.
    pub fn insert(
        &mut self,
        seq: u16,
        timestamp: u32,
        data: Vec<u8>,
        samples: u32,
        now: Duration,
    ) -> InsertOutcome {
        let seq = unwrap(u64::from(seq), 16, self.highest_seq);
        let ts = unwrap(u64::from(timestamp), 32, self.highest_ts);
        let arrival = to_samples(now);
        let samples = if samples == 0 {
            DEFAULT_PACKET_SAMPLES
        } else {
            samples
        };

        if self.recent_played.contains(&(seq, ts))
            || self.packets.get(&ts).is_some_and(|p| p.seq == seq)
        {
            self.stats.duplicates += 1;
            return InsertOutcome::Duplicate;
        }
        // Late packets still tell how late the network can be, so they count toward the
        // delay estimate before being dropped.
        self.transits.push_back(arrival - ts as i64);
        while self.transits.len() > self.config.history_packets.max(1) {
            self.transits.pop_front();
        }
        self.highest_seq = Some(self.highest_seq.map_or(seq, |h| h.max(seq)));
        self.highest_ts = Some(self.highest_ts.map_or(ts, |h| h.max(ts)));
        if let Some(horizon) = self.playout.or(self.played_until)
            && ts < horizon
        {
            if horizon - ts > RESET_SAMPLES {
                // Far in the past: the sender restarted its clock. Start over rather than
                // call every packet of the new stream late.
                let config = self.config.clone();
                let stats = self.stats;
                *self = JitterBuffer::new(config);
                self.stats = stats;
                return self.insert((seq & 0xFFFF) as u16, timestamp, data, samples, now);
            }
            self.stats.late += 1;
            return InsertOutcome::Late;
        }
        self.packets.insert(
            ts,
            Stored {
                seq,
                data,
                samples,
                arrival,
            },
        );
        while self.packets.len() > MAX_STORED {
            self.packets.pop_last();
        }
        self.stats.accepted += 1;
        InsertOutcome::Accepted
    }

    /// What to play next, at `now`. Call it whenever the player has used up what the previous
    /// answer covered.
    pub fn next(&mut self, now: Duration) -> Next {
        let now = to_samples(now);
        let Some(playout) = self.playout else {
            return self.start(now);
        };
        if let Some(packet) = self.packets.remove(&playout) {
            return self.play(playout, packet);
        }
        let Some((&ts, next)) = self.packets.first_key_value() else {
            // Nothing buffered: wait by concealing, so the late packet can still play.
            if self.stretch_run >= self.config.max_stretch_frames {
                self.stop();
                return Next::Idle;
            }
            self.stretch_run += 1;
            self.stats.stretched += 1;
            return Next::Stretch {
                samples: self.last_samples,
            };
        };
        let gap = ts - playout;
        let follows_played = self.last_played_seq.is_some_and(|s| next.seq == s + 1);
        let beyond_max_delay = gap as i64 > ms_to_samples(self.config.max_delay_ms);
        if (follows_played && gap > u64::from(self.last_samples) * 2) || beyond_max_delay {
            // Sequence numbers run on but the timestamp jumped: the sender stopped sending
            // (voice activation or DTX), so this is a new talk spurt, not a loss. A hole
            // longer than the largest delay is not worth concealing either.
            self.stop();
            return self.start(now);
        }
        let samples = gap.min(u64::from(self.last_samples)) as u32;
        let fec = (gap <= u64::from(self.last_samples)).then(|| next.data.clone());
        self.playout = Some(playout + u64::from(samples));
        self.stats.lost += 1;
        Next::Lost { samples, fec }
    }

    /// Ends the talk spurt; the next packet starts a new one after the target delay.
    fn stop(&mut self) {
        self.played_until = self.playout.take();
        self.stretch_run = 0;
    }

    fn start(&mut self, now: i64) -> Next {
        let Some((&ts, first)) = self.packets.first_key_value() else {
            return Next::Idle;
        };
        if now - first.arrival < self.target_samples() {
            return Next::Idle;
        }
        self.playout = Some(ts);
        self.stretch_run = 0;
        self.pops_in_window = 0;
        self.min_level_in_window = i64::MAX;
        match self.packets.remove(&ts) {
            Some(packet) => self.play(ts, packet),
            None => Next::Idle,
        }
    }

    fn play(&mut self, ts: u64, packet: Stored) -> Next {
        self.stretch_run = 0;
        self.last_samples = packet.samples;
        self.remember_played(packet.seq, ts);
        let mut playout = ts + u64::from(packet.samples);
        self.playout = Some(playout);

        self.min_level_in_window = self.min_level_in_window.min(self.level());
        self.pops_in_window += 1;
        if self.pops_in_window >= SHRINK_WINDOW_POPS {
            let excess = self.min_level_in_window - self.target_samples();
            if excess >= i64::from(packet.samples)
                && let Some(dropped) = self.packets.remove(&playout)
            {
                playout += u64::from(dropped.samples);
                self.playout = Some(playout);
                self.remember_played(dropped.seq, playout - u64::from(dropped.samples));
                self.stats.dropped += 1;
            }
            self.pops_in_window = 0;
            self.min_level_in_window = i64::MAX;
        }
        Next::Packet {
            data: packet.data,
            samples: packet.samples,
        }
    }

    fn remember_played(&mut self, seq: u64, ts: u64) {
        self.last_played_seq = Some(seq);
        if self.recent_played.len() == RECENT_PLAYED {
            self.recent_played.pop_front();
        }
        self.recent_played.push_back((seq, ts));
    }

    /// Samples buffered ahead of the playout point.
    fn level(&self) -> i64 {
        match (self.playout, self.packets.last_key_value()) {
            (Some(p), Some((&ts, last))) => (ts + u64::from(last.samples)) as i64 - p as i64,
            _ => 0,
        }
    }

    fn target_samples(&self) -> i64 {
        let min = ms_to_samples(self.config.min_delay_ms);
        let max = ms_to_samples(self.config.max_delay_ms).max(min);
        if self.transits.len() < 10 {
            return ms_to_samples(self.config.start_delay_ms).clamp(min, max);
        }
        let floor = self.transits.iter().copied().min().unwrap_or(0);
        let mut relative: Vec<i64> = self.transits.iter().map(|t| t - floor).collect();
        let index = (relative.len() * 95 / 100).min(relative.len() - 1);
        let (_, p95, _) = relative.select_nth_unstable(index);
        (*p95).clamp(min, max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn unwrap_crosses_the_boundary_both_ways() {
        let first = unwrap(65_535, 16, None);
        assert_eq!(unwrap(0, 16, Some(first)), first + 1);
        assert_eq!(unwrap(65_534, 16, Some(first + 1)), first - 1);
        let ts = unwrap(u64::from(u32::MAX - 959), 32, None);
        assert_eq!(unwrap(0, 32, Some(ts)), ts + 960);
    }

    #[test]
    fn plays_in_order_after_the_start_delay() {
        let mut jb = JitterBuffer::new(JitterConfig {
            start_delay_ms: 60,
            ..JitterConfig::default()
        });
        assert_eq!(
            jb.insert(1, 960, vec![2], 960, ms(0)),
            InsertOutcome::Accepted
        );
        assert_eq!(
            jb.insert(0, 0, vec![1], 960, ms(1)),
            InsertOutcome::Accepted
        );
        assert_eq!(
            jb.insert(0, 0, vec![1], 960, ms(2)),
            InsertOutcome::Duplicate
        );
        assert_eq!(jb.next(ms(30)), Next::Idle);
        assert_eq!(
            jb.next(ms(61)),
            Next::Packet {
                data: vec![1],
                samples: 960
            }
        );
        assert_eq!(
            jb.next(ms(81)),
            Next::Packet {
                data: vec![2],
                samples: 960
            }
        );
        assert_eq!(
            jb.insert(0, 0, vec![1], 960, ms(82)),
            InsertOutcome::Duplicate
        );
        assert_eq!(jb.next(ms(101)), Next::Stretch { samples: 960 });
    }

    #[test]
    fn spurts_restart_after_silence_and_stale_packets_stay_late() {
        let config = JitterConfig {
            start_delay_ms: 20,
            max_stretch_frames: 2,
            ..JitterConfig::default()
        };
        let mut jb = JitterBuffer::new(config);
        jb.insert(0, 0, vec![0], 960, ms(0));
        jb.insert(2, 1920, vec![2], 960, ms(1));
        assert!(matches!(jb.next(ms(20)), Next::Packet { .. }));
        assert!(matches!(jb.next(ms(40)), Next::Lost { .. }));
        assert!(matches!(jb.next(ms(60)), Next::Packet { .. }));
        assert!(matches!(jb.next(ms(80)), Next::Stretch { .. }));
        assert!(matches!(jb.next(ms(100)), Next::Stretch { .. }));
        assert_eq!(jb.next(ms(120)), Next::Idle);
        // The spurt is over; its lost packet turning up now must not be played.
        assert_eq!(
            jb.insert(1, 960, vec![1], 960, ms(130)),
            InsertOutcome::Late
        );
        // A new spurt a second later (voice activation: sequence runs on, timestamp jumps)
        // starts after the target delay.
        jb.insert(2, 48_960, vec![2], 960, ms(1000));
        assert_eq!(jb.next(ms(1001)), Next::Idle);
        assert_eq!(
            jb.next(ms(1021)),
            Next::Packet {
                data: vec![2],
                samples: 960
            }
        );
    }

    #[test]
    fn a_long_hole_is_not_concealed_and_a_clock_restart_resets() {
        let mut jb = JitterBuffer::new(JitterConfig {
            start_delay_ms: 20,
            ..JitterConfig::default()
        });
        jb.insert(0, 0, vec![0], 960, ms(0));
        jb.insert(5, 960 * 100, vec![5], 960, ms(10));
        assert!(matches!(jb.next(ms(20)), Next::Packet { .. }));
        // Two seconds missing (and sequence numbers skipped): a new spurt, not 100 losses.
        assert_eq!(
            jb.next(ms(40)),
            Next::Packet {
                data: vec![5],
                samples: 960
            }
        );
        assert_eq!(jb.stats().lost, 0);
        // The sender restarts with new random numbers, its timestamp now far behind: the
        // buffer resets and plays the new stream instead of calling it late forever.
        assert_eq!(
            jb.insert(40_000, 3_000_000_000, vec![9], 960, ms(50)),
            InsertOutcome::Accepted
        );
        assert_eq!(
            jb.next(ms(80)),
            Next::Packet {
                data: vec![9],
                samples: 960
            }
        );
    }
}
