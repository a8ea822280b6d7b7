//! What the binary's integration tests share: running `kubeskippy` as a user
//! does, from the project's root, and reading what it printed.

// Each test crate uses the helpers it needs.
#![allow(dead_code)]

use std::process::{Command, Output};

pub fn kubeskippy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubeskippy"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
