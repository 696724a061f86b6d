//! The memory floor of Tauri itself on this platform: one window, the same size as Hearth's,
//! showing one line of HTML (from a custom URI scheme, as Hearth's UI comes), with none of Hearth (no app core, no plugins, no UI). The desktop
//! benchmark's memory figures (docs/benchmarks.md, "Desktop app") are read against it:
//!
//! ```sh
//! CARGO_TARGET_DIR=target-release cargo run --release --example blank_window
//! ```
//!
//! and, after 30 s, `/proc/PID/smaps_rollup` of it and of WebKit's two processes below it.

use tauri::{WebviewUrl, WebviewWindowBuilder};

fn main() -> anyhow::Result<()> {
    // The renderer Hearth itself picks, so the two are compared like for like.
    #[cfg(target_os = "linux")]
    hearth_app::renderer::choose();
    let mut context: tauri::Context<tauri::Wry> = tauri::generate_context!();
    context.config_mut().app.windows.clear();
    tauri::Builder::default()
        .register_uri_scheme_protocol("blank", |_, _| {
            tauri::http::Response::builder()
                .header("Content-Type", "text/html")
                .body(b"<p>Hello</p>".to_vec())
                .expect("a static response")
        })
        .setup(|app| {
            WebviewWindowBuilder::new(
                app,
                "main",
                WebviewUrl::External("blank://localhost/".parse()?),
            )
            .title("blank")
            .inner_size(900.0, 640.0)
            .build()?;
            Ok(())
        })
        .run(context)?;
    Ok(())
}
