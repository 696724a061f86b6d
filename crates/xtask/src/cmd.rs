//! Running external programs: each command is echoed before it runs, so a log shows exactly
//! what to repeat by hand, and every failure names the command that failed.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

/// The cargo that started xtask. Going through the same binary keeps nested builds on the
/// same toolchain even when several are installed.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Echoes the command, runs it with the terminal's stdin/stdout/stderr, and fails unless it
/// exits successfully.
pub fn run(command: &mut Command) -> Result<(), String> {
    let shown = describe(command);
    eprintln!("    $ {shown}");
    let status = command
        .status()
        .map_err(|error| spawn_error(&shown, &error))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

/// Runs the command without showing anything and reports only whether it succeeded; for
/// probes such as `sudo -n true`, where a failure is an answer rather than an error.
pub fn succeeds_quietly(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs the command quietly and returns its stdout, or an error with its stderr.
pub fn output(command: &mut Command) -> Result<String, String> {
    let shown = describe(command);
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| spawn_error(&shown, &error))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "`{shown}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

pub fn spawn_error(shown: &str, error: &std::io::Error) -> String {
    if error.kind() == std::io::ErrorKind::NotFound {
        format!("cannot run `{shown}`: the program was not found on PATH")
    } else {
        format!("cannot run `{shown}`: {error}")
    }
}

/// Whether an executable called `name` is on PATH, without running it.
pub fn on_path(name: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| dir.join(name).is_file())
}

/// Whether an environment switch such as HEARTH_SKIP_FUZZ is turned on.
pub fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|value| {
        matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes"
        )
    })
}

/// The command as one would type it into a shell: variables first, then the program by its
/// file name (CARGO is a long toolchain path), then the arguments, then where it runs.
pub fn describe(command: &Command) -> String {
    let mut words: Vec<String> = command
        .get_envs()
        .filter_map(|(key, value)| Some(format!("{}={}", key.to_string_lossy(), quote(value?))))
        .collect();
    let program = Path::new(command.get_program());
    words.push(quote(program.file_name().unwrap_or(program.as_os_str())));
    words.extend(command.get_args().map(quote));
    let mut shown = words.join(" ");
    if let Some(dir) = command.get_current_dir() {
        shown.push_str(&format!("  (in {})", dir.display()));
    }
    shown
}

fn quote(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,/:=+@%".contains(c));
    if plain {
        word.into_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_shows_env_program_args_and_dir() {
        let mut command = Command::new("/usr/bin/cargo");
        command
            .env("RUSTC_BOOTSTRAP", "1")
            .args([
                "fuzz",
                "run",
                "decode",
                "--",
                "-max_total_time=30",
                "two words",
            ])
            .current_dir("/repo/crates/hearth-wire");
        assert_eq!(
            describe(&command),
            "RUSTC_BOOTSTRAP=1 cargo fuzz run decode -- -max_total_time=30 'two words'  \
             (in /repo/crates/hearth-wire)"
        );
    }

    #[test]
    fn quote_escapes_single_quotes() {
        assert_eq!(quote(OsStr::new("it's")), r"'it'\''s'");
    }
}
