//! The WebKitGTK renderer choice, made before GTK starts.
//!
//! WebKitGTK 2.50 draws the page through its DMA-BUF renderer by default. On a Linux machine
//! without a GPU (a virtual machine, a server used over VNC, this project's CI), Mesa's
//! software rasteriser serves that renderer, and the web process then holds about 80 MB more
//! than with WebKit's shared-memory path, with the same picture (docs/benchmarks.md, "Desktop
//! app"). So when no GPU render node exists the app asks for the shared-memory path. A user's
//! own `WEBKIT_DISABLE_DMABUF_RENDERER` always wins.

use std::ffi::OsStr;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Command;

/// WebKitGTK's switch for its DMA-BUF renderer.
const VARIABLE: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";

/// Whether the DMA-BUF renderer should be switched off: only when the user has not set the
/// variable either way and the machine has no GPU render node.
fn disable_dmabuf(user_setting: Option<&OsStr>, has_render_node: bool) -> bool {
    user_setting.is_none() && !has_render_node
}

/// Whether `dev_dri` (normally `/dev/dri`) lists a GPU render node (`renderD128`, …). A
/// missing or unreadable folder means no GPU the webview could use.
fn has_render_node(dev_dri: &Path) -> bool {
    std::fs::read_dir(dev_dri).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| entry.file_name().to_string_lossy().starts_with("renderD"))
    })
}

/// Picks the renderer for this process and the WebKit processes it starts. When the
/// DMA-BUF renderer has to be switched off, the app starts itself again in place (`exec`,
/// same process id and arguments) with WebKit's variable set: changing the environment of a
/// running process is unsound once other threads might read it, and WebKit reads it in the
/// web process it starts, which inherits the environment. Call it first thing in `main`.
pub fn choose() {
    if !disable_dmabuf(
        std::env::var_os(VARIABLE).as_deref(),
        has_render_node(Path::new("/dev/dri")),
    ) {
        return;
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => {
            tracing::warn!(%error, "no GPU, but the app cannot find itself to restart with {VARIABLE}=1");
            return;
        }
    };
    let mut args = std::env::args_os();
    let mut command = Command::new(exe);
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    tracing::info!("no GPU render node in /dev/dri: restarting with {VARIABLE}=1");
    // The variable being set is what keeps the restarted process from restarting again.
    let error = command.args(args).env(VARIABLE, "1").exec();
    tracing::warn!(%error, "no GPU, but restarting with {VARIABLE}=1 failed; keeping the DMA-BUF renderer");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_machine_without_a_render_node_and_without_the_users_word_switches_it_off() {
        assert!(disable_dmabuf(None, false));
        assert!(!disable_dmabuf(None, true));
        assert!(!disable_dmabuf(Some(OsStr::new("0")), false));
        assert!(!disable_dmabuf(Some(OsStr::new("1")), true));
    }

    #[test]
    fn render_nodes_are_found_by_name() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!has_render_node(dir.path()));
        assert!(!has_render_node(&dir.path().join("missing")));
        std::fs::write(dir.path().join("card0"), b"").unwrap();
        assert!(
            !has_render_node(dir.path()),
            "a card node alone is not a render node"
        );
        std::fs::write(dir.path().join("renderD128"), b"").unwrap();
        assert!(has_render_node(dir.path()));
    }
}
