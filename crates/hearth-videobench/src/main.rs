//! `hearth-videobench [--json]`: CPU time of VP8 encode and decode per stream (the test
//! pattern at 640x480 and 1280x720, 30 fps), and the bitrate achieved.
//!
//! CPU time is this thread's time on CPU from `/proc/thread-self/schedstat` (nanoseconds,
//! Linux), so other processes on the machine do not inflate it.

use hearth_media::video::{
    EncoderConfig, TestPattern, VideoFormat, VideoSource, Vp8Decoder, Vp8Encoder,
};

const FRAMES: u32 = 300;
const FPS: u32 = 30;

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

struct Figures {
    width: u32,
    height: u32,
    target_kbps: u32,
    achieved_kbps: f64,
    encode_ms_per_frame: f64,
    decode_ms_per_frame: f64,
}

fn run(width: u32, height: u32, kbps: u32) -> Result<Figures, hearth_media::video::VideoError> {
    let mut src = TestPattern::new(VideoFormat {
        width,
        height,
        fps: FPS,
    })?;
    let frames: Vec<_> = (0..FRAMES)
        .map(|i| src.next_frame(u64::from(i) * 1_000_000 / u64::from(FPS)))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    let mut enc = Vp8Encoder::new(EncoderConfig {
        width,
        height,
        fps: FPS,
        bitrate_kbps: kbps,
        threads: 1,
        keyframe_interval: 0,
    })?;
    let start = thread_cpu_ns();
    let mut encoded = Vec::new();
    for f in &frames {
        encoded.extend(enc.encode(f, false)?);
    }
    let enc_ns = thread_cpu_ns() - start;
    let mut dec = Vp8Decoder::new()?;
    let start = thread_cpu_ns();
    for e in &encoded {
        dec.decode(&e.data, e.timestamp_us)?;
    }
    let dec_ns = thread_cpu_ns() - start;
    let bytes: usize = encoded.iter().map(|e| e.data.len()).sum();
    Ok(Figures {
        width,
        height,
        target_kbps: kbps,
        achieved_kbps: bytes as f64 * 8.0 / (f64::from(FRAMES) / f64::from(FPS)) / 1000.0,
        encode_ms_per_frame: enc_ns as f64 / 1e6 / f64::from(FRAMES),
        decode_ms_per_frame: dec_ns as f64 / 1e6 / encoded.len().max(1) as f64,
    })
}

mod latency;

/// `--latency [SECONDS]`: capture-to-decoded latency at 640x480@30 through a real server and
/// WebRTC on loopback, instead of the codec CPU figures.
fn latency_main(seconds: u64, json: bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let format = hearth_media::video::VideoFormat {
        width: 640,
        height: 480,
        fps: FPS,
    };
    let l = runtime.block_on(latency::run(format, seconds));
    if json {
        println!(
            "{{\"latency\":{{\"size\":\"{}x{}\",\"frames\":{},\"unreadable\":{},\"fps\":{:.1},\"p50_ms\":{:.1},\"p95_ms\":{:.1},\"max_ms\":{:.1}}}}}",
            l.width, l.height, l.frames, l.unreadable, l.fps, l.p50_ms, l.p95_ms, l.max_ms
        );
    } else {
        println!(
            "capture-to-decoded latency {}x{}@{FPS} over loopback WebRTC: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms over {} frames ({} unreadable), {:.1} fps sent",
            l.width, l.height, l.p50_ms, l.p95_ms, l.max_ms, l.frames, l.unreadable, l.fps
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    if let Some(i) = args.iter().position(|a| a == "--latency") {
        let seconds = args.get(i + 1).and_then(|s| s.parse().ok()).unwrap_or(10);
        latency_main(seconds, json);
        return;
    }
    let mut rows = Vec::new();
    for (w, h, kbps) in [(640, 480, 500), (1280, 720, 1200)] {
        match run(w, h, kbps) {
            Ok(f) => rows.push(f),
            Err(e) => {
                eprintln!("{w}x{h}: {e}");
                std::process::exit(1);
            }
        }
    }
    // A share of one core at 30 fps: ms per frame * 30 / 1000 ms.
    let pct = |ms: f64| ms * f64::from(FPS) / 10.0;
    if json {
        let items: Vec<String> = rows
            .iter()
            .map(|f| {
                format!(
                    "{{\"size\":\"{}x{}\",\"fps\":{FPS},\"target_kbps\":{},\"achieved_kbps\":{:.1},\"encode_ms_per_frame\":{:.3},\"encode_core_pct\":{:.1},\"decode_ms_per_frame\":{:.3},\"decode_core_pct\":{:.1}}}",
                    f.width, f.height, f.target_kbps, f.achieved_kbps, f.encode_ms_per_frame,
                    pct(f.encode_ms_per_frame), f.decode_ms_per_frame, pct(f.decode_ms_per_frame)
                )
            })
            .collect();
        println!("[{}]", items.join(","));
    } else {
        for f in &rows {
            println!(
                "{}x{}@{FPS} target {} kbps: achieved {:.0} kbps; encode {:.2} ms/frame ({:.1} % of a core); decode {:.2} ms/frame ({:.1} % of a core)",
                f.width,
                f.height,
                f.target_kbps,
                f.achieved_kbps,
                f.encode_ms_per_frame,
                pct(f.encode_ms_per_frame),
                f.decode_ms_per_frame,
                pct(f.decode_ms_per_frame)
            );
        }
    }
}
