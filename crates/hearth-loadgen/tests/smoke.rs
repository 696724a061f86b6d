//! The load generator's measuring logic against an in-process server, small enough for
//! `cargo test`: twenty members, a few fan-out messages and a short throughput burst.

use std::time::Duration;

use hearth_loadgen::Swarm;
use hearth_server::Config;
use tokio::sync::oneshot;

const MEMBERS: usize = 20;
const MESSAGES: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_member_gets_every_message_and_latencies_are_recorded() {
    swarm_run("ws").await;
}

/// The same over TLS, as members on other computers connect (`--tls`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_over_tls() {
    swarm_run("wss").await;
}

async fn swarm_run(scheme: &str) {
    let mut config = Config::default();
    config.limits.rate_per_sec = 100_000;
    config.limits.rate_burst = 100_000;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(hearth_server::run(listener, config, async {
        let _ = stopped.await;
    }));

    let mut swarm = Swarm::new(&format!("{scheme}://{addr}/"), "lobby", "general");
    let mut batches = 0;
    swarm.join(MEMBERS, 7, |_| batches += 1).await.expect("join");
    assert_eq!(swarm.len(), MEMBERS);
    assert_eq!(batches, 3, "20 members in batches of 7");
    // Everyone hears about everyone who joined after them.
    assert_eq!(swarm.member_joined_frames(), (MEMBERS * (MEMBERS - 1) / 2) as u64);

    swarm.probe(1, 0, Duration::from_secs(5)).await.expect("probe reaches everyone");

    let fanout =
        swarm.fanout(2, 3, MESSAGES, Duration::from_millis(20), Duration::from_secs(5)).await.expect("fan-out phase");
    assert_eq!(fanout.members, MEMBERS);
    assert_eq!(fanout.delivered, MESSAGES * MEMBERS, "every member got every message");
    assert_eq!(fanout.incomplete_members, 0);
    assert_eq!(fanout.latency.count, MESSAGES * MEMBERS);
    assert!(fanout.latency.max_ms > 0.0, "latencies are recorded: {:?}", fanout.latency);
    assert!(fanout.latency.p50_ms <= fanout.latency.p99_ms && fanout.latency.p99_ms <= fanout.latency.max_ms);

    let throughput = swarm
        .throughput(3, 2, 4, Duration::from_millis(100), Duration::from_millis(500), Duration::from_secs(5))
        .await
        .expect("throughput phase");
    assert!(throughput.sent_total > 0);
    assert!(throughput.accepted_per_sec > 0.0, "{throughput:?}");
    assert!(throughput.deliveries_per_sec > throughput.accepted_per_sec, "{throughput:?}");
    assert_eq!(throughput.incomplete_members, 0, "{throughput:?}");
    assert!(throughput.latency.count > 0);

    assert_eq!(swarm.dropped(), 0, "{:?}", swarm.drop_reasons());
    let (errors, rate_limited, samples) = swarm.errors();
    assert_eq!((errors, rate_limited), (0, 0), "{samples:?}");

    swarm.stopping();
    let _ = stop.send(());
    swarm.finish(Duration::from_secs(5)).await;
    server.await.expect("server task").expect("server stopped cleanly");
}

/// The load generator's own frame-header parser, at the edges of RFC 6455's length forms.
#[test]
fn frame_headers_parse_at_every_length_form() {
    use hearth_loadgen::socket::{Header, parse_header};
    assert_eq!(parse_header(&[]), Ok(None));
    assert_eq!(parse_header(&[0x81]), Ok(None), "one byte is not a header yet");
    let short = parse_header(&[0x81, 5, b'h']).expect("valid").expect("complete header");
    assert_eq!(short, Header { fin: true, opcode: 1, header_len: 2, payload_len: 5, mask: None });
    assert_eq!(parse_header(&[0x01, 126, 0x01]), Ok(None), "16-bit length cut short");
    let medium = parse_header(&[0x01, 126, 0x01, 0x00]).expect("valid").expect("complete");
    assert_eq!((medium.fin, medium.opcode, medium.header_len, medium.payload_len), (false, 1, 4, 256));
    let long = parse_header(&[0x80, 127, 0, 0, 0, 0, 0, 1, 0, 0]).expect("valid").expect("complete");
    assert_eq!((long.opcode, long.header_len, long.payload_len), (0, 10, 65536));
    let masked = parse_header(&[0x81, 0x82, 1, 2, 3, 4]).expect("valid").expect("complete");
    assert_eq!((masked.header_len, masked.mask), (6, Some([1, 2, 3, 4])));
    assert_eq!(parse_header(&[0x81, 0x82, 1, 2]), Ok(None), "mask key cut short");
    assert!(parse_header(&[0xC1, 0]).unwrap_err().contains("reserved bits"));
    let huge = [0x82, 127, 0xff, 0, 0, 0, 0, 0, 0, 0];
    assert!(parse_header(&huge).unwrap_err().contains("guard"));
}
