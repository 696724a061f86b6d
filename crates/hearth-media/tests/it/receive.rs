use std::time::Duration;

use hearth_media::analysis::{find_delay, rms, tone_ratio};
use hearth_media::{
    AudioSource, CaptureConfig, CapturePipeline, ClickTrain, EncodedFrame, JitterBuffer,
    JitterConfig, Mixer, Next, PeerReceiver, Sine, TransmitMode,
};
use proptest::prelude::*;

/// A small deterministic generator, so network simulations are the same in every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `frames` 20 ms Opus packets of a tone, as the capture pipeline makes them.
fn tone_packets(frequency: f32, frames: usize) -> Vec<EncodedFrame> {
    let config = CaptureConfig {
        noise_suppression: false,
        ..CaptureConfig::default()
    };
    let mut pipeline = CapturePipeline::new(config).unwrap();
    let mut source = Sine::new(48_000, frequency, 0.4);
    let mut buf = vec![0.0; pipeline.frame_samples()];
    (0..frames)
        .map(|_| {
            source.read(&mut buf).unwrap();
            pipeline
                .process(&buf)
                .unwrap()
                .packet
                .expect("a tone is sent")
        })
        .collect()
}

/// A packet on the simulated network: RTP sequence number, timestamp, payload, arrival ms.
struct Arrival {
    seq: u16,
    ts: u32,
    data: Vec<u8>,
    at_ms: u64,
}

/// Sends `packets` every 20 ms with RTP numbers starting just before both wrap points, and
/// a delay of `base + jitter(i)` ms each; `keep(i)` decides which are not lost.
fn network(
    packets: &[EncodedFrame],
    jitter: impl Fn(usize) -> u64,
    keep: impl Fn(usize) -> bool,
) -> Vec<Arrival> {
    let mut out: Vec<Arrival> = packets
        .iter()
        .enumerate()
        .filter(|&(i, _)| keep(i))
        .map(|(i, p)| Arrival {
            seq: 65_500u16.wrapping_add(i as u16),
            ts: (u32::MAX - 20 * 960).wrapping_add(p.timestamp),
            data: p.data.clone(),
            at_ms: 5 + i as u64 * 20 + jitter(i),
        })
        .collect();
    out.sort_by_key(|a| a.at_ms);
    out
}

/// Plays `arrivals` into one receiver, pulling 10 ms every 10 ms, and returns the output.
fn play(receiver: &mut PeerReceiver, arrivals: &[Arrival], duration_ms: u64) -> Vec<f32> {
    let mut out = Vec::new();
    let mut next = 0;
    for now_ms in (0..duration_ms).step_by(10) {
        let now = Duration::from_millis(now_ms);
        while next < arrivals.len() && arrivals[next].at_ms <= now_ms {
            let a = &arrivals[next];
            receiver.push_packet(a.seq, a.ts, &a.data, now).unwrap();
            next += 1;
        }
        let mut chunk = [0.0; 480];
        receiver.render_add(&mut chunk, now);
        out.extend_from_slice(&chunk);
    }
    out
}

#[test]
fn jittery_reordered_duplicated_stream_plays_the_tone() {
    let packets = tone_packets(440.0, 150);
    let mut rng = Rng(0x5eed);
    let jitter: Vec<u64> = (0..packets.len()).map(|_| rng.below(60)).collect();
    let mut arrivals = network(&packets, |i| jitter[i], |_| true);
    // Every tenth packet arrives twice.
    let dups: Vec<Arrival> = arrivals
        .iter()
        .step_by(10)
        .map(|a| Arrival {
            data: a.data.clone(),
            at_ms: a.at_ms + 7,
            ..*a
        })
        .collect();
    arrivals.extend(dups);
    arrivals.sort_by_key(|a| a.at_ms);

    let mut receiver = PeerReceiver::new(JitterConfig::default()).unwrap();
    let out = play(&mut receiver, &arrivals, 3300);
    let stats = receiver.stats();
    assert!(stats.jitter.duplicates >= 14, "{stats:?}");
    // Packets are handed over at 10 ms pulls, so the buffer sees lateness of 0..50 ms; its
    // 95th percentile is the target.
    assert!(
        receiver.target_delay_ms() >= 45,
        "jitter of 0..60 ms needs a deep buffer: {}",
        receiver.target_delay_ms()
    );
    // Nearly every packet was played, not dropped as late.
    assert!(stats.decoded >= 140, "{stats:?}");
    assert!(tone_ratio(&out[24_000..120_000], 48_000, 440.0) > 0.4);
    assert_eq!(stats.decode_errors, 0);
}

#[test]
fn buffer_grows_under_jitter_and_shrinks_when_calm() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let mut rng = Rng(7);
    let mut seq = 65_000u16;
    let mut ts = u32::MAX - 100 * 960;
    let mut pending: Vec<(u64, u16, u32)> = Vec::new();
    let mut target_in_storm = 0;
    for i in 0..1000u64 {
        let jitter = if i < 300 { rng.below(80) } else { rng.below(2) };
        pending.push((i * 20 + jitter, seq, ts));
        seq = seq.wrapping_add(1);
        ts = ts.wrapping_add(960);
        if i == 299 {
            target_in_storm = jb.target_delay_ms();
        }
        // Deliver what has arrived by now, then play 20 ms.
        let now_ms = i * 20;
        pending.sort();
        while pending.first().is_some_and(|p| p.0 <= now_ms) {
            let (_, s, t) = pending.remove(0);
            jb.insert(s, t, vec![1], 960, Duration::from_millis(now_ms));
        }
        let _ = jb.next(Duration::from_millis(now_ms));
    }
    let stats = jb.stats();
    assert!(
        target_in_storm >= 80,
        "target during 0..80 ms jitter: {target_in_storm}"
    );
    assert!(
        jb.target_delay_ms() <= 40,
        "target after calm: {}",
        jb.target_delay_ms()
    );
    assert!(
        jb.buffered_ms() <= 60,
        "buffered after calm: {}",
        jb.buffered_ms()
    );
    assert!(stats.dropped > 0, "{stats:?}");
    assert!(stats.late < 15, "{stats:?}");
}

/// A buffer that starts at the delay it keeps on a steady network, so tests of other things
/// are not disturbed by the frames it drops while shrinking. Two packets deep, so that a
/// hole is seen with the packet after it already there (with one packet, a loss looks like
/// lateness until the next packet comes).
fn steady() -> JitterConfig {
    JitterConfig {
        start_delay_ms: 40,
        min_delay_ms: 40,
        ..JitterConfig::default()
    }
}

#[test]
fn lost_packets_are_rebuilt_by_fec_or_concealed() {
    let packets = tone_packets(440.0, 100);
    // Lose every seventh packet; the one after each hole carries FEC for it.
    let arrivals = network(&packets, |_| 0, |i| i % 7 != 3);
    let mut receiver = PeerReceiver::new(steady()).unwrap();
    let out = play(&mut receiver, &arrivals, 2200);
    let stats = receiver.stats();
    assert!(stats.jitter.lost >= 13, "{stats:?}");
    assert!(stats.fec_recovered >= 13, "{stats:?}");
    // No gaps: every hole is filled. libopus adds FEC data only while its voice detector
    // sees activity, which a steady tone keeps up for well under a second, so only the
    // first holes (packets 3 and 10) are checked for a full-level rebuild; later ones get
    // concealment, which fades.
    let middle = &out[4800..96_000];
    assert!(tone_ratio(middle, 48_000, 440.0) > 0.35);
    let blocks: Vec<f32> = middle.chunks(480).map(rms).collect();
    assert!(
        blocks.iter().all(|&r| r > 0.01),
        "a hole was not filled: {blocks:?}"
    );
    assert!(
        blocks[..20].iter().all(|&r| r > 0.25),
        "FEC did not rebuild the first holes: {blocks:?}"
    );
}

#[test]
fn jitter_buffer_reports_holes_with_the_following_packet() {
    let mut jb = JitterBuffer::new(JitterConfig {
        start_delay_ms: 20,
        ..JitterConfig::default()
    });
    let t = Duration::from_millis;
    jb.insert(10, 9600, vec![10], 960, t(0));
    jb.insert(12, 9600 + 1920, vec![12], 960, t(40));
    assert_eq!(
        jb.next(t(40)),
        Next::Packet {
            data: vec![10],
            samples: 960
        }
    );
    assert_eq!(
        jb.next(t(60)),
        Next::Lost {
            samples: 960,
            fec: Some(vec![12])
        }
    );
    assert_eq!(
        jb.next(t(80)),
        Next::Packet {
            data: vec![12],
            samples: 960
        }
    );
    // The missing packet now arrives too late to play.
    assert_eq!(
        jb.insert(11, 9600 + 960, vec![11], 960, t(81)),
        hearth_media::InsertOutcome::Late
    );
}

#[test]
fn mixer_sums_peers_with_volume_mute_and_deafen() {
    let mut mixer: Mixer<&str> = Mixer::new(steady());
    mixer.add_peer("ann").unwrap();
    mixer.add_peer("bob").unwrap();
    let ann = network(&tone_packets(440.0, 60), |_| 0, |_| true);
    let bob = network(&tone_packets(1000.0, 60), |_| 0, |_| true);
    let run = |mixer: &mut Mixer<&str>, from_ms: u64| {
        let mut out = Vec::new();
        for now_ms in (from_ms..from_ms + 400).step_by(10) {
            let now = Duration::from_millis(now_ms);
            for (key, arrivals) in [("ann", &ann), ("bob", &bob)] {
                for a in arrivals
                    .iter()
                    .filter(|a| a.at_ms > now_ms.saturating_sub(10) && a.at_ms <= now_ms)
                {
                    mixer
                        .push_packet(&key, a.seq, a.ts, &a.data, now)
                        .unwrap()
                        .unwrap();
                }
            }
            let mut chunk = [0.0; 480];
            mixer.mix(&mut chunk, now);
            out.extend_from_slice(&chunk);
        }
        out
    };
    let both = run(&mut mixer, 0);
    let tail = &both[9600..];
    assert!(tone_ratio(tail, 48_000, 440.0) > 0.15 && tone_ratio(tail, 48_000, 1000.0) > 0.15);

    mixer.peer_mut(&"bob").unwrap().set_muted(true);
    mixer.peer_mut(&"ann").unwrap().set_volume(0.5);
    let ann_only = run(&mut mixer, 400);
    let tail = &ann_only[4800..];
    assert!(tone_ratio(tail, 48_000, 1000.0) < 0.01);
    assert!(
        tone_ratio(tail, 48_000, 440.0) > 0.4,
        "{} {:?}",
        tone_ratio(tail, 48_000, 440.0),
        tail.chunks(960).map(rms).collect::<Vec<_>>()
    );
    assert!(
        (rms(tail) - 0.5 * 0.4 / 2f32.sqrt()).abs() < 0.05,
        "{}",
        rms(tail)
    );

    mixer.set_deafened(true);
    assert_eq!(rms(&run(&mut mixer, 800)), 0.0);
    assert!(
        mixer
            .push_packet(&"nobody", 0, 0, &[0], Duration::ZERO)
            .is_none()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Whatever arrives from the network (random payloads, numbers and times), the receiver
    /// never panics and its output stays finite and in range.
    #[test]
    fn garbage_packets_never_panic(
        packets in proptest::collection::vec(
            (any::<u16>(), any::<u32>(), proptest::collection::vec(any::<u8>(), 0..200), 0u64..2000),
            0..40,
        )
    ) {
        let mut receiver = PeerReceiver::new(JitterConfig::default()).unwrap();
        let mut sorted = packets;
        sorted.sort_by_key(|p| p.3);
        let mut out = [0.0f32; 480];
        let mut next = 0;
        for now_ms in (0..2500).step_by(10) {
            let now = Duration::from_millis(now_ms);
            while next < sorted.len() && sorted[next].3 <= now_ms {
                let (seq, ts, data, _) = &sorted[next];
                let _ = receiver.push_packet(*seq, *ts, data, now);
                next += 1;
            }
            out.fill(0.0);
            receiver.render_add(&mut out, now);
            prop_assert!(out.iter().all(|x| x.is_finite() && x.abs() <= 1.0001));
        }
    }
}

/// A click train through the whole path (capture pipeline, Opus, network, jitter buffer,
/// decoder) comes out delayed by exactly the jitter buffer's start delay plus Opus's
/// look-ahead: the latency measurement other crates' tests rely on works through the codec.
#[test]
fn click_train_delay_through_codec_and_jitter_buffer() {
    let config = CaptureConfig {
        noise_suppression: false,
        mode: TransmitMode::PushToTalk,
        ..CaptureConfig::default()
    };
    let mut pipeline = CapturePipeline::new(config).unwrap();
    pipeline.set_push_to_talk(true);
    let mut reference = vec![0.0; 96_000];
    ClickTrain::new(48_000, 9600, 0.8)
        .read(&mut reference)
        .unwrap();
    let packets: Vec<EncodedFrame> = reference
        .chunks(960)
        .filter_map(|frame| pipeline.process(frame).unwrap().packet)
        .collect();
    assert_eq!(packets.len(), 100, "push-to-talk sends every frame");
    let arrivals = network(&packets, |_| 0, |_| true);
    let mut receiver = PeerReceiver::new(steady()).unwrap();
    let out = play(&mut receiver, &arrivals, 2200);

    // Packet 0 is pushed at 10 ms and starts playing 40 ms later, at output sample 2400;
    // the Opus encoder adds 6.5 ms (312 samples) of look-ahead.
    let delay = find_delay(&reference[..48_000], &out, 9600).expect("clicks came through");
    assert!(
        (delay as i64 - (2400 + 312)).abs() <= 48,
        "delay {delay} samples"
    );
}
