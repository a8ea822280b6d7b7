//! The language server driven by a real editor's client: Neovim's built-in
//! LSP client, headless, runs `tests/nvim/test.lua` against the binary cargo
//! built (diagnostics, completion, hover and formatting, in a `.skippy` file
//! and in a HealingPolicy manifest). Without `nvim` this is a loud skip;
//! with `CI` set it is a failure, as CI installs Debian's `neovim`.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn has_nvim() -> bool {
    Command::new("nvim")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

#[test]
fn neovim_client_gets_diagnostics_completion_hover_and_formatting() {
    if !has_nvim() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the Neovim test, and `nvim` is not on the PATH \
             (.ci/run installs Debian's neovim)"
        );
        eprintln!("SKIPPED the Neovim LSP test: `nvim` is not installed (apt-get install neovim)");
        return;
    }
    let nvim = Path::new(ROOT).join("tests/nvim");
    let mut child = Command::new("nvim")
        .args(["--headless", "--clean", "-u"])
        .arg(nvim.join("init.lua"))
        .arg("-c")
        .arg(format!("luafile {}", nvim.join("test.lua").display()))
        .env("KUBESKIPPY_BIN", env!("CARGO_BIN_EXE_kubeskippy"))
        // Neovim's log and state go to a folder of the test's own.
        .env(
            "XDG_STATE_HOME",
            std::env::temp_dir().join("kubeskippy-nvim-test"),
        )
        .env(
            "XDG_CACHE_HOME",
            std::env::temp_dir().join("kubeskippy-nvim-test"),
        )
        .current_dir(ROOT)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nvim starts");
    // Read as it writes, so a full pipe cannot stall the editor.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    // The script leaves by itself on every path; a hung editor fails the
    // test rather than the whole run.
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("nvim's status") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = stdout.join().unwrap_or_default();
    let err = stderr.join().unwrap_or_default();
    let status = status.unwrap_or_else(|| panic!("nvim did not finish in 120 s\n{out}\n{err}"));
    assert!(status.success(), "nvim exited with {status}\n{out}\n{err}");
    assert!(
        err.contains("nvim LSP test passed") || out.contains("nvim LSP test passed"),
        "the script did not get to its end\n{out}\n{err}"
    );
}

/// The formatting check compares with this file: it must be what
/// `kubeskippy fmt` writes, or the check would test the fixture.
#[test]
fn the_expected_formatting_is_canonical() {
    let status = Command::new(env!("CARGO_BIN_EXE_kubeskippy"))
        .args(["fmt", "--check", "tests/nvim/formatted.skippy"])
        .current_dir(ROOT)
        .status()
        .expect("kubeskippy runs");
    assert!(
        status.success(),
        "tests/nvim/formatted.skippy is not formatted"
    );
}
