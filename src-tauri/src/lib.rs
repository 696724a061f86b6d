//! Hearth's desktop shell: the Tauri window plus the embedded server it can host.
//!
//! The shell stays thin on purpose. State lives in small tasks (see `hearth_desktop`) and the Tauri
//! commands here only forward to them, so the logic can be tested without a window.

use std::path::PathBuf;

use anyhow::Context as _;
use serde::Serialize;
use tauri::{Emitter, Manager, RunEvent, Runtime, State};

use hearth_desktop::host::{Host, HostError, HostHandle, HostSpec, HostStatus};

/// The event the UI listens to for status changes it did not ask for, like the server
/// stopping on its own.
pub const HOST_STATUS_EVENT: &str = "host-status";

/// The error object every command returns to the UI: a stable `code` to branch on and a
/// `message` in plain words to show.
#[derive(Debug, Serialize)]
pub struct CommandError {
    code: &'static str,
    message: String,
}

impl From<HostError> for CommandError {
    fn from(e: HostError) -> Self {
        CommandError {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// Starts hosting on `port` (0 lets the OS pick), with `password` if it is not empty.
#[tauri::command]
async fn host_start(
    host: State<'_, HostHandle>,
    port: u32,
    password: Option<String>,
) -> Result<HostStatus, CommandError> {
    Ok(host
        .start(HostSpec {
            port,
            password,
            ..HostSpec::default()
        })
        .await?)
}

/// Stops hosting; the port is closed when this returns.
#[tauri::command]
async fn host_stop(host: State<'_, HostHandle>) -> Result<HostStatus, CommandError> {
    Ok(host.stop().await?)
}

/// Whether the server runs, and where.
#[tauri::command]
fn host_status(host: State<'_, HostHandle>) -> HostStatus {
    host.status()
}

/// The app's Tauri context, from tauri.conf.json. Generic so tests can use the mock runtime
/// with the real configuration and capabilities.
fn context<R: Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

/// Everything the app adds to a Tauri builder: commands and the host task.
fn setup<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .invoke_handler(tauri::generate_handler![host_start, host_stop, host_status])
        .setup(|app| {
            let (handle, host) = Host::new(server_data_dir(app.handle()));
            tauri::async_runtime::spawn(host.run());
            tauri::async_runtime::spawn(forward_status(app.handle().clone(), handle.subscribe()));
            app.manage(handle);
            Ok(())
        })
}

/// Where the hosted server keeps its history: a `server` folder in the OS data dir for this
/// app, so the app's own client files can sit beside it later.
fn server_data_dir<R: Runtime>(app: &tauri::AppHandle<R>) -> Option<PathBuf> {
    match app.path().app_data_dir() {
        Ok(dir) => Some(dir.join("server")),
        Err(e) => {
            // Hosting still works without a data dir; history just lasts until the server stops.
            tracing::warn!(error = %e, "no data directory; hosted chat history stays in memory");
            None
        }
    }
}

/// Tells the UI about every status change, so a server that dies on its own is shown as
/// stopped with its reason.
async fn forward_status<R: Runtime>(
    app: tauri::AppHandle<R>,
    mut status: tokio::sync::watch::Receiver<HostStatus>,
) {
    while status.changed().await.is_ok() {
        let current = status.borrow_and_update().clone();
        if let Err(e) = app.emit(HOST_STATUS_EVENT, current) {
            tracing::warn!(error = %e, "could not send host status to the window");
        }
    }
}

/// Runs the app until its window is closed.
pub fn run() -> anyhow::Result<()> {
    let app = setup(tauri::Builder::default())
        .build(context())
        .context("could not create the Hearth window")?;
    app.run(|app, event| {
        // Give connected clients their shutdown notice and flush history before the process
        // ends; the runtime would otherwise drop the server mid-write. No host state means
        // setup never ran, so there is nothing to stop.
        if let (RunEvent::Exit, Some(host)) = (event, app.try_state::<HostHandle>()) {
            let host = host.inner().clone();
            let _ = tauri::async_runtime::block_on(host.stop());
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr, TcpStream};
    use std::time::Duration;

    use serde_json::{Value, json};
    use tauri::ipc::{CallbackFn, InvokeBody};
    use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
    use tauri::utils::config::AppDirectoriesOverride;
    use tauri::webview::InvokeRequest;
    use tauri::{App, WebviewWindow};

    use super::*;

    /// The real app (config, capabilities, commands) on the mock runtime, with its data
    /// directories in `dir` instead of the user's.
    fn app(dir: &std::path::Path) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
        let mut context = context::<MockRuntime>();
        context.config_mut().app.app_directories_override =
            Some(AppDirectoriesOverride::Root(dir.to_path_buf()));
        let mut app = setup(mock_builder()).build(context).expect("build app");
        // Tauri runs setup (config windows, then ours, which starts the host task) on the
        // first turn of the event loop, not in build(). The deprecation warns against calling
        // this in a loop; one call is exactly what is needed here.
        #[allow(deprecated)]
        app.run_iteration(|_, _| {});
        let window = app
            .get_webview_window("main")
            .expect("the config's main window");
        (app, window)
    }

    fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
        get_ipc_response(
            window,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                // The origin the ACL expects from the bundled UI on Linux and macOS.
                url: if cfg!(windows) {
                    "http://tauri.localhost"
                } else {
                    "tauri://localhost"
                }
                .parse()
                .unwrap(),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|body| body.deserialize::<Value>().expect("json response"))
    }

    fn connects(port: u16) -> bool {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
    }

    #[test]
    fn start_and_stop_through_the_commands() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_app, window) = app(dir.path());

        assert_eq!(
            invoke(&window, "host_status", json!({})),
            Ok(json!({"state": "stopped", "lastError": null}))
        );

        let started = invoke(
            &window,
            "host_start",
            json!({"port": 0, "password": "open sesame"}),
        )
        .expect("host_start");
        assert_eq!(started["state"], "running", "{started}");
        assert_eq!(started["passwordProtected"], true, "{started}");
        let port = started["port"].as_u64().expect("port") as u16;
        assert_ne!(port, 0);
        assert_eq!(started["address"], format!("0.0.0.0:{port}"));
        assert!(
            connects(port),
            "nothing accepts connections on the reported port {port}"
        );
        assert!(
            dir.path().join("server").is_dir(),
            "the data dir follows the app's data dir"
        );

        let again = invoke(&window, "host_start", json!({"port": 0})).expect_err("second start");
        assert_eq!(again["code"], "already_running", "{again}");
        assert!(again["message"].as_str().is_some_and(|m| !m.is_empty()));

        let stopped = invoke(&window, "host_stop", json!({})).expect("host_stop");
        assert_eq!(stopped, json!({"state": "stopped", "lastError": null}));
        assert!(
            !connects(port),
            "port {port} still accepts connections after stop"
        );

        let idle = invoke(&window, "host_stop", json!({})).expect_err("stop while stopped");
        assert_eq!(idle["code"], "not_running", "{idle}");
    }

    #[test]
    fn a_busy_port_is_an_error_object_in_words() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_app, window) = app(dir.path());
        let taken = std::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("bind");
        let port = taken.local_addr().expect("addr").port();

        let err = invoke(&window, "host_start", json!({"port": port})).expect_err("busy port");
        assert_eq!(err["code"], "port_in_use", "{err}");
        assert!(
            err["message"]
                .as_str()
                .is_some_and(|m| m.contains(&port.to_string())),
            "{err}"
        );
    }
}
