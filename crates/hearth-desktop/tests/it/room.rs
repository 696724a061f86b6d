//! The app core end to end against real servers over loopback: hosting from the toggle,
//! joining (and being refused), chat both ways with notifications, moderation, settings.

use hearth_desktop::ipc::{
    AppEvent, ChannelKind, ConnectionStatus, HostConfig, HostStatus, NotificationKind, Settings,
};
use hearth_desktop::{Desktop, DesktopConfig};

use crate::support::expect;

fn host_config(password: Option<&str>) -> HostConfig {
    HostConfig {
        port: 0,
        room_name: "party".into(),
        password: password.map(Into::into),
        channels: vec![
            hearth_desktop::ipc::Channel {
                id: "chat".into(),
                kind: ChannelKind::Text,
                name: "chat".into(),
                topic: None,
            },
            hearth_desktop::ipc::Channel {
                id: "talk".into(),
                kind: ChannelKind::Voice,
                name: "Talk".into(),
                topic: Some("say hi".into()),
            },
        ],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_from_the_toggle_join_chat_both_ways_and_moderate() {
    let mut host = Desktop::spawn(DesktopConfig::default());
    let mut guest = Desktop::spawn(DesktopConfig::default());

    // The toggle: the server starts with our room and channels, and says where to join.
    let status = host
        .handle
        .host_start(host_config(Some("pw")))
        .await
        .unwrap();
    let HostStatus::On {
        port,
        room_name,
        password_protected,
        join_link,
        ..
    } = status
    else {
        panic!("not hosting: {status:?}");
    };
    assert_eq!(room_name, "party");
    assert!(password_protected);
    // The link opens the web client in a browser and pins the certificate in the app.
    let (address_part, pin) = join_link.split_once("#fp=").expect("the link carries the fingerprint");
    assert!(address_part.starts_with("https://") && address_part.ends_with(&format!(":{port}/party")), "{join_link}");
    assert_eq!(pin.len(), 64, "{join_link}");
    expect(&mut host, "host status on", |e| {
        matches!(
            e,
            AppEvent::HostStatus {
                status: HostStatus::On { .. }
            }
        )
        .then_some(())
    })
    .await;

    // The host joins their own room, as its operator.
    let address = format!("127.0.0.1:{port}/party");
    host.handle
        .connect(address.clone(), "hostess".into(), Some("pw".into()))
        .await
        .unwrap();
    let (me, channels) = expect(&mut host, "welcome", |e| match e {
        AppEvent::Welcome { you, room, members } => {
            let me = members.iter().find(|m| m.id == *you).cloned();
            Some((me, room.channels.clone()))
        }
        _ => None,
    })
    .await;
    assert!(
        me.expect("we are in the member list").operator,
        "the host is operator"
    );
    assert_eq!(
        channels
            .iter()
            .map(|c| (c.id.as_str(), c.kind))
            .collect::<Vec<_>>(),
        [("chat", ChannelKind::Text), ("talk", ChannelKind::Voice)]
    );
    let certificate = connected_certificate(&mut host).await;
    // Plain WebSocket to this computer: no certificate to show.
    assert_eq!(certificate, None);

    // A link naming another certificate is refused before anything is sent.
    let wrong_pin = if pin.starts_with('0') { pin.replacen('0', "1", 1) } else { format!("0{}", &pin[1..]) };
    let err = guest
        .handle
        .connect(format!("https://127.0.0.1:{port}/party#fp={wrong_pin}"), "guest".into(), Some("pw".into()))
        .await
        .unwrap_err();
    assert_eq!(err.code, "certificate_mismatch", "{err:?}");
    assert!(err.message.contains(&wrong_pin[..8]) && err.message.contains("fingerprint"), "{err:?}");
    expect(&mut guest, "failed status", |e| {
        matches!(e, AppEvent::Connection { status: ConnectionStatus::Failed { code, .. } } if code == "certificate_mismatch").then_some(())
    })
    .await;

    // A wrong password is refused in words, and the status says so. The guest uses the
    // host's link (over WSS, pinned), on this computer's loopback address.
    let link = format!("https://127.0.0.1:{port}/party#fp={pin}");
    let err = guest
        .handle
        .connect(link.clone(), "guest".into(), Some("nope".into()))
        .await
        .unwrap_err();
    assert_eq!(err.code, "bad_password", "{err:?}");
    let got = expect(&mut guest, "failed status", |e| match e {
        AppEvent::Connection {
            status: ConnectionStatus::Failed { code, .. },
        } => Some(code.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got, "bad_password", "{err:?}");
    guest
        .handle
        .connect(link, "guest".into(), Some("pw".into()))
        .await
        .unwrap();
    let guest_id = expect(&mut guest, "guest welcome", |e| match e {
        AppEvent::Welcome { you, .. } => Some(*you),
        _ => None,
    })
    .await;
    expect(&mut host, "guest joined", |e| match e {
        AppEvent::MemberJoined { member } if member.id == guest_id => Some(()),
        _ => None,
    })
    .await;

    // Chat both ways; a mention and a DM raise notifications for the one addressed.
    guest
        .handle
        .send_chat(
            "chat".into(),
            "g-1".into(),
            "hi @hostess <b>".into(),
            None,
            None,
        )
        .await
        .unwrap();
    let text = expect(&mut host, "the guest's message", |e| match e {
        AppEvent::Chat { message } if message.author == "guest" => Some(message.text.clone()),
        _ => None,
    })
    .await;
    assert_eq!(text, "hi @hostess <b>", "text arrives as it was typed");
    let got = expect(&mut host, "a mention notification", |e| match e {
        AppEvent::Notification {
            kind: NotificationKind::Mention,
            channel,
            ..
        } => Some(channel.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got.as_deref(), Some("chat"));
    host.handle
        .send_chat("@guest".into(), "h-1".into(), "psst".into(), None, None)
        .await
        .unwrap();
    let got = expect(&mut guest, "the DM", |e| match e {
        AppEvent::Chat { message } if message.text == "psst" => Some(message.channel.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got, "@hostess");
    expect(&mut guest, "a DM notification", |e| {
        matches!(
            e,
            AppEvent::Notification {
                kind: NotificationKind::Dm,
                ..
            }
        )
        .then_some(())
    })
    .await;

    // A guest is not an operator: their kick is refused and nothing happens.
    guest.handle.kick(1, None).await.unwrap();
    let got = expect(&mut guest, "the refusal", |e| match e {
        AppEvent::Error { code, src, .. } if src.as_deref() == Some("kick") => Some(code.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got, "forbidden");

    // The operator kicks the guest: the guest is told, the host sees them leave.
    host.handle
        .kick(guest_id, Some("testing".into()))
        .await
        .unwrap();
    let got = expect(&mut guest, "kicked status", |e| match e {
        AppEvent::Connection {
            status: ConnectionStatus::Failed { code, .. },
        } => Some(code.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got, "kicked");
    let got = expect(&mut host, "the guest leaving", |e| match e {
        AppEvent::MemberLeft { id, reason } if *id == guest_id => Some(*reason),
        _ => None,
    })
    .await;
    assert_eq!(got, hearth_desktop::ipc::LeaveReason::Kicked);
    let err = guest
        .handle
        .send_chat(
            "chat".into(),
            "g-2".into(),
            "still here?".into(),
            None,
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, "not_connected");

    // The toggle off stops the server.
    let status = host.handle.host_stop().await.unwrap();
    assert!(
        matches!(status, HostStatus::Off { last_error: None }),
        "{status:?}"
    );
    host.handle.shutdown().await.unwrap();
    guest.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_and_unreachable_addresses_are_explained() {
    let mut desktop = Desktop::spawn(DesktopConfig::default());
    let err = desktop
        .handle
        .connect("ftp://nowhere".into(), "ann".into(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code, "bad_address");
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let err = desktop
        .handle
        .connect(format!("127.0.0.1:{port}"), "ann".into(), None)
        .await
        .unwrap_err();
    assert_eq!(err.code, "unreachable", "{err:?}");
    assert!(err.message.contains(&port.to_string()), "{err:?}");
    let got = expect(&mut desktop, "failed status", |e| match e {
        AppEvent::Connection {
            status: ConnectionStatus::Failed { code, .. },
        } => Some(code.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got, "unreachable");
    let err = desktop.handle.typing("general".into()).await.unwrap_err();
    assert_eq!(err.code, "not_connected");
    desktop.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn settings_persist_in_the_config_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = DesktopConfig {
        config_dir: Some(dir.path().to_path_buf()),
        ..DesktopConfig::default()
    };
    let desktop = Desktop::spawn(config.clone());
    let wanted = Settings {
        push_to_talk: true,
        push_to_talk_key: Some("Space".into()),
        frame_ms: 10,
        ..Settings::default()
    };
    assert_eq!(
        desktop.handle.set_settings(wanted.clone()).await.unwrap(),
        wanted
    );
    let err = desktop
        .handle
        .set_settings(Settings {
            frame_ms: 30,
            ..Settings::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code, "invalid_settings");
    desktop.handle.shutdown().await.unwrap();
    let _ = desktop.task.await;

    let again = Desktop::spawn(config);
    assert_eq!(again.handle.get_settings().await.unwrap(), wanted);
    again.handle.shutdown().await.unwrap();
}

/// An address typed by hand, with no fingerprint, for a room on another computer: the app
/// joins over TLS trusting the certificate it meets the first time (never plain WebSocket,
/// which the server refuses from the LAN), and the recent list remembers that certificate
/// with the address, so the next join accepts only it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bare_lan_address_is_trusted_on_first_use_and_remembered_pinned() {
    let host = Desktop::spawn(DesktopConfig::default());
    let mut guest = Desktop::spawn(DesktopConfig::default());
    let HostStatus::On { port, join_link, .. } = host.handle.host_start(host_config(None)).await.unwrap() else {
        panic!("not hosting");
    };
    // The join link names this computer's LAN address, as another computer would reach it.
    let (address_part, pin) = join_link.split_once("#fp=").expect("a pinned link");
    let lan = address_part.trim_start_matches("https://").split(':').next().unwrap().to_owned();
    if lan.starts_with("127.") || lan == "localhost" {
        eprintln!("SKIPPED: this computer has no LAN address ({join_link})");
        return;
    }
    let typed = format!("{lan}:{port}/party");
    guest.handle.connect(typed.clone(), "guest".into(), None).await.expect("joins by the bare address");
    // The certificate met is shown, for the user to compare with the host's screen.
    let shown = connected_certificate(&mut guest).await;
    assert_eq!(shown.as_deref(), Some(pin), "the connected status names the certificate met");
    let recent = guest.handle.recent_servers().await.unwrap();
    assert_eq!(recent[0].address, format!("{typed}#fp={pin}"), "remembered with the certificate met");
    // Joining again from the recent list pins that certificate.
    guest.handle.connect(recent[0].address.clone(), "guest".into(), None).await.expect("joins again, pinned");
    host.handle.shutdown().await.unwrap();
    guest.handle.shutdown().await.unwrap();
}

/// Waits for `desktop` to report itself connected; returns the certificate it shows.
async fn connected_certificate(desktop: &mut Desktop) -> Option<String> {
    expect(desktop, "connected", |e| match e {
        AppEvent::Connection {
            status: ConnectionStatus::Connected { certificate, .. },
        } => Some(certificate.clone()),
        _ => None,
    })
    .await
}
