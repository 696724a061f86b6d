//! The UI's TypeScript types are generated from the Rust types; the committed file must match.

use std::path::PathBuf;

fn bindings_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/ipc/bindings.ts")
}

/// Fails when `ui/src/ipc/bindings.ts` is not what the Rust types generate, so a change to
/// the contract cannot land without the UI seeing it. `HEARTH_BLESS=1` rewrites the file.
#[test]
fn committed_typescript_bindings_are_up_to_date() {
    let generated = hearth_desktop::ipc::typescript().expect("the IPC types export to TypeScript");
    let path = bindings_path();
    if std::env::var_os("HEARTH_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write the bindings");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run `HEARTH_BLESS=1 cargo test -p hearth-desktop --test it bindings` \
         and commit the result",
        path.display()
    );
}
