//! What a desktop session offers the app on D-Bus, played by the test on the private session
//! bus the app runs on (`driver::Desk`): a notification server that records what it is asked
//! to show, and a tray (a StatusNotifierWatcher, as KDE, GNOME's AppIndicator extension and
//! most Linux panels provide) whose menu the test can read and click like a user.
//!
//! The app talks to them through the same libraries as on a user's desktop: notify-rust (via
//! tauri-plugin-notification) calls `org.freedesktop.Notifications.Notify`, and
//! libayatana-appindicator registers the tray icon with the watcher and exports its menu over
//! `com.canonical.dbusmenu`.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zbus::blocking::{Connection, Proxy, connection};
use zbus::message::Header;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

/// One `Notify` call.
#[derive(Debug, Clone)]
pub struct Notice {
    pub summary: String,
    pub body: String,
}

/// The notification server, `org.freedesktop.Notifications`.
struct Notifications {
    shown: mpsc::Sender<Notice>,
    next_id: u32,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments, reason = "the method's D-Bus signature")]
    fn notify(
        &mut self,
        _app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        _actions: Vec<String>,
        _hints: HashMap<String, OwnedValue>,
        _expire_timeout: i32,
    ) -> u32 {
        let _ = self.shown.send(Notice { summary, body });
        self.next_id += 1;
        self.next_id
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".to_string()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "hearth-test".to_string(),
            "hearth".to_string(),
            "0".to_string(),
            "1.2".to_string(),
        )
    }

    fn close_notification(&self, _id: u32) {}
}

/// The tray's registry, `org.kde.StatusNotifierWatcher`. It only records who registered.
struct Watcher {
    registered: mpsc::Sender<(String, String)>,
    items: Vec<String>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    /// `service` is an object path (libayatana-appindicator sends its own) or a bus name.
    fn register_status_notifier_item(
        &mut self,
        service: String,
        #[zbus(header)] header: Header<'_>,
    ) {
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        let (bus_name, path) = if service.starts_with('/') {
            (sender, service)
        } else {
            (service, "/StatusNotifierItem".to_string())
        };
        self.items.push(format!("{bus_name}{path}"));
        let _ = self.registered.send((bus_name, path));
    }

    fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.clone()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// Both services, on the bus at `address`, for as long as this lives.
pub struct SessionBus {
    connection: Connection,
    notices: mpsc::Receiver<Notice>,
    tray_items: mpsc::Receiver<(String, String)>,
}

/// A tray menu item as the panel sees it.
#[derive(Debug, Clone)]
pub struct TrayItem {
    pub id: i32,
    /// The label as the panel shows it (without GTK's mnemonic underscores).
    pub label: String,
    /// 1 when a check item is checked, 0 when not, -1 for items that are not check items.
    pub toggle_state: i32,
}

impl SessionBus {
    /// Takes the notification server's and the tray watcher's names on the bus at `address`.
    pub fn start(address: &str) -> zbus::Result<SessionBus> {
        let (shown, notices) = mpsc::channel();
        let (registered, tray_items) = mpsc::channel();
        let connection = connection::Builder::address(address)?
            .name("org.freedesktop.Notifications")?
            .name("org.kde.StatusNotifierWatcher")?
            .serve_at(
                "/org/freedesktop/Notifications",
                Notifications { shown, next_id: 0 },
            )?
            .serve_at(
                "/StatusNotifierWatcher",
                Watcher {
                    registered,
                    items: Vec::new(),
                },
            )?
            .build()?;
        Ok(SessionBus {
            connection,
            notices,
            tray_items,
        })
    }

    /// The next notification whose summary contains `summary`, waiting up to `limit`.
    pub fn notice(&self, summary: &str, limit: Duration) -> Option<Notice> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.notices.recv_timeout(left) {
                Ok(notice) if notice.summary.contains(summary) => return Some(notice),
                Ok(other) => eprintln!("another notification: {other:?}"),
                Err(_) => return None,
            }
        }
    }

    /// The tray icon the app registered (its bus name and object path), waiting up to `limit`.
    pub fn tray_icon(&self, limit: Duration) -> Option<TrayIcon<'_>> {
        let (bus_name, path) = self.tray_items.recv_timeout(limit).ok()?;
        Some(TrayIcon {
            connection: &self.connection,
            bus_name,
            path,
        })
    }
}

/// A registered tray icon, read and clicked through its D-Bus menu.
pub struct TrayIcon<'a> {
    connection: &'a Connection,
    bus_name: String,
    path: String,
}

impl TrayIcon<'_> {
    fn menu(&self) -> zbus::Result<Proxy<'_>> {
        let item = Proxy::new(
            self.connection,
            self.bus_name.as_str(),
            self.path.as_str(),
            "org.kde.StatusNotifierItem",
        )?;
        let menu: OwnedObjectPath = item.get_property("Menu")?;
        Proxy::new(
            self.connection,
            self.bus_name.clone(),
            menu,
            "com.canonical.dbusmenu",
        )
    }

    /// The menu's items, in order (separators have an empty label).
    pub fn items(&self) -> zbus::Result<Vec<TrayItem>> {
        type Layout = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);
        let (_revision, (_, _, children)): (u32, Layout) = self.menu()?.call(
            "GetLayout",
            &(0i32, -1i32, vec!["label", "toggle-state", "type"]),
        )?;
        let mut items = Vec::new();
        for child in children {
            let (id, properties, _): Layout = child.try_into()?;
            // As the panel shows it: GTK's mnemonic underscores dropped.
            let label = properties
                .get("label")
                .and_then(|v| String::try_from(v.try_clone().ok()?).ok())
                .unwrap_or_default()
                .replace('_', "");
            let toggle_state = properties
                .get("toggle-state")
                .and_then(|v| i32::try_from(v).ok())
                .unwrap_or(-1);
            items.push(TrayItem {
                id,
                label,
                toggle_state,
            });
        }
        Ok(items)
    }

    /// The item labelled `label`.
    pub fn item(&self, label: &str) -> zbus::Result<Option<TrayItem>> {
        Ok(self.items()?.into_iter().find(|item| item.label == label))
    }

    /// Clicks the item labelled `label`, as a panel does when the user picks it.
    pub fn click(&self, label: &str) -> zbus::Result<()> {
        let item = self
            .item(label)?
            .ok_or_else(|| zbus::Error::Failure(format!("no tray menu item labelled {label:?}")))?;
        self.menu()?
            .call_method("Event", &(item.id, "clicked", Value::from(0i32), 0u32))?;
        Ok(())
    }
}
