fn main() {
    // The package root is the repository root, so Tauri's default capabilities pattern
    // (`./capabilities/**/*`) would look next to the workspace instead of in src-tauri/.
    tauri_build::try_build(
        tauri_build::Attributes::new().capabilities_path_pattern("src-tauri/capabilities/**/*"),
    )
    .expect("tauri-build failed: check tauri.conf.json and src-tauri/capabilities/");
}
