//! File-descriptor exhaustion: the `echo` example (`examples/echo.rs`,
//! included here) in a child process whose `RLIMIT_NOFILE` leaves room for
//! only a few connections, with many more clients than that. Its accept
//! loops must back off instead of spinning on `EMFILE`: the server's CPU
//! time over the window stays small (read from `/proc/<pid>/stat`), it logs
//! a handful of lines rather than one per failed `accept`, the connection it
//! already has keeps working, and it serves again once the clients leave.
// Miri cannot run epoll or processes.
#![cfg(not(miri))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../examples/echo.rs"]
mod echo;

mod support;

/// Set in the environment of the child process, which serves.
const SERVER_ROLE: &str = "HEARTH_TEST_EMFILE_SERVER";
/// Connections the server has descriptors for, beyond the ones it holds at
/// the start (workers' epoll and eventfd, listeners, the harness's own).
const HEADROOM: u64 = 16;
/// Clients that connect at once: well over the headroom.
const CLIENTS: usize = 80;
/// How long the server is watched while out of descriptors.
const WINDOW: Duration = Duration::from_secs(3);

/// The child: the echo server on 2 workers, then the descriptor limit.
/// Run by [`echo_backs_off_when_out_of_file_descriptors`]; it does nothing
/// when run on its own.
#[test]
#[ignore = "the server process of echo_backs_off_when_out_of_file_descriptors"]
fn emfile_server_process() {
    if std::env::var_os(SERVER_ROLE).is_none() {
        return;
    }
    let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    let addr = echo::start(rt.handle(), "127.0.0.1:0".parse().unwrap()).unwrap();
    support::set_nofile_soft_limit(support::limit_leaving_free(HEADROOM));
    println!("LISTENING {addr}");
    std::io::stdout().flush().unwrap();
    // Serve until the parent closes our stdin (or dies).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    std::process::exit(0);
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

fn echo_once(s: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
    s.write_all(msg)?;
    let mut back = vec![0; msg.len()];
    s.read_exact(&mut back)?;
    assert_eq!(back, msg);
    Ok(())
}

#[test]
fn echo_backs_off_when_out_of_file_descriptors() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "emfile_server_process",
            "--ignored",
            "--nocapture",
        ])
        .env(SERVER_ROLE, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();

    // Count the server's `accept` log lines as they come (a spinning loop
    // writes them by the million: the pipe must not fill and stall it).
    let accept_lines = Arc::new(AtomicUsize::new(0));
    let stderr = child.stderr.take().unwrap();
    let counter = accept_lines.clone();
    let stderr_reader = std::thread::spawn(move || {
        let mut first = Vec::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("accept") {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            if first.len() < 5 {
                first.push(line);
            }
        }
        first
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let addr: SocketAddr = loop {
        let mut line = String::new();
        assert_ne!(stdout.read_line(&mut line).unwrap(), 0, "server exited");
        if let Some(addr) = line.strip_prefix("LISTENING ") {
            break addr.trim().parse().unwrap();
        }
    };

    // One connection made while there are descriptors to spare.
    let mut existing = connect(addr);
    echo_once(&mut existing, b"before").unwrap();

    // Many more clients than descriptors: the kernel completes their
    // handshakes (the backlog) while the server cannot accept them all.
    let crowd: Vec<TcpStream> = (0..CLIENTS).map(|_| connect(addr)).collect();
    std::thread::sleep(Duration::from_millis(500));

    let (cpu0, lines0, t0) = (
        support::cpu_time(pid),
        accept_lines.load(Ordering::Relaxed),
        Instant::now(),
    );
    std::thread::sleep(WINDOW);
    let (cpu, lines, window) = (
        support::cpu_time(pid) - cpu0,
        accept_lines.load(Ordering::Relaxed) - lines0,
        t0.elapsed(),
    );
    eprintln!(
        "out of descriptors for {window:.2?} with {CLIENTS} clients over a headroom of \
         {HEADROOM}: server CPU {cpu:.2?} ({:.1}% of one core), {lines} accept log lines",
        100.0 * cpu.as_secs_f64() / window.as_secs_f64()
    );

    // The connection it has is still served meanwhile.
    echo_once(&mut existing, b"during").unwrap();

    // Once the clients leave, new ones are served again.
    drop(crowd);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut s = connect(addr);
        match echo_once(&mut s, b"after") {
            Ok(()) => break,
            Err(e) => assert!(Instant::now() < deadline, "not serving again: {e}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    echo_once(&mut existing, b"still").unwrap();

    drop(child.stdin.take());
    child.kill().unwrap();
    child.wait().unwrap();
    let first = stderr_reader.join().unwrap();
    eprintln!("server's first log lines: {first:#?}");

    assert!(
        cpu < WINDOW / 10,
        "the server used {cpu:.2?} of CPU in {window:.2?} while out of descriptors: a busy loop"
    );
    assert!(
        lines <= 2 * WINDOW.as_secs() as usize + 10,
        "{lines} accept log lines in {window:.2?}: one per failed accept, not one per back-off"
    );
}
