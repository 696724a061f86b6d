//! Faults at the camera's end and refused requests: a camera that fails or a file that ends
//! turns the camera off for everyone and tells its owner why; a camera that changes size
//! mid-stream keeps its watchers' picture going; an open the server refuses is reported and
//! leaves nothing behind.

use std::io::Cursor;

use hearth_client::core::Event;
use hearth_media::video::{
    I420Frame, TestPattern, VideoError, VideoFormat, VideoSource, Y4mSource,
};
use hearth_video::VideoEvent;

use crate::support::*;

/// A test pattern that fails after `frames` frames, as a camera does when it is unplugged.
struct Unplugged {
    pattern: TestPattern,
    frames: u32,
}

impl VideoSource for Unplugged {
    fn format(&self) -> VideoFormat {
        self.pattern.format()
    }

    fn next_frame(&mut self, now_us: u64) -> Result<Option<I420Frame>, VideoError> {
        if self.pattern.frame_number() >= self.frames {
            return Err(VideoError::Io("No such device (os error 19)".into()));
        }
        self.pattern.next_frame(now_us)
    }
}

/// The stamped pattern at `first` for `switch_at` frames, then at `second`, numbers running on.
struct Resized {
    first: TestPattern,
    second: TestPattern,
    switch_at: u32,
    number: u32,
}

impl VideoSource for Resized {
    fn format(&self) -> VideoFormat {
        self.first.format()
    }

    fn next_frame(&mut self, now_us: u64) -> Result<Option<I420Frame>, VideoError> {
        let pattern = if self.number < self.switch_at {
            &self.first
        } else {
            &self.second
        };
        let frame = pattern.render(self.number, now_us);
        self.number += 1;
        Ok(Some(frame))
    }
}

/// A Y4M file of `frames` stamped frames, in memory.
fn y4m_file(format: VideoFormat, frames: u32) -> Vec<u8> {
    let pattern = TestPattern::new(format).unwrap();
    let mut bytes = format!(
        "YUV4MPEG2 W{} H{} F{}:1 Ip A1:1 C420jpeg\n",
        format.width, format.height, format.fps
    )
    .into_bytes();
    for n in 0..frames {
        bytes.extend_from_slice(b"FRAME\n");
        bytes.extend_from_slice(&pattern.render(n, 0).data);
    }
    bytes
}

/// Waits for `owner`'s camera to be shown as off to `member`.
async fn sees_camera_off(member: &mut Member, owner: u64) {
    member
        .expect("the camera shown as off", |e| match e {
            Event::MemberUpdated(m) if m.id == owner && !m.camera => Some(()),
            _ => None,
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_that_fails_or_a_file_that_ends_turns_off_for_everyone_and_says_why() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = TestServer::start().await;
    let mut alice = Member::join(&server, "alice", video_config()).await;
    let mut bob = Member::join(&server, "bob", video_config()).await;

    // Unplugged after three seconds, while bob watches.
    let source = Unplugged {
        pattern: TestPattern::new(VGA).unwrap(),
        frames: 90,
    };
    alice.video.camera_on(Box::new(source)).await.unwrap();
    bob.sees_camera_on(alice.id).await;
    let slot = bob.open(alice.id).await;
    first_frame(&slot).await;
    let reason = alice
        .expect_video("the camera reported as ended", |e| match e {
            VideoEvent::CameraEnded(reason) => Some(reason.clone()),
            _ => None,
        })
        .await;
    assert!(
        reason.contains("the camera stopped") && reason.contains("No such device"),
        "the user is told why: {reason:?}"
    );
    bob.expect_video("bob's watch closed", |e| {
        matches!(e, VideoEvent::Closed(m) if *m == alice.id).then_some(())
    })
    .await;
    sees_camera_off(&mut bob, alice.id).await;
    let stats = alice.stats().await;
    assert!(!stats.camera_on && stats.watchers.is_empty(), "{stats:?}");
    assert!(bob.stats().await.watching.is_empty());

    // A file source plays to its end, then the camera is off again. The owner can turn a
    // camera on again after it ended.
    let file = y4m_file(
        VideoFormat {
            width: 320,
            height: 240,
            fps: 30,
        },
        45,
    );
    let source = Y4mSource::new(Cursor::new(file)).unwrap();
    alice.video.camera_on(Box::new(source)).await.unwrap();
    bob.sees_camera_on(alice.id).await;
    let reason = alice
        .expect_video("the file reported as ended", |e| match e {
            VideoEvent::CameraEnded(reason) => Some(reason.clone()),
            _ => None,
        })
        .await;
    assert!(reason.contains("ended"), "{reason:?}");
    sees_camera_off(&mut bob, alice.id).await;

    alice.leave().await;
    bob.leave().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_that_changes_size_mid_stream_keeps_the_picture_going() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = TestServer::start().await;
    let alice = Member::join(&server, "alice", video_config()).await;
    let mut bob = Member::join(&server, "bob", video_config()).await;
    let small = VideoFormat {
        width: 320,
        height: 240,
        fps: 30,
    };
    let source = Resized {
        first: TestPattern::new(VGA).unwrap(),
        second: TestPattern::new(small).unwrap(),
        switch_at: 60,
        number: 0,
    };
    alice.video.camera_on(Box::new(source)).await.unwrap();
    bob.sees_camera_on(alice.id).await;
    let slot = bob.open(alice.id).await;
    first_frame(&slot).await;

    // Read frames (size and stamp) until well after the switch at frame 60 (two seconds in).
    let mut seen: Vec<((u32, u32), u32)> = Vec::new();
    let mut unreadable = 0;
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(frame) = slot.take() {
                match hearth_media::video::read_stamp(&frame) {
                    Some(stamp) => seen.push(((frame.width, frame.height), stamp.frame_number)),
                    None => unreadable += 1,
                }
                if seen.last().is_some_and(|(_, n)| *n >= 120) {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        }
    })
    .await
    .expect("frames well past the size change arrive");

    let numbers: Vec<u32> = seen.iter().map(|(_, n)| *n).collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "frames out of order: {numbers:?}"
    );
    assert_eq!(unreadable, 0, "a damaged picture was shown");
    for (size, number) in &seen {
        let want = if *number < 60 { (640, 480) } else { (320, 240) };
        assert_eq!(*size, want, "frame {number} has the size it was captured at");
    }
    let after: Vec<u32> = numbers.iter().copied().filter(|n| *n >= 60).collect();
    assert!(
        after.len() >= 30,
        "only {} frames of the 60 after the change were shown: {after:?}",
        after.len()
    );
    let stats = alice.stats().await;
    assert!(
        stats.keyframes_sent >= 2,
        "the new size starts with a keyframe: {stats:?}"
    );

    alice.leave().await;
    bob.leave().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_the_server_refuses_is_reported_and_leaves_nothing_behind() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let server = TestServer::start().await;
    let alice = Member::join(&server, "alice", video_config()).await;
    let mut bob = Member::join(&server, "bob", video_config()).await;

    // Alice's camera is off: the open is refused, and bob does not stay "watching".
    let slot = bob.open(alice.id).await;
    let (member, reason) = bob
        .expect_video("the refusal", |e| match e {
            VideoEvent::OpenRefused { member, reason } => Some((*member, reason.clone())),
            _ => None,
        })
        .await;
    assert_eq!(member, alice.id);
    assert!(reason.contains("off"), "the user is told why: {reason:?}");
    assert!(
        bob.stats().await.watching.is_empty(),
        "a refused camera is not listed as watched"
    );

    // Once the camera is on, the same member opens it and gets a picture.
    alice.camera_on(VGA).await;
    bob.sees_camera_on(alice.id).await;
    let slot_again = bob.open(alice.id).await;
    first_frame(&slot_again).await;
    assert!(slot.take().is_none(), "the refused open's slot stays empty");
    let watching = bob.stats().await.watching;
    assert_eq!(watching.keys().copied().collect::<Vec<_>>(), vec![alice.id]);

    alice.leave().await;
    bob.leave().await;
    server.stop().await;
}
