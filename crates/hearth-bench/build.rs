//! Records the version of the compiler that builds the harness, so the
//! report names the toolchain that produced the numbers (which may differ from
//! the `rustc` on `PATH`, e.g. under `cargo +nightly`).

use std::env;
use std::process::Command;

fn main() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(&rustc)
        .arg("-V")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown rustc".to_owned());
    println!("cargo:rustc-env=HEARTH_BENCH_RUSTC={version}");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
