//! The soak test: a few thousand concurrent connections to a hearth server
//! on two workers, with faults mixed in, and then a check that everything
//! came back.
//!
//! The server (this process) speaks a framed echo: a frame is a 4-byte
//! little-endian length, a kind byte and that many bytes; an `ECHO` frame's
//! bytes are sent back, streamed through a 16 KiB buffer (so a client that
//! does not read stalls its connection instead of growing the server), and a
//! `PANIC` frame makes the connection's handler panic. Its accept loops are
//! the library's per-core listeners (`Handle::serve_on_all`, which backs
//! off with `AcceptBackoff`).
//!
//! The clients run in a child process (this test binary again, with
//! `soak_client_process`), so the server's descriptors, tasks and memory are
//! its own. They open every connection first (held all at once), then each
//! plays a part by its number:
//!
//! | share | part |
//! |---|---|
//! | 6/10 | well-behaved: requests of random sizes, every byte echoed and checked |
//! | 1/10 | half-closed: requests, then a last one and `shutdown(Write)`; the echo and then EOF |
//! | 1/10 | reset: a request, then half a frame and an RST (`SO_LINGER` 0) |
//! | 1/10 | panicking: a request, then a `PANIC` frame (the connection dies with its handler); a new connection is served |
//! | 1/10 | slow reader: small socket buffers, sends and never reads until its writes stall, holds, then resets |
//!
//! Checked: every well-behaved byte comes back; every slow reader stalls
//! (backpressure: a server that buffered would read on) while the server's
//! heap stays within 32 KiB per connection; each injected panic stays in
//! its task; and afterwards the server's descriptors and tasks are back to
//! their baseline exactly, its heap (counted by this binary's allocator)
//! within 128 KiB of it plus 32 bytes per connection it held (slot tables
//! keep their peak length), and its RSS within 24 KiB per connection it
//! held (what the allocator keeps for reuse), within 8 MiB once the
//! allocator is asked to trim.
//!
//! Size: `HEARTH_SOAK=short` (the default, run by `cargo test`: 2,000
//! connections, 20 requests of up to 32 KiB each, under 10 s in a debug
//! build) or `HEARTH_SOAK=long` (5,000 connections, 80 requests of up to
//! 64 KiB, about 7.5 GiB echoed: a minute or two in release mode on 2
//! cores):
//!
//! ```text
//! HEARTH_SOAK=long cargo test --release -p hearth --test soak -- --nocapture
//! ```
// Miri cannot run epoll or processes.
#![cfg(not(miri))]

use std::cell::RefCell;
use std::io::{self, BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hearth::net::TcpStream;
use hearth::time::timeout;

mod support;

/// Heap bytes in use, for the server's before and after.
#[global_allocator]
static ALLOC: support::Counting = support::Counting;

const ECHO: u8 = 0;
const PANIC: u8 = 1;
const PANIC_MESSAGE: &str = "soak: injected panic";
/// The server's buffer per connection.
const SERVER_BUFFER: usize = 16 * 1024;
/// The server caps each connection's kernel buffers (`SO_RCVBUF`,
/// `SO_SNDBUF`), as a server holding thousands of connections should:
/// left to autotuning, every slow reader would park megabytes in the kernel.
const SERVER_SOCKET_BUFFER: usize = 64 * 1024;

/// Set in the child's environment: the server's address.
const CLIENT_ROLE: &str = "HEARTH_TEST_SOAK_SERVER";

/// How big a run is.
#[derive(Clone, Copy, Debug)]
struct Size {
    name: &'static str,
    connections: usize,
    /// Requests per well-behaved connection.
    requests: usize,
    /// Largest request payload.
    max_payload: usize,
}

impl Size {
    fn from_env() -> Size {
        match std::env::var("HEARTH_SOAK").as_deref() {
            Ok("long") => Size {
                name: "long",
                connections: 5_000,
                requests: 80,
                max_payload: 64 * 1024,
            },
            Ok("short") | Err(_) => Size {
                name: "short",
                connections: 2_000,
                requests: 20,
                max_payload: 32 * 1024,
            },
            Ok(other) => panic!("HEARTH_SOAK={other:?}: use short or long"),
        }
    }

    fn to_env(self, cmd: &mut Command) {
        cmd.env("HEARTH_SOAK", self.name)
            .env("HEARTH_TEST_SOAK_CONNECTIONS", self.connections.to_string());
    }
}

/// The part connection `id` plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    WellBehaved,
    HalfClosed,
    Reset,
    Panicking,
    SlowReader,
}

fn part(id: usize) -> Part {
    match id % 10 {
        0..=5 => Part::WellBehaved,
        6 => Part::HalfClosed,
        7 => Part::Reset,
        8 => Part::Panicking,
        _ => Part::SlowReader,
    }
}

fn parts(connections: usize, which: Part) -> usize {
    (0..connections).filter(|&id| part(id) == which).count()
}

// ---------------------------------------------------------------- server

/// Live connection handlers, the most at once, and panics seen.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts a handler while it lives (a panicking one too: its future is
/// dropped after the panic is caught).
struct Live;

impl Live {
    fn new() -> Live {
        let n = LIVE.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK.fetch_max(n, Ordering::SeqCst);
        Live
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One connection: frames until EOF or an error.
async fn serve(stream: TcpStream) {
    let _live = Live::new();
    let sock = socket2::SockRef::from(&stream);
    let _ = sock.set_recv_buffer_size(SERVER_SOCKET_BUFFER);
    let _ = sock.set_send_buffer_size(SERVER_SOCKET_BUFFER);
    let mut buf = vec![0; SERVER_BUFFER];
    loop {
        let mut head = [0; 5];
        if stream.read_exact(&mut head).await.is_err() {
            return; // EOF (a closed or half-closed peer) or a reset
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        match head[4] {
            ECHO => {
                let mut left = len;
                while left > 0 {
                    let want = left.min(buf.len());
                    let n = match stream.read(&mut buf[..want]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    // Waits while the peer does not read: backpressure.
                    if stream.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                    left -= n;
                }
            }
            PANIC => panic!("{PANIC_MESSAGE}"),
            _ => return,
        }
    }
}

/// Counts the injected panics instead of printing them; others print.
fn count_injected_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        if msg == Some(PANIC_MESSAGE) {
            PANICS.fetch_add(1, Ordering::SeqCst);
        } else {
            default(info);
        }
    }));
}

/// What the server holds at one moment.
#[derive(Clone, Debug)]
struct Snapshot {
    fds: usize,
    tasks: Vec<usize>,
    rss: u64,
    heap: usize,
    live: usize,
}

impl Snapshot {
    fn take(rt: &hearth::Runtime) -> Snapshot {
        let tasks = (0..rt.workers())
            .map(|w| rt.block_on(rt.task_count(w).unwrap()).unwrap())
            .collect();
        Snapshot {
            fds: support::open_fds().len(),
            tasks,
            rss: support::rss_bytes(),
            heap: support::heap_bytes(),
            live: LIVE.load(Ordering::SeqCst),
        }
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Waits (bounded) until `done()`.
fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Raises this process's descriptor limit to its hard limit; returns how
/// many connections fit under it.
fn raise_nofile(want: usize) -> usize {
    let (_, hard) = support::nofile_limit();
    support::set_nofile_soft_limit(hard);
    want.min((hard as usize).saturating_sub(512))
}

#[test]
fn soak() {
    let mut size = Size::from_env();
    size.connections = raise_nofile(size.connections);
    assert!(
        size.connections >= 200,
        "descriptor limit too low for a soak"
    );
    count_injected_panics();
    let start = Instant::now();

    let server = hearth::Runtime::builder().workers(2).build().unwrap();
    let addr = hearth::block_on(
        server
            .handle()
            .serve_on_all("127.0.0.1:0".parse().unwrap(), |stream, _peer| {
                serve(stream)
            }),
    )
    .unwrap()
    .local_addr();
    // Warm up: a round trip (reactors, timers and allocator arenas exist).
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(&[3, 0, 0, 0, ECHO, 1, 2, 3]).unwrap();
        let mut back = [0; 3];
        s.read_exact(&mut back).unwrap();
        assert_eq!(back, [1, 2, 3]);
    }
    wait_until(
        "the warm-up connection is gone",
        Duration::from_secs(10),
        || LIVE.load(Ordering::SeqCst) == 0,
    );
    let before = Snapshot::take(&server);

    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "soak_client_process", "--ignored", "--nocapture"])
        .env(CLIENT_ROLE, addr.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    size.to_env(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let mut to_child = child.stdin.take().unwrap();
    let mut from_child = BufReader::new(child.stdout.take().unwrap());
    let mut line_from_child = |prefix: &str| -> String {
        loop {
            let mut line = String::new();
            let n = from_child.read_line(&mut line).unwrap();
            assert_ne!(n, 0, "the client process exited before {prefix:?}");
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim().to_owned();
            }
        }
    };

    // Every connection open at once.
    let connected: usize = line_from_child("SOAK connected ").parse().unwrap();
    assert_eq!(connected, size.connections);
    wait_until(
        "the server holds every connection",
        Duration::from_secs(60),
        || LIVE.load(Ordering::SeqCst) == size.connections,
    );
    let held = Snapshot::take(&server);
    writeln!(to_child, "go").unwrap();

    // Every slow reader stalled, the rest at work or done.
    let stalled_line = line_from_child("SOAK stalled ");
    let stalled = Snapshot::take(&server);
    writeln!(to_child, "release").unwrap();

    let done = line_from_child("SOAK done ");
    let status = child.wait().unwrap();
    assert!(status.success(), "the client process failed: {status}");
    drop((to_child, from_child));
    let field = |line: &str, key: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {key} in {line:?}"))
            .parse()
            .unwrap()
    };

    // Everything back: no connection, the listeners' tasks only, the
    // descriptors of before.
    wait_until(
        "the server's connections are closed",
        Duration::from_secs(60),
        || LIVE.load(Ordering::SeqCst) == 0,
    );
    wait_until(
        "the server's tasks are back to their baseline",
        Duration::from_secs(60),
        || Snapshot::take(&server).tasks == before.tasks,
    );
    let after = Snapshot::take(&server);
    support::trim_heap();
    let after_trimmed_rss = support::rss_bytes();
    let took = start.elapsed();

    let verified = field(&done, "verified");
    let panics_sent = field(&done, "panics") as usize;
    let report = format!(
        "soak ({}): {} connections held at once (server peak {}), {:.1?}\n  \
         faults: {} half-closed, {} reset mid-request, {} handler panics (server saw {}), \
         {} slow readers stalled after pushing {:.1} MiB in all\n  \
         verified: {} well-behaved connections, {:.1} MiB echoed and checked byte for byte\n  \
         server fds  {} before, {} held, {} after\n  \
         server tasks {:?} before, {:?} held, {:?} after\n  \
         server heap {:.1} MiB before, {:.1} MiB held, {:.1} MiB with slow readers stalled, \
         {:.1} MiB after ({:+} bytes)\n  \
         server RSS  {:.1} MiB before, {:.1} MiB held, {:.1} MiB with slow readers stalled, \
         {:.1} MiB after, {:.1} MiB once the allocator has trimmed its free memory",
        size.name,
        held.live,
        PEAK.load(Ordering::SeqCst),
        took,
        field(&done, "half_closed"),
        field(&done, "resets"),
        panics_sent,
        PANICS.load(Ordering::SeqCst),
        field(&stalled_line, "slow"),
        mib(field(&stalled_line, "pushed")),
        field(&done, "well_behaved"),
        mib(verified),
        before.fds,
        held.fds,
        after.fds,
        before.tasks,
        held.tasks,
        after.tasks,
        mib(before.heap as u64),
        mib(held.heap as u64),
        mib(stalled.heap as u64),
        mib(after.heap as u64),
        after.heap as i64 - before.heap as i64,
        mib(before.rss),
        mib(held.rss),
        mib(stalled.rss),
        mib(after.rss),
        mib(after_trimmed_rss),
    );
    eprintln!("{report}");

    assert_eq!(held.live, size.connections);
    assert!(held.fds >= before.fds + size.connections);
    assert_eq!(
        held.tasks.iter().sum::<usize>(),
        before.tasks.iter().sum::<usize>() + size.connections
    );
    assert_eq!(
        field(&done, "well_behaved") as usize,
        parts(size.connections, Part::WellBehaved)
    );
    assert_eq!(
        field(&done, "half_closed") as usize,
        parts(size.connections, Part::HalfClosed)
    );
    assert_eq!(
        field(&done, "resets") as usize,
        parts(size.connections, Part::Reset)
    );
    assert_eq!(panics_sent, parts(size.connections, Part::Panicking));
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        panics_sent,
        "panics that did not stay in their task"
    );
    assert_eq!(
        field(&stalled_line, "slow") as usize,
        parts(size.connections, Part::SlowReader)
    );
    // Backpressure, not buffering: what the server holds per connection
    // is its buffer and its task, whatever the slow readers pushed.
    let bound = size.connections * HELD_PER_CONNECTION;
    assert!(held.heap <= before.heap + bound);
    assert!(
        stalled.heap <= before.heap + bound,
        "server heap grew by {:.1} MiB with slow readers stalled (bound {:.1} MiB)",
        mib((stalled.heap - before.heap) as u64),
        mib(bound as u64)
    );
    assert!(stalled.rss <= before.rss + (bound + RSS_SLACK) as u64);
    assert_eq!(after.fds, before.fds, "descriptors leaked");
    assert_eq!(after.tasks, before.tasks, "tasks leaked");
    assert!(
        after.heap <= before.heap + HEAP_AFTER_BOUND + size.connections * TABLES_PER_CONNECTION,
        "server heap {} bytes after, {} before",
        after.heap,
        before.heap
    );
    assert!(
        after.rss <= before.rss + (size.connections * RSS_AFTER_PER_CONNECTION) as u64,
        "server RSS {:.1} MiB after, {:.1} MiB before",
        mib(after.rss),
        mib(before.rss)
    );
    assert!(
        after_trimmed_rss <= before.rss + RSS_SLACK as u64,
        "server RSS {:.1} MiB after trimming, {:.1} MiB before",
        mib(after_trimmed_rss),
        mib(before.rss)
    );
    server.shutdown();
}

/// The most heap a connection may hold on the server: its 16 KiB buffer,
/// its task and its socket's registration, with room to spare.
const HELD_PER_CONNECTION: usize = 32 * 1024;
/// What the server's heap may keep once every connection is gone, beyond
/// [`TABLES_PER_CONNECTION`]: the timer wheels' reserves and the like.
const HEAP_AFTER_BOUND: usize = 128 * 1024;
/// Tables indexed by a slot number keep the capacity they had at the peak:
/// a worker's reactor tokens (8 bytes, plus 8 in its free list), its
/// io_uring slots (16 bytes) and its executor's task slab (8 bytes), 40 bytes
/// per connection, and a `Vec` grown by doubling holds up to twice its peak
/// length (a worker that accepted just over 1,024 of the 2,000 connections
/// keeps room for 2,048: under load one worker often does, and the heap after
/// then measured 197,944 bytes above before).
const TABLES_PER_CONNECTION: usize = 2 * 40;
/// What its RSS may keep then, per connection it held: freed memory the
/// allocator keeps for reuse (its per-thread arenas are not trimmed).
const RSS_AFTER_PER_CONNECTION: usize = 24 * 1024;
/// RSS beyond the heap: thread stacks, the allocator's bookkeeping.
const RSS_SLACK: usize = 8 << 20;

// ---------------------------------------------------------------- clients

std::thread_local! {
    /// A client worker's connections, between the two phases.
    static CONNECTIONS: RefCell<Vec<(usize, TcpStream)>> = const { RefCell::new(Vec::new()) };
    /// Lets this worker's slow readers go.
    static RELEASE: RefCell<Option<hearth_sync::watch::Sender<bool>>> = const { RefCell::new(None) };
}

/// Slow readers that have stalled, and what they pushed before.
static STALLED: AtomicUsize = AtomicUsize::new(0);
static PUSHED: AtomicU64 = AtomicU64::new(0);

/// The deterministic bytes of request `req` of connection `id`.
fn payload(id: usize, req: usize, max: usize) -> Vec<u8> {
    let mut x = (id as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (req as u64 + 1);
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let len = (next() % (max as u64 + 1)) as usize;
    let mut data = Vec::with_capacity(len + 8);
    while data.len() < len {
        data.extend_from_slice(&next().to_le_bytes());
    }
    data.truncate(len);
    data
}

fn frame(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(5 + data.len());
    f.extend_from_slice(&(data.len() as u32).to_le_bytes());
    f.push(kind);
    f.extend_from_slice(data);
    f
}

/// One echo request; returns the bytes checked.
async fn request(s: &TcpStream, id: usize, req: usize, max: usize) -> io::Result<u64> {
    let data = payload(id, req, max);
    s.write_all(&frame(ECHO, &data)).await?;
    let mut back = vec![0; data.len()];
    s.read_exact(&mut back).await?;
    if back != data {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "echo differs"));
    }
    Ok(data.len() as u64)
}

fn set_linger_zero(s: &TcpStream) -> io::Result<()> {
    socket2::SockRef::from(s).set_linger(Some(Duration::ZERO))
}

/// What a client worker's connections did.
#[derive(Default, Debug)]
struct Totals {
    verified: u64,
    well_behaved: usize,
    half_closed: usize,
    resets: usize,
    panics: usize,
}

impl std::ops::AddAssign for Totals {
    fn add_assign(&mut self, o: Totals) {
        self.verified += o.verified;
        self.well_behaved += o.well_behaved;
        self.half_closed += o.half_closed;
        self.resets += o.resets;
        self.panics += o.panics;
    }
}

/// Plays connection `id`'s part.
async fn play(
    addr: SocketAddr,
    size: Size,
    id: usize,
    s: TcpStream,
    mut release: hearth_sync::watch::Receiver<bool>,
) -> io::Result<Totals> {
    let mut t = Totals::default();
    let max = size.max_payload;
    match part(id) {
        Part::WellBehaved => {
            for req in 0..size.requests {
                t.verified += request(&s, id, req, max).await?;
            }
            t.well_behaved = 1;
        }
        Part::HalfClosed => {
            t.verified += request(&s, id, 0, max).await?;
            let data = payload(id, 1, max.min(8 * 1024));
            s.write_all(&frame(ECHO, &data)).await?;
            s.shutdown(std::net::Shutdown::Write)?;
            let mut back = vec![0; data.len()];
            s.read_exact(&mut back).await?;
            if back != data {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "echo differs"));
            }
            t.verified += data.len() as u64;
            // Then the server closes its side.
            if s.read(&mut [0; 1]).await? != 0 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "data after EOF"));
            }
            t.half_closed = 1;
        }
        Part::Reset => {
            t.verified += request(&s, id, 0, max).await?;
            let mut head = (1u32 << 20).to_le_bytes().to_vec();
            head.push(ECHO);
            head.extend_from_slice(&[7; 1000]);
            s.write_all(&head).await?;
            set_linger_zero(&s)?;
            drop(s); // RST mid-request
            t.resets = 1;
        }
        Part::Panicking => {
            t.verified += request(&s, id, 0, max).await?;
            s.write_all(&frame(PANIC, &[])).await?;
            // The handler is gone with its connection: EOF or a reset.
            match s.read(&mut [0; 1]).await {
                Ok(0) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
                other => {
                    return Err(io::Error::other(format!("after a panic: {other:?}")));
                }
            }
            t.panics = 1;
            // The server still serves new connections.
            let again = TcpStream::connect(addr).await?;
            t.verified += request(&again, id, 1, max).await?;
        }
        Part::SlowReader => {
            let chunk = frame(ECHO, &payload(id, 0, max).repeat(4));
            let mut pushed = 0u64;
            loop {
                match timeout(Duration::from_millis(300), s.write_all(&chunk)).await {
                    Ok(r) => r?,
                    Err(_stalled) => break,
                }
                pushed += chunk.len() as u64;
                if pushed > 256 << 20 {
                    return Err(io::Error::other(
                        "a slow reader pushed 256 MiB without stalling: the server buffers",
                    ));
                }
            }
            PUSHED.fetch_add(pushed, Ordering::SeqCst);
            STALLED.fetch_add(1, Ordering::SeqCst);
            let _ = release.wait_for(|&go| go).await;
            set_linger_zero(&s)?;
        }
    }
    Ok(t)
}

/// Phase one on a client worker: opens its connections (64 at a time).
async fn connect_all(addr: SocketAddr, ids: Vec<usize>) -> io::Result<usize> {
    let permits = Rc::new(hearth_sync::Semaphore::new(64));
    let mut tasks = Vec::new();
    for id in ids {
        let permit = permits.clone().acquire_owned().await.unwrap();
        tasks.push(hearth::spawn_local(async move {
            let s = timeout(Duration::from_secs(30), TcpStream::connect(addr)).await??;
            drop(permit);
            if part(id) == Part::SlowReader {
                let sock = socket2::SockRef::from(&s);
                sock.set_recv_buffer_size(16 * 1024)?;
                sock.set_send_buffer_size(16 * 1024)?;
            }
            io::Result::Ok((id, s))
        }));
    }
    let mut n = 0;
    for t in tasks {
        let conn = t.await.expect("connect task panicked")?;
        CONNECTIONS.with(|c| c.borrow_mut().push(conn));
        n += 1;
    }
    Ok(n)
}

/// Phase two on a client worker: every connection plays its part.
async fn play_all(addr: SocketAddr, size: Size) -> Result<Totals, String> {
    let (tx, rx) = hearth_sync::watch::channel(false);
    RELEASE.with(|r| *r.borrow_mut() = Some(tx));
    let conns = CONNECTIONS.with(|c| std::mem::take(&mut *c.borrow_mut()));
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|(id, s)| {
            let release = rx.clone();
            let task = hearth::spawn_local(async move {
                timeout(Duration::from_secs(600), play(addr, size, id, s, release)).await
            });
            (id, task)
        })
        .collect();
    let mut totals = Totals::default();
    for (id, task) in tasks {
        let result = task
            .await
            .map_err(|e| format!("connection {id}: client task: {e}"))?;
        let t = result
            .map_err(|_| format!("connection {id} ({:?}): timed out", part(id)))?
            .map_err(|e| format!("connection {id} ({:?}): {e}", part(id)))?;
        totals += t;
    }
    Ok(totals)
}

/// The client process; run by [`soak`], does nothing on its own.
#[test]
#[ignore = "the client process of the soak test"]
fn soak_client_process() {
    let Ok(addr) = std::env::var(CLIENT_ROLE) else {
        return;
    };
    let addr: SocketAddr = addr.parse().unwrap();
    let mut size = Size::from_env();
    size.connections = std::env::var("HEARTH_TEST_SOAK_CONNECTIONS")
        .unwrap()
        .parse()
        .unwrap();
    assert!(raise_nofile(size.connections) >= size.connections);
    let rt = hearth::Runtime::builder().workers(2).build().unwrap();
    let workers = rt.workers();
    let stdin = io::stdin();
    let mut command = String::new();
    let mut expect = |what: &str| {
        command.clear();
        stdin.read_line(&mut command).unwrap();
        assert_eq!(command.trim(), what);
    };

    let handles = rt
        .spawn_on_all(move |w| {
            let ids: Vec<usize> = (w..size.connections).step_by(workers).collect();
            connect_all(addr, ids)
        })
        .unwrap();
    let connected: usize = handles
        .into_iter()
        .map(|h| rt.block_on(h).unwrap().unwrap())
        .sum();
    println!("SOAK connected {connected}");
    expect("go");

    let playing = rt.spawn_on_all(move |_| play_all(addr, size)).unwrap();
    let slow = parts(size.connections, Part::SlowReader);
    let deadline = Instant::now() + Duration::from_secs(300);
    while STALLED.load(Ordering::SeqCst) < slow {
        assert!(Instant::now() < deadline, "slow readers never stalled");
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "SOAK stalled slow={slow} pushed={}",
        PUSHED.load(Ordering::SeqCst)
    );
    expect("release");
    for h in rt
        .spawn_on_all(|_| async {
            RELEASE.with(|r| {
                if let Some(tx) = r.borrow().as_ref() {
                    tx.send_replace(true);
                }
            });
        })
        .unwrap()
    {
        rt.block_on(h).unwrap();
    }

    let mut totals = Totals::default();
    for h in playing {
        match rt.block_on(h).unwrap() {
            Ok(t) => totals += t,
            Err(e) => panic!("{e}"),
        }
    }
    println!(
        "SOAK done verified={} well_behaved={} half_closed={} resets={} panics={}",
        totals.verified, totals.well_behaved, totals.half_closed, totals.resets, totals.panics
    );
    io::stdout().flush().unwrap();
    rt.shutdown();
}
