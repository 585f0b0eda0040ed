//! Serving HTTP on every worker: [`serve`], [`serve_tower`] and their
//! [`Builder`].
//!
//! Each worker accepts on its own `SO_REUSEPORT` listener
//! ([`Handle::serve_on_all`]) and serves each connection in a task of its
//! own, with hyper-util's auto-detecting connection builder: HTTP/1.1, and
//! HTTP/2 by prior knowledge (h2c) when a connection opens with the HTTP/2
//! preface. hyper's timers run on [`HearthTimer`], its HTTP/2 streams on
//! [`HearthExecutor`].
//!
//! # Timeouts
//!
//! The HTTP/1 header-read timeout is on by default (30 s,
//! [`Builder::header_read_timeout`]): a client that has not sent a
//! request's complete headers that long after it began (or after the
//! previous response, on a kept-alive connection) is disconnected. hyper-util
//! detects the protocol before hyper reads anything, and sets no deadline
//! for that; so the same timeout also bounds the time until the protocol
//! is known (a client that connects and sends nothing, or only the start of
//! the HTTP/2 preface, is disconnected too).
//!
//! # TLS
//!
//! With the `tls` feature, [`Builder::tls`] serves HTTPS: each connection
//! first runs a rustls handshake, which the header-read timeout bounds too
//! (counted from the accept), then HTTP/2 or HTTP/1.1 as ALPN chose (a
//! configuration without ALPN protocols gets `h2` and `http/1.1`). A
//! failed handshake ends that connection only.
//!
//! # Graceful shutdown
//!
//! When the runtime's graceful shutdown begins
//! ([`Handle::shutdown_graceful`](hearth::runtime::Handle::shutdown_graceful),
//! seen through [`shutdown_signal`]), the listeners close and every
//! connection gets hyper's graceful shutdown: an idle HTTP/1 connection
//! closes at once, a busy one after its response; HTTP/2 sends `GOAWAY` and
//! finishes the streams under way. The runtime's shutdown waits for them up
//! to its deadline.
//!
//! # Errors
//!
//! A connection's errors (a malformed request, a client that vanished, a
//! timeout) end that connection only; hyper answers what it can (for
//! example `400 Bad Request`), and nothing is printed.

use core::future::{poll_fn, Future};
use core::pin::{pin, Pin};
use core::task::Poll;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hearth::runtime::{shutdown_signal, Handle, Server};
use hyper::body::{Body, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;

use crate::detect::Watched;
use crate::{HearthExecutor, HearthTimer};

/// The error type hyper accepts from services and bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The default header-read timeout (hyper's own default).
const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves a tower service (an axum `Router`, say) over HTTP/1.1 and HTTP/2
/// on every worker of `rt`, with the default options; see [`Builder`].
///
/// Completes once every worker listens, with the [`Server`] (its
/// [`local_addr`](Server::local_addr) has the port the kernel picked for
/// port 0). The server runs until the runtime shuts down or
/// [`Server::stop`] is called.
///
/// # Errors
///
/// Those of [`Handle::serve_on_all`]: the address is in use, a worker
/// cannot bind, the runtime is shutting down.
///
/// # Examples
///
/// ```no_run
/// use std::convert::Infallible;
/// use hyper::{body::Incoming, Request, Response};
///
/// let rt = hearth::Runtime::builder().build()?;
/// let hello = tower::service_fn(|_req: Request<Incoming>| async {
///     Ok::<_, Infallible>(Response::new("hello".to_string()))
/// });
/// let server = rt.block_on(hearth_hyper::serve_tower(&rt, "127.0.0.1:8080".parse()?, hello))?;
/// println!("listening on http://{}/", server.local_addr());
/// rt.block_on(std::future::pending::<()>());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn serve_tower<S, B>(
    rt: &Handle,
    addr: SocketAddr,
    service: S,
) -> impl Future<Output = io::Result<Server>> + Send + 'static
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: 'static,
    S::Error: Into<BoxError>,
    B: Body + 'static,
    B::Error: Into<BoxError>,
{
    Builder::new().serve_tower(rt, addr, service)
}

/// Serves a hyper service over HTTP/1.1 and HTTP/2 on every worker of
/// `rt`, with the default options; see [`Builder`] and [`serve_tower`].
///
/// # Errors
///
/// Those of [`Handle::serve_on_all`].
///
/// # Examples
///
/// ```no_run
/// use std::convert::Infallible;
/// use hyper::{body::Incoming, service::service_fn, Request, Response};
///
/// let rt = hearth::Runtime::builder().build()?;
/// let hello = service_fn(|_req: Request<Incoming>| async {
///     Ok::<_, Infallible>(Response::new("hello".to_string()))
/// });
/// let server = rt.block_on(hearth_hyper::serve(&rt, "127.0.0.1:8080".parse()?, hello))?;
/// println!("listening on http://{}/", server.local_addr());
/// rt.block_on(std::future::pending::<()>());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn serve<S, B>(
    rt: &Handle,
    addr: SocketAddr,
    service: S,
) -> impl Future<Output = io::Result<Server>> + Send + 'static
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: 'static,
    S::Error: Into<BoxError>,
    B: Body + 'static,
    B::Error: Into<BoxError>,
{
    Builder::new().serve(rt, addr, service)
}

/// Options for serving HTTP on hearth: [`Builder::new`], the options, then
/// [`serve`](Self::serve) (a hyper service) or
/// [`serve_tower`](Self::serve_tower) (a tower service, such as an axum
/// `Router`).
///
/// The service is cloned for every connection; its futures and bodies need
/// not be `Send` (they stay on the worker that accepted the connection).
///
/// # Examples
///
/// ```
/// # if cfg!(miri) { return Ok(()); } // Miri cannot open sockets
/// use std::convert::Infallible;
/// use std::io::{Read, Write};
/// use std::time::Duration;
/// use hyper::{body::Incoming, service::service_fn, Request, Response};
///
/// let rt = hearth::Runtime::builder().workers(1).build()?;
/// let hello = service_fn(|_req: Request<Incoming>| async {
///     Ok::<_, Infallible>(Response::new("hello".to_string()))
/// });
/// let server = rt.block_on(
///     hearth_hyper::server::Builder::new()
///         .header_read_timeout(Duration::from_secs(5))
///         .serve(&rt, "127.0.0.1:0".parse()?, hello),
/// )?;
///
/// let mut client = std::net::TcpStream::connect(server.local_addr())?;
/// client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
/// let mut response = String::new();
/// client.read_to_string(&mut response)?;
/// assert!(response.starts_with("HTTP/1.1 200 OK"));
/// assert!(response.ends_with("hello"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Builder {
    /// `None`: no header-read timeout.
    header_read_timeout: Option<Duration>,
    /// `Some`: HTTPS.
    #[cfg(feature = "tls")]
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Builder");
        d.field("header_read_timeout", &self.header_read_timeout);
        #[cfg(feature = "tls")]
        d.field("tls", &self.tls.is_some());
        d.finish()
    }
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl Builder {
    /// A builder with the defaults: a header-read timeout of 30 s.
    ///
    /// ```
    /// let builder = hearth_hyper::server::Builder::new();
    /// # drop(builder);
    /// ```
    pub fn new() -> Builder {
        Builder {
            header_read_timeout: Some(DEFAULT_HEADER_READ_TIMEOUT),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Serves HTTPS with this rustls configuration (its certificate and
    /// key); see the [module docs](self#tls). If it names no ALPN
    /// protocols, the server offers `h2` and `http/1.1`.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// # fn load() -> (Vec<rustls::pki_types::CertificateDer<'static>>, rustls::pki_types::PrivateKeyDer<'static>) { unimplemented!() }
    /// let (certs, key) = load(); // from PEM files, say (rustls-pki-types' `pem` module)
    /// let config = rustls::ServerConfig::builder_with_provider(Arc::new(
    ///     rustls::crypto::ring::default_provider(),
    /// ))
    /// .with_safe_default_protocol_versions()?
    /// .with_no_client_auth()
    /// .with_single_cert(certs, key)?;
    /// let mut builder = hearth_hyper::server::Builder::new();
    /// builder.tls(Arc::new(config));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(&mut self, config: std::sync::Arc<rustls::ServerConfig>) -> &mut Builder {
        self.tls = Some(crate::tls::server_alpn(config));
        self
    }

    /// How long a client may take to send a request's headers (and, on a
    /// new connection, the bytes that tell its protocol), or `None` for no
    /// limit. Default: 30 s. See the [module docs](self#timeouts).
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut builder = hearth_hyper::server::Builder::new();
    /// builder.header_read_timeout(Duration::from_secs(5));
    /// builder.header_read_timeout(None); // no protection against slow clients
    /// ```
    pub fn header_read_timeout(&mut self, timeout: impl Into<Option<Duration>>) -> &mut Builder {
        self.header_read_timeout = timeout.into();
        self
    }

    /// Serves a tower service (an axum `Router`, say) on every worker of
    /// `rt`; as [`serve`](Self::serve) otherwise.
    ///
    /// # Errors
    ///
    /// Those of [`Handle::serve_on_all`].
    ///
    /// ```no_run
    /// use std::convert::Infallible;
    /// use hyper::{body::Incoming, Request, Response};
    ///
    /// let rt = hearth::Runtime::builder().build()?;
    /// let hello = tower::service_fn(|_req: Request<Incoming>| async {
    ///     Ok::<_, Infallible>(Response::new("hello".to_string()))
    /// });
    /// let serving = hearth_hyper::server::Builder::new()
    ///     .header_read_timeout(std::time::Duration::from_secs(10))
    ///     .serve_tower(&rt, "127.0.0.1:8080".parse()?, hello);
    /// let _server = rt.block_on(serving)?;
    /// rt.block_on(std::future::pending::<()>());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn serve_tower<S, B>(
        &self,
        rt: &Handle,
        addr: SocketAddr,
        service: S,
    ) -> impl Future<Output = io::Result<Server>> + Send + 'static
    where
        S: tower_service::Service<Request<Incoming>, Response = Response<B>>
            + Clone
            + Send
            + 'static,
        S::Future: 'static,
        S::Error: Into<BoxError>,
        B: Body + 'static,
        B::Error: Into<BoxError>,
    {
        self.serve(rt, addr, TowerToHyperService::new(service))
    }

    /// Serves a hyper service on every worker of `rt`: HTTP/1.1, and
    /// HTTP/2 for connections that open with its preface. Completes once
    /// every worker listens; see [`Handle::serve_on_all`] for how the
    /// listeners work, and the [module docs](self) for timeouts, graceful
    /// shutdown and errors.
    ///
    /// # Errors
    ///
    /// Those of [`Handle::serve_on_all`].
    pub fn serve<S, B>(
        &self,
        rt: &Handle,
        addr: SocketAddr,
        service: S,
    ) -> impl Future<Output = io::Result<Server>> + Send + 'static
    where
        S: hyper::service::Service<Request<Incoming>, Response = Response<B>>
            + Clone
            + Send
            + 'static,
        S::Future: 'static,
        S::Error: Into<BoxError>,
        B: Body + 'static,
        B::Error: Into<BoxError>,
    {
        let builder = self.connection_builder();
        let detect_timeout = self.header_read_timeout;
        #[cfg(feature = "tls")]
        let tls = self.tls.clone().map(tokio_rustls::TlsAcceptor::from);
        rt.serve_on_all(addr, move |stream, _peer| {
            // Small responses go out at once; a failure only costs latency.
            let _ = stream.set_nodelay(true);
            // Until the protocol is known (see the module docs on timeouts).
            let deadline = detect_timeout.map(deadline_after);
            let builder = builder.clone();
            let service = service.clone();
            #[cfg(feature = "tls")]
            let tls = tls.clone();
            async move {
                #[cfg(feature = "tls")]
                if let Some(acceptor) = tls {
                    if let Some(stream) = tls_handshake(acceptor, stream, deadline).await {
                        serve_connection(builder, deadline, stream, service).await;
                    }
                    return;
                }
                serve_connection(builder, deadline, stream, service).await;
            }
        })
    }

    /// hyper-util's connection builder with these options.
    fn connection_builder(&self) -> auto::Builder<HearthExecutor> {
        let mut builder = auto::Builder::new(HearthExecutor);
        builder
            .http1()
            .timer(HearthTimer)
            .header_read_timeout(self.header_read_timeout);
        builder.http2().timer(HearthTimer);
        builder
    }
}

/// `now + timeout`, saturating far in the future.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// Runs the server side of a TLS handshake until `deadline`; `None` if it
/// failed, timed out, or a graceful shutdown began meanwhile (the
/// connection is then dropped, which closes it).
#[cfg(feature = "tls")]
async fn tls_handshake(
    acceptor: tokio_rustls::TlsAcceptor,
    stream: hearth::net::TcpStream,
    deadline: Option<Instant>,
) -> Option<tokio_rustls::server::TlsStream<hearth::net::TcpStream>> {
    let mut handshake = pin!(acceptor.accept(stream));
    let mut shutdown = pin!(shutdown_signal());
    let mut expiry = deadline.map(|at| hearth::time::sleep_until(at.into()));
    poll_fn(|cx| {
        if shutdown.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        if let Some(expiry) = &mut expiry {
            if Pin::new(expiry).poll(cx).is_ready() {
                return Poll::Ready(None);
            }
        }
        // A failed handshake concerns that client only: ignored.
        handshake.as_mut().poll(cx).map(Result::ok)
    })
    .await
}

/// Serves one connection with `builder` until it ends (the client closes
/// it, an error, a timeout, or the end of a graceful shutdown); the
/// protocol must be known by `deadline`.
async fn serve_connection<IO, S, B>(
    builder: auto::Builder<HearthExecutor>,
    deadline: Option<Instant>,
    stream: IO,
    service: S,
) where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + 'static,
    S::Future: 'static,
    S::Error: Into<BoxError>,
    B: Body + 'static,
    B::Error: Into<BoxError>,
{
    let (stream, progress) = Watched::new(stream);
    let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service));
    let mut shutdown = ShutdownWatch::new();
    let mut draining = false;
    let mut detecting = deadline.map(|at| hearth::time::sleep_until(at.into()));
    poll_fn(|cx| {
        if !draining && shutdown.poll(cx).is_ready() {
            draining = true;
            conn.as_mut().graceful_shutdown();
        }
        if let Some(deadline) = &mut detecting {
            if progress.detected() {
                detecting = None;
            } else if Pin::new(deadline).poll(cx).is_ready() {
                // Dropping the connection closes the socket.
                return Poll::Ready(());
            }
        }
        // A connection's error concerns that client only (see the module
        // docs): ignored.
        conn.as_mut().poll(cx).map(drop)
    })
    .await;
}

/// The worker's [`shutdown_signal`], polled only when it woke the task (and
/// on the first poll): a connection task is polled for every request, and
/// polling the signal each time cost about 4% of a small request's
/// instructions. The signal gets a waker of its own, which notes that it
/// woke and wakes the connection's task.
struct ShutdownWatch {
    signal: hearth::runtime::ShutdownSignal,
    /// Shared with `waker`.
    flag: std::sync::Arc<ShutdownFlag>,
    /// Wakes through `flag`.
    waker: core::task::Waker,
    /// `false` until the first poll.
    polled: bool,
}

/// What [`ShutdownWatch`]'s waker does.
#[derive(Default)]
struct ShutdownFlag {
    /// The signal woke since the last poll.
    woken: std::sync::atomic::AtomicBool,
    /// The connection's task.
    task: atomic_waker::AtomicWaker,
}

impl std::task::Wake for ShutdownFlag {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.woken.store(true, std::sync::atomic::Ordering::Release);
        self.task.wake();
    }
}

impl ShutdownWatch {
    fn new() -> ShutdownWatch {
        let flag = std::sync::Arc::new(ShutdownFlag::default());
        ShutdownWatch {
            signal: shutdown_signal(),
            waker: core::task::Waker::from(flag.clone()),
            flag,
            polled: false,
        }
    }

    /// Ready once the graceful shutdown began; wakes `cx`'s task then.
    fn poll(&mut self, cx: &mut core::task::Context<'_>) -> Poll<()> {
        // Registered before the flag is read: a wake after the read reaches
        // this waker.
        self.flag.task.register(cx.waker());
        let woken = self
            .flag
            .woken
            .swap(false, std::sync::atomic::Ordering::Acquire);
        if self.polled && !woken {
            return Poll::Pending;
        }
        self.polled = true;
        Pin::new(&mut self.signal).poll(&mut core::task::Context::from_waker(&self.waker))
    }
}
