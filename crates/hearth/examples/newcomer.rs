//! A newcomer's service, written from the docs only: a line server on every
//! worker that answers with a greeting read from a file, the output of a child
//! process and a DNS lookup, and drains on Ctrl-C.
//!
//! ```sh
//! cargo run -p hearth --example newcomer      # then: echo hi | nc 127.0.0.1 7002
//! ```

use std::error::Error;
use std::time::Duration;

use hearth::net::TcpStream;
use hearth::process::Command;
use hearth::runtime::Handle;

#[hearth::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // A file (on the blocking pool), a child process (wait on the reactor),
    // a DNS lookup (off the worker).
    let greeting_path = std::env::temp_dir().join("hearth-newcomer-greeting.txt");
    hearth::fs::write(&greeting_path, "hello from hearth").await?;
    let greeting = hearth::fs::read_to_string(&greeting_path).await?;
    let uname = Command::new("uname").arg("-s").output().await?;
    let kernel = String::from_utf8_lossy(&uname.stdout).trim().to_owned();
    let local = hearth::net::lookup_host("localhost:7002").await?.next();
    let banner = format!("{greeting} on {kernel}; localhost is {local:?}\n");

    // One listener per worker; the address is usable once this returns.
    let rt = Handle::current();
    let server = rt
        .serve_on_all("127.0.0.1:7002".parse()?, move |stream, _peer| {
            serve(stream, banner.clone())
        })
        .await?;
    println!("listening on {} (Ctrl-C to stop)", server.local_addr());

    hearth::signal::ctrl_c().await?;
    println!("draining");
    rt.shutdown_graceful(Duration::from_secs(10)).await?;
    Ok(())
}

/// Answers each line with the banner, until the client closes.
async fn serve(stream: TcpStream, banner: String) {
    let mut buf = [0; 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 || stream.write_all(banner.as_bytes()).await.is_err() {
            return;
        }
    }
}
