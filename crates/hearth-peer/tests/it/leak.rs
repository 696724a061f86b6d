//! The soak test: many connect/close cycles of one pair must leave memory, tokio tasks and
//! webrtc-rs connections where they started (webrtc-rs issue 906 was a per-connection leak).

use std::time::{Duration, Instant};

use crate::net::{Net, serial};

const WARM_UP: usize = 20;
const CYCLES: usize = 200;
/// RSS may move by allocator noise, not by anything proportional to the cycle count: one leaked
/// connection per cycle would be tens of MiB over 200 cycles.
const RSS_TOLERANCE_KIB: i64 = 2 * 1024;
const TASK_TOLERANCE: usize = 2;

fn rss_kib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// One connect, audio both ways, close cycle.
async fn cycle(net: &mut Net) -> usize {
    for n in net.nodes.values_mut() {
        n.seen.clear();
    }
    net.join_both(1, 2);
    let ok = net
        .pump_until(Duration::from_secs(10), |n| {
            n.audio(1, 2) >= 1 && n.audio(2, 1) >= 1
        })
        .await;
    let busy = alive_tasks();
    assert!(
        ok,
        "cycle did not connect: {:?} / {:?}",
        net.seen(1, 2),
        net.seen(2, 1)
    );
    for (a, b) in [(1, 2), (2, 1)] {
        assert!(net.nodes.get_mut(&a).unwrap().mesh.remove_member(b).await);
    }
    let closed = net
        .pump_until(Duration::from_secs(5), |n| {
            n.seen(1, 2).is_some_and(|s| s.closed) && n.seen(2, 1).is_some_and(|s| s.closed)
        })
        .await;
    assert!(closed, "peers did not report Closed");
    busy
}

/// Waits briefly for tasks that are finishing to be reaped before sampling.
async fn settle(baseline: Option<usize>) -> usize {
    let end = Instant::now() + Duration::from_secs(2);
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let n = alive_tasks();
        if baseline.is_none_or(|b| n <= b) || Instant::now() >= end {
            return n;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_close_cycles_do_not_leak() {
    let _serial = serial().await;
    let mut net = Net::new();
    net.add_node(1);
    net.add_node(2);
    net.audio_every = Some(Duration::from_millis(5));
    let started = Instant::now();
    for _ in 0..WARM_UP {
        cycle(&mut net).await;
    }
    let tasks0 = settle(None).await;
    let rss0 = rss_kib();
    let live0 = hearth_peer::live_connections();
    let fds0 = open_fds();
    let mut rss_mid = 0;
    let mut busy = 0;
    for i in 0..CYCLES {
        busy = busy.max(cycle(&mut net).await);
        if i + 1 == CYCLES / 2 {
            rss_mid = rss_kib();
        }
    }
    let tasks1 = settle(Some(tasks0)).await;
    let rss1 = rss_kib();
    let live1 = hearth_peer::live_connections();
    let fds1 = open_fds();
    eprintln!(
        "leak test: {} cycles in {:.1?}; tasks {tasks0} -> {tasks1} (up to {busy} while connected); RSS {rss0} KiB -> {rss_mid} KiB (half) -> {rss1} KiB; \
         live connections {live0} -> {live1}; open fds {fds0} -> {fds1}",
        WARM_UP + CYCLES,
        started.elapsed()
    );
    // The task count must see the connections' tasks, or its flatness proves nothing.
    assert!(busy > tasks0 + 2, "task metric saw no peer tasks ({busy})");
    assert_eq!(
        live1, 0,
        "webrtc-rs connections were not freed (the issue 906 leak)"
    );
    assert!(
        tasks1 <= tasks0 + TASK_TOLERANCE,
        "tokio tasks grew from {tasks0} to {tasks1}"
    );
    assert!(
        rss1 - rss0 <= RSS_TOLERANCE_KIB,
        "RSS grew from {rss0} KiB to {rss1} KiB over {CYCLES} cycles"
    );
    net.close().await;
}
