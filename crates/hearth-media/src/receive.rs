//! The receive side: one [`PeerReceiver`] per remote user (jitter buffer, Opus decoder,
//! volume, local mute) and a [`Mixer`] that sums them for the speaker.
//!
//! Loss handling follows Opus's design: a hole followed directly by a packet is rebuilt from
//! that packet's in-band FEC (`decode(next, fec = true)`); any other hole, and any wait for a
//! late packet, is filled by the decoder's packet-loss concealment (`decode(empty)`). A
//! payload libopus rejects is concealed the same way, so no input from the network can stop
//! or crash playback.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use opus::{Channels, Decoder};

use crate::jitter::{InsertOutcome, JitterBuffer, JitterConfig, JitterStats, Next};
use crate::{MediaError, SAMPLE_RATE};

/// The longest Opus packet: 120 ms at 48 kHz.
const MAX_PACKET_SAMPLES: usize = 5760;
/// Opus decodes and conceals in multiples of 2.5 ms.
const OPUS_GRANULE: u32 = 120;

/// Counters of one receiver, for diagnostics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// The jitter buffer's counters.
    pub jitter: JitterStats,
    /// Packets decoded normally.
    pub decoded: u64,
    /// Holes rebuilt from the next packet's in-band FEC.
    pub fec_recovered: u64,
    /// Frames filled by packet-loss concealment (losses, stretches and bad packets).
    pub concealed: u64,
    /// Packets libopus rejected (concealed instead).
    pub decode_errors: u64,
    /// Payloads refused at insert because they are not Opus packets at all.
    pub rejected: u64,
}

/// One remote user's audio: jitter buffer, decoder, volume and local mute.
pub struct PeerReceiver {
    jitter: JitterBuffer,
    decoder: Decoder,
    decoded: VecDeque<f32>,
    scratch: Vec<f32>,
    volume: f32,
    muted: bool,
    stats: ReceiverStats,
}

impl PeerReceiver {
    /// A receiver with its own jitter buffer.
    pub fn new(config: JitterConfig) -> Result<PeerReceiver, MediaError> {
        Ok(PeerReceiver {
            jitter: JitterBuffer::new(config),
            decoder: Decoder::new(SAMPLE_RATE, Channels::Mono)?,
            decoded: VecDeque::with_capacity(2 * MAX_PACKET_SAMPLES),
            scratch: vec![0.0; MAX_PACKET_SAMPLES],
            volume: 1.0,
            muted: false,
            stats: ReceiverStats::default(),
        })
    }

    /// Takes an RTP packet's payload with its sequence number and timestamp, arrived at
    /// `now`. Fails only for payloads that are not Opus packets at all (no valid TOC).
    pub fn push_packet(
        &mut self,
        seq: u16,
        timestamp: u32,
        payload: &[u8],
        now: Duration,
    ) -> Result<InsertOutcome, MediaError> {
        let samples = match opus::packet::get_nb_samples(payload, SAMPLE_RATE) {
            Ok(n) if n > 0 && n <= MAX_PACKET_SAMPLES => n as u32,
            Ok(n) => {
                self.stats.rejected += 1;
                return Err(MediaError::Format(format!("Opus packet of {n} samples")));
            }
            Err(error) => {
                self.stats.rejected += 1;
                return Err(error.into());
            }
        };
        Ok(self
            .jitter
            .insert(seq, timestamp, payload.to_vec(), samples, now))
    }

    /// Sets the playback volume (1.0 = unchanged; values above 1 amplify).
    pub fn set_volume(&mut self, volume: f32) {
        self.volume = volume.max(0.0);
    }

    /// Mutes this user for the local listener only.
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    /// Counters so far.
    pub fn stats(&self) -> ReceiverStats {
        ReceiverStats {
            jitter: self.jitter.stats(),
            ..self.stats
        }
    }

    /// The jitter buffer's current target delay in ms.
    pub fn target_delay_ms(&self) -> u32 {
        self.jitter.target_delay_ms()
    }

    /// Adds this user's next `out.len()` samples, at their volume, to `out`.
    ///
    /// A muted user is still decoded, so that unmuting resumes in step with the others
    /// rather than replaying stale audio.
    pub fn render_add(&mut self, out: &mut [f32], now: Duration) {
        let gain = if self.muted { 0.0 } else { self.volume };
        let mut filled = 0;
        while filled < out.len() {
            if self.decoded.is_empty() && !self.refill(now) {
                break;
            }
            let n = self.decoded.len().min(out.len() - filled);
            for (o, x) in out[filled..filled + n]
                .iter_mut()
                .zip(self.decoded.drain(..n))
            {
                *o += x * gain;
            }
            filled += n;
        }
    }

    /// Decodes the jitter buffer's next answer into `decoded`; false when it is idle.
    fn refill(&mut self, now: Duration) -> bool {
        let produced = match self.jitter.next(now) {
            Next::Idle => return false,
            Next::Packet { data, .. } => {
                match self.decoder.decode_float(&data, &mut self.scratch, false) {
                    Ok(n) => {
                        self.stats.decoded += 1;
                        n
                    }
                    Err(_) => {
                        self.stats.decode_errors += 1;
                        self.conceal(960)
                    }
                }
            }
            Next::Lost {
                samples,
                fec: Some(next),
            } => {
                let len = granules(samples);
                match self
                    .decoder
                    .decode_float(&next, &mut self.scratch[..len], true)
                {
                    Ok(n) => {
                        self.stats.fec_recovered += 1;
                        n
                    }
                    Err(_) => self.conceal(samples),
                }
            }
            Next::Lost { samples, fec: None } | Next::Stretch { samples } => self.conceal(samples),
        };
        // libopus's float output may overshoot full scale (and garbage may decode to
        // anything), so each peer is limited to the valid range before mixing.
        let produced = produced.min(MAX_PACKET_SAMPLES);
        self.decoded
            .extend(self.scratch[..produced].iter().map(|&x| {
                if x.is_finite() {
                    x.clamp(-1.0, 1.0)
                } else {
                    0.0
                }
            }));
        true
    }

    /// Packet-loss concealment for `samples`, or silence if even that fails.
    fn conceal(&mut self, samples: u32) -> usize {
        let len = granules(samples);
        self.stats.concealed += 1;
        match self
            .decoder
            .decode_float(&[], &mut self.scratch[..len], false)
        {
            Ok(n) => n,
            Err(_) => {
                self.scratch[..len].fill(0.0);
                len
            }
        }
    }
}

/// `samples` rounded down to whole 2.5 ms granules, at least one and at most 120 ms.
fn granules(samples: u32) -> usize {
    let g = (samples / OPUS_GRANULE).max(1) * OPUS_GRANULE;
    (g as usize).min(MAX_PACKET_SAMPLES)
}

/// Every remote user's audio summed for the speaker, keyed by whatever identifies a user.
pub struct Mixer<K> {
    peers: BTreeMap<K, PeerReceiver>,
    config: JitterConfig,
    deafened: bool,
}

impl<K: Ord> Mixer<K> {
    /// An empty mixer whose new peers get jitter buffers with `config`.
    pub fn new(config: JitterConfig) -> Mixer<K> {
        Mixer {
            peers: BTreeMap::new(),
            config,
            deafened: false,
        }
    }

    /// Adds a peer (replacing one with the same key, which resets its state).
    pub fn add_peer(&mut self, key: K) -> Result<&mut PeerReceiver, MediaError> {
        let receiver = PeerReceiver::new(self.config.clone())?;
        Ok(match self.peers.entry(key) {
            Entry::Occupied(mut slot) => {
                slot.insert(receiver);
                slot.into_mut()
            }
            Entry::Vacant(slot) => slot.insert(receiver),
        })
    }

    /// Removes a peer; false if it was not there.
    pub fn remove_peer(&mut self, key: &K) -> bool {
        self.peers.remove(key).is_some()
    }

    /// A peer's receiver, for volume, mute and stats.
    pub fn peer_mut(&mut self, key: &K) -> Option<&mut PeerReceiver> {
        self.peers.get_mut(key)
    }

    /// Hands a packet to a peer's receiver; `None` for an unknown peer.
    pub fn push_packet(
        &mut self,
        key: &K,
        seq: u16,
        timestamp: u32,
        payload: &[u8],
        now: Duration,
    ) -> Option<Result<InsertOutcome, MediaError>> {
        self.peers
            .get_mut(key)
            .map(|p| p.push_packet(seq, timestamp, payload, now))
    }

    /// Deafen: the mixer outputs silence (peers are still drained, so undeafening resumes
    /// with current audio).
    pub fn set_deafened(&mut self, deafened: bool) {
        self.deafened = deafened;
    }

    /// Whether the mixer is deafened.
    pub fn deafened(&self) -> bool {
        self.deafened
    }

    /// Writes the next `out.len()` samples of the mix (48 kHz mono) into `out`, clipped to
    /// −1..=1.
    pub fn mix(&mut self, out: &mut [f32], now: Duration) {
        out.fill(0.0);
        for peer in self.peers.values_mut() {
            peer.render_add(out, now);
        }
        if self.deafened {
            out.fill(0.0);
        }
        for x in out.iter_mut() {
            *x = x.clamp(-1.0, 1.0);
        }
    }
}
