//! Per-core listeners: a TCP server on every worker, in one call
//! ([`Handle::serve_on_all`], [`Server::builder`]); how they work is on
//! [`Server`].

use core::fmt;
use core::future::Future;
use core::pin::pin;
use core::task::Poll;
use std::io;
use std::net::SocketAddr;

use hearth_sync::remote;

use super::{shutdown_signal, Handle, RemoteJoinHandle};
use crate::net::{AcceptBackoff, TcpListener, TcpStream};

impl Handle {
    /// Serves TCP on every worker: binds one `SO_REUSEPORT` listener per
    /// worker on `addr` and runs `handler(stream, peer)` as a task for each
    /// connection, on the worker that accepted it. Completes with the
    /// [`Server`] once every worker is listening; the [`Server`]'s docs say
    /// how it works.
    ///
    /// The same as `Server::builder(addr).serve(handle, handler)`; the
    /// [`ServerBuilder`] has the options.
    ///
    /// # Errors
    ///
    /// - `AddrInUse` if another listener holds `addr` already, a reuse-port
    ///   group of another server included (see
    ///   [`ServerBuilder::join_existing_group`]);
    /// - any error of binding a worker's socket (for example
    ///   `PermissionDenied` for a privileged port), with the worker and the
    ///   address in its message; the workers that were listening already
    ///   stop;
    /// - `Other` if the runtime is shutting down.
    ///
    /// # Examples
    ///
    /// An echo server on every worker, on a port the kernel picks:
    ///
    /// ```
    /// # if cfg!(miri) { return Ok(()); } // Miri cannot open sockets
    /// use std::io::{Read, Write};
    ///
    /// let rt = hearth::Runtime::builder().workers(2).build()?;
    /// let server = rt.block_on(rt.serve_on_all("127.0.0.1:0".parse()?, |stream, _peer| async move {
    ///     let mut buf = [0; 1024];
    ///     while let Ok(n @ 1..) = stream.read(&mut buf).await {
    ///         if stream.write_all(&buf[..n]).await.is_err() {
    ///             break;
    ///         }
    ///     }
    /// }))?;
    /// // Every worker listens already: no need to wait before connecting.
    /// let mut client = std::net::TcpStream::connect(server.local_addr())?;
    /// client.write_all(b"hello")?;
    /// let mut back = [0; 5];
    /// client.read_exact(&mut back)?;
    /// assert_eq!(&back, b"hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn serve_on_all<F, Fut>(
        &self,
        addr: SocketAddr,
        handler: F,
    ) -> impl Future<Output = io::Result<Server>> + Send + 'static
    where
        F: Fn(TcpStream, SocketAddr) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        Server::builder(addr).serve(self, handler)
    }
}

/// A TCP server with a listener on every worker of a runtime, made by
/// [`Handle::serve_on_all`] or a [`ServerBuilder`].
///
/// Dropping it leaves the server running until the runtime shuts down;
/// [`stop`](Self::stop) stops it earlier.
///
/// # How it binds
///
/// Each worker binds its own listener with `SO_REUSEPORT` (created on the
/// worker: a socket belongs to the reactor of the thread that makes it), so
/// the kernel spreads incoming connections over the workers and a
/// connection's task never leaves the worker that accepted it. Worker 0
/// binds first; with port 0 the kernel picks a port there, and every other
/// worker then binds the port worker 0 got. The future completes once every
/// worker is listening, with the bound address: a client may connect at
/// once, and every worker takes its share from the first connection on.
///
/// # Someone else on the port
///
/// `SO_REUSEPORT` lets any socket of the same user that also sets it join a
/// listening group. Two servers started on one port would then both report
/// "listening" and silently split the connections. Before worker 0 binds a
/// fixed port, it therefore tries a plain bind (with `SO_REUSEADDR`, so
/// connections of an earlier run lingering in `TIME_WAIT` do not count, but
/// without `SO_REUSEPORT`): if the address is taken, by a reuse-port group or
/// by any other listener, the server refuses to start with an `AddrInUse`
/// error that says so, unless [`ServerBuilder::join_existing_group`] asks to
/// join on purpose. A port held by a socket that does not share it fails
/// either way, with an `AddrInUse` error.
///
/// The check is a check, not a lock: another process that binds the port
/// between the check and worker 0's bind (a window of two system calls) is
/// not seen. Port 0 needs no check: the kernel picks a port nobody uses.
///
/// # Accepting
///
/// Each worker's accept loop spawns `handler(stream, peer)` as a task of its
/// own ([`spawn_local`](crate::spawn_local)) for every connection, and stops
/// when the runtime's graceful shutdown begins ([`shutdown_signal`]): its
/// listener is closed, so new connections are refused, while the connection
/// tasks run on to their end (the shutdown waits for them, up to its
/// deadline). [`Server::stop`] stops the accept loops the same way.
///
/// Accept errors go through an [`AcceptBackoff`]: those that concern one
/// connection only (the peer reset or aborted it, a network error it
/// carried, `EPERM` from a firewall) are skipped at once; any other one,
/// notably running out of file descriptors (`EMFILE`, `ENFILE`) or memory
/// (`ENOBUFS`, `ENOMEM`), would repeat at once if retried at once, so the
/// loop backs off: 5 ms, doubling up to 1 s while the errors go on, from
/// the start again after the next accepted connection. The connections
/// already open keep being served meanwhile. The library prints nothing;
/// with the `tracing` feature, at most one error a second is a `WARN` event
/// (target `hearth::net`).
///
/// # Differences from tokio
///
/// tokio has no such call: there a server is one listener whose
/// connections the runtime spreads over its threads. hearth's tasks do not
/// move between threads, so it spreads the connections in the kernel.
pub struct Server {
    addr: SocketAddr,
    /// Each worker's accept loop.
    accept_loops: Vec<RemoteJoinHandle<()>>,
}

impl Server {
    /// A [`ServerBuilder`] for `addr`, with the defaults.
    ///
    /// ```
    /// # if cfg!(miri) { return Ok(()); } // Miri cannot open sockets
    /// let rt = hearth::Runtime::builder().workers(1).build()?;
    /// let builder = hearth::runtime::Server::builder("127.0.0.1:0".parse()?);
    /// let server = rt.block_on(builder.serve(&rt, |_stream, _peer| async {}))?;
    /// assert_ne!(server.local_addr().port(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(addr: SocketAddr) -> ServerBuilder {
        ServerBuilder {
            addr,
            join_existing_group: false,
        }
    }

    /// The address every worker listens on (with the port the kernel
    /// picked, if the server was asked for port 0).
    ///
    /// ```
    /// # if cfg!(miri) { return Ok(()); } // Miri cannot open sockets
    /// let rt = hearth::Runtime::builder().workers(2).build()?;
    /// let server = rt.block_on(rt.serve_on_all("127.0.0.1:0".parse()?, |_, _| async {}))?;
    /// assert!(server.local_addr().ip().is_loopback());
    /// assert_ne!(server.local_addr().port(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting: every worker's accept loop is dropped with its
    /// listener, so new connections are refused. The connection tasks
    /// already running go on. Completes when every listener is closed.
    ///
    /// ```
    /// # if cfg!(miri) { return Ok(()); } // Miri cannot open sockets
    /// let rt = hearth::Runtime::builder().workers(2).build()?;
    /// let server = rt.block_on(rt.serve_on_all("127.0.0.1:0".parse()?, |_, _| async {}))?;
    /// let addr = server.local_addr();
    /// rt.block_on(server.stop());
    /// assert!(std::net::TcpStream::connect(addr).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stop(self) -> impl Future<Output = ()> + Send + 'static {
        for accept_loop in &self.accept_loops {
            accept_loop.abort();
        }
        async move {
            for accept_loop in self.accept_loops {
                // Cancelled (or ended by a shutdown): either way it is gone,
                // and an aborted task is dropped before its handle hears of it.
                let _ = accept_loop.await;
            }
        }
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.addr)
            .field("workers", &self.accept_loops.len())
            .finish()
    }
}

/// Options for a [`Server`]: [`Server::builder`], then
/// [`serve`](Self::serve).
///
/// ```
/// # if cfg!(miri) { return Ok(()); } // Miri cannot open sockets
/// let rt = hearth::Runtime::builder().workers(2).build()?;
/// let first = rt.block_on(rt.serve_on_all("127.0.0.1:0".parse()?, |_, _| async {}))?;
/// // A second server on the same port is refused...
/// let err = rt.block_on(rt.serve_on_all(first.local_addr(), |_, _| async {})).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
/// // ...unless it asks to share the connections with the first one.
/// let second = rt.block_on(
///     hearth::runtime::Server::builder(first.local_addr())
///         .join_existing_group(true)
///         .serve(&rt, |_, _| async {}),
/// )?;
/// assert_eq!(second.local_addr(), first.local_addr());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ServerBuilder {
    addr: SocketAddr,
    join_existing_group: bool,
}

impl ServerBuilder {
    /// Whether to join listeners that already serve the address with
    /// `SO_REUSEPORT` (of this process or another one of the same user);
    /// the kernel then spreads the connections over all of them. Default:
    /// `false`: an address in use is refused (see the
    /// [`Server`](Server#someone-else-on-the-port)).
    ///
    /// Joining on purpose is how a new version of a server takes over a
    /// port without refusing connections: start it joined, then stop the
    /// old one.
    ///
    /// ```
    /// # if cfg!(miri) { return Ok(()); } // Miri cannot open sockets
    /// // Someone else's listener, without SO_REUSEPORT: joining is refused too.
    /// let other = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let rt = hearth::Runtime::builder().workers(1).build()?;
    /// let joined = hearth::runtime::Server::builder(other.local_addr()?)
    ///     .join_existing_group(true)
    ///     .serve(&rt, |_, _| async {});
    /// let err = rt.block_on(joined).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join_existing_group(&mut self, join: bool) -> &mut ServerBuilder {
        self.join_existing_group = join;
        self
    }

    /// Starts the server on every worker of `rt`; see
    /// [`Handle::serve_on_all`] (the same with the default options) for what
    /// it does and its errors.
    pub fn serve<F, Fut>(
        &self,
        rt: &Handle,
        handler: F,
    ) -> impl Future<Output = io::Result<Server>> + Send + 'static
    where
        F: Fn(TcpStream, SocketAddr) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let rt = rt.clone();
        let options = self.clone();
        async move {
            let mut accept_loops = Vec::with_capacity(rt.workers());
            let result = start(&rt, &options, handler, &mut accept_loops).await;
            match result {
                Ok(addr) => Ok(Server { addr, accept_loops }),
                Err(err) => {
                    // The workers that were listening stop again.
                    Server {
                        addr: options.addr,
                        accept_loops,
                    }
                    .stop()
                    .await;
                    Err(err)
                }
            }
        }
    }
}

/// Starts the accept loops: worker 0 first (it may pick the port), then the
/// others at once on its address. Pushes each started loop onto
/// `accept_loops` (so the caller can stop them on an error) and returns the
/// address.
async fn start<F, Fut>(
    rt: &Handle,
    options: &ServerBuilder,
    handler: F,
    accept_loops: &mut Vec<RemoteJoinHandle<()>>,
) -> io::Result<SocketAddr>
where
    F: Fn(TcpStream, SocketAddr) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let first = Bind {
        addr: options.addr,
        check_unused: options.addr.port() != 0 && !options.join_existing_group,
    };
    // Each worker reports once, then drops its sender; a worker whose
    // closure never ran (a shutdown) drops it unused.
    let (tx, mut rx) = remote::unbounded_channel();
    accept_loops.push(start_worker(rt, 0, first, handler.clone(), tx)?);
    let addr = rx.recv().await.unwrap_or_else(shut_down)?;

    let (tx, mut rx) = remote::unbounded_channel();
    let others = Bind {
        addr,
        check_unused: false,
    };
    for worker in 1..rt.workers() {
        accept_loops.push(start_worker(
            rt,
            worker,
            others,
            handler.clone(),
            tx.clone(),
        )?);
    }
    drop(tx);
    for _ in 1..rt.workers() {
        rx.recv().await.unwrap_or_else(shut_down)?;
    }
    Ok(addr)
}

fn shut_down() -> io::Result<SocketAddr> {
    Err(io::Error::other(
        "hearth: the runtime shut down before every worker was listening",
    ))
}

/// What a worker binds.
#[derive(Clone, Copy)]
struct Bind {
    addr: SocketAddr,
    /// Refuse an address in use (see `Server`'s docs).
    check_unused: bool,
}

/// Binds on `worker` and reports to `tx`, then runs the accept loop there.
fn start_worker<F, Fut>(
    rt: &Handle,
    worker: usize,
    bind: Bind,
    handler: F,
    tx: remote::UnboundedSender<io::Result<SocketAddr>>,
) -> io::Result<RemoteJoinHandle<()>>
where
    F: Fn(TcpStream, SocketAddr) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let spawned = rt.spawn_on(worker, move || {
        // On the worker: bind here, report, then serve.
        let listener = bind_on_worker(worker, bind);
        let listener = match listener.and_then(|l| Ok((l.local_addr()?, l))) {
            Ok((addr, listener)) => {
                let _ = tx.send(Ok(addr));
                Some(listener)
            }
            Err(err) => {
                let _ = tx.send(Err(err));
                None
            }
        };
        async move {
            if let Some(listener) = listener {
                accept_loop(listener, handler).await;
            }
        }
    });
    spawned
        .map_err(|err| io::Error::other(format!("hearth: cannot serve on worker {worker}: {err}")))
}

fn bind_on_worker(worker: usize, bind: Bind) -> io::Result<TcpListener> {
    let addr = bind.addr;
    if bind.check_unused {
        check_unused(addr)?;
    }
    TcpListener::bind_reuseport(addr).map_err(|err| {
        let msg = if err.kind() == io::ErrorKind::AddrInUse {
            format!(
                "hearth: cannot serve on {addr}: the address is in use by a socket that does not \
                 share it (one without SO_REUSEPORT, or another user's) ({err})"
            )
        } else {
            format!("hearth: worker {worker} cannot listen on {addr}: {err}")
        };
        io::Error::new(err.kind(), msg)
    })
}

/// Fails with `AddrInUse` if a listener holds `addr` (see `Server`'s docs).
fn check_unused(addr: SocketAddr) -> io::Result<()> {
    use socket2::{Domain, Protocol, Socket, Type};
    let probe = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    probe.set_reuse_address(true)?;
    match probe.bind(&addr.into()) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AddrInUse => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!(
                "hearth: cannot serve on {addr}: the address is already in use. If another \
                 server listens there with SO_REUSEPORT, joining it would silently split the \
                 connections between the two; stop the other server, choose another port, or \
                 share it on purpose with ServerBuilder::join_existing_group(true) ({err})"
            ),
        )),
        // Anything else (a bad address, say) shows in the real bind too.
        Err(_) => Ok(()),
    }
}

/// Accepts until the graceful shutdown begins; spawns `handler` per
/// connection.
async fn accept_loop<F, Fut>(listener: TcpListener, handler: F)
where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let mut shutdown = pin!(shutdown_signal());
    let mut backoff = AcceptBackoff::new();
    loop {
        // `AcceptBackoff::accept` is cancel-safe: a shutdown during a
        // back-off simply drops it.
        let mut accept = pin!(backoff.accept(|| listener.accept()));
        let accepted = core::future::poll_fn(|cx| {
            if shutdown.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            accept.as_mut().poll(cx).map(Some)
        })
        .await;
        match accepted {
            None => return,
            Some(Ok((stream, peer))) => drop(crate::spawn_local(handler(stream, peer))),
            // At most one a second (the back-off swallows the others).
            Some(Err(err)) => {
                #[cfg(feature = "tracing")]
                tracing::warn!(
                    target: "hearth::net",
                    error = %err,
                    "accept failed; backing off before the next accept"
                );
                drop(err);
            }
        }
    }
}
