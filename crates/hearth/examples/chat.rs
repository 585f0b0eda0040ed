//! A chat server on one worker: every line a client sends goes to every other
//! client. The connections' tasks share their list of members (`Rc<RefCell>`:
//! they live on one thread) and talk through hearth-sync's unbounded `mpsc`
//! channels, one per member, drained by that member's writer task.
//!
//! ```text
//! cargo run --release -p hearth --example chat [ADDR]   # default 127.0.0.1:7001
//! ```
//!
//! Try it with two or more `nc 127.0.0.1 7001`.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use futures::StreamExt;
use hearth::net::{AcceptBackoff, TcpListener, TcpStream};
use hearth::runtime::Handle;
use hearth_sync::mpsc;

/// The members of the room: id and the sending end of its outbox.
type Members = Rc<RefCell<Vec<(usize, mpsc::UnboundedSender<Rc<str>>)>>>;

/// Starts the chat server on worker 0 of `rt`, bound to `addr` (port 0 picks
/// one), and returns the address it listens on. The server runs until the
/// runtime shuts down.
///
/// A client first receives `welcome, you are user N\n`; from then on it is a
/// member and receives `user M: LINE\n` for every line another member sends.
pub fn start(rt: &Handle, addr: SocketAddr) -> io::Result<SocketAddr> {
    let (tx, rx) = std::sync::mpsc::channel();
    rt.spawn_on(0, move || async move {
        let listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => return drop(tx.send(Err(e))),
        };
        let _ = tx.send(listener.local_addr());
        let members: Members = Rc::default();
        // Out of file descriptors, wait instead of spinning (5 ms doubling
        // to 1 s); at most one error a second is returned to log.
        let mut backoff = AcceptBackoff::new();
        for id in 0.. {
            match backoff.accept(|| listener.accept()).await {
                Ok((stream, _peer)) => {
                    drop(hearth::spawn_local(member(id, stream, members.clone())))
                }
                Err(e) => eprintln!("accept: {e}; retrying in {:?}", backoff.delay()),
            }
        }
    })
    .map_err(io::Error::other)?;
    rx.recv().map_err(io::Error::other)?
}

/// One member: joins, then forwards its lines to the others until it leaves.
async fn member(id: usize, stream: TcpStream, members: Members) {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let (outbox, mut inbox) = mpsc::unbounded_channel::<Rc<str>>();
    let _ = outbox.send(format!("welcome, you are user {id}\n").into());
    members.borrow_mut().push((id, outbox));

    // The writer drains the outbox; it ends when the member leaves (its
    // sender is removed below) or the socket fails.
    let writer = hearth::spawn_local(async move {
        while let Some(line) = inbox.recv().await {
            if write.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });

    let mut lines = BufReader::new(read).lines();
    while let Some(Ok(line)) = lines.next().await {
        let msg: Rc<str> = format!("user {id}: {line}\n").into();
        for (other, outbox) in members.borrow().iter() {
            if *other != id {
                let _ = outbox.send(msg.clone());
            }
        }
    }
    members.borrow_mut().retain(|(other, _)| *other != id);
    let _ = writer.await;
}

#[allow(dead_code)] // the tests include this file for `start`
fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7001".into());
    let addr: SocketAddr = addr.parse().map_err(io::Error::other)?;
    let rt = hearth::Runtime::builder().workers(1).build()?;
    let addr = start(rt.handle(), addr)?;
    println!("chat: listening on {addr} (Ctrl-C to stop)");
    rt.block_on(std::future::pending::<()>());
    Ok(())
}
