//! An HTTP client for hearth's workers, with a connection pool: HTTP/1.1
//! connections are kept alive and reused, HTTP/2 connections multiplex
//! every request to their server.
//!
//! A [`Client`] belongs to the worker that made it (it is `!Send`): its
//! pool, its connections and their tasks live there, and a clone (an `Rc`
//! clone) shares them. Make one client per worker, for example in
//! [`spawn_on_all`](hearth::runtime::Handle::spawn_on_all)'s closure.
//!
//! - **Connecting**: the host is resolved with hearth's non-blocking
//!   [`lookup_host`](hearth::net::lookup_host) and each address is tried in
//!   turn; `https` URLs (feature `tls`) then run a rustls handshake. The
//!   connect timeout ([`Builder::connect_timeout`], 10 s by default) covers
//!   all of that and the HTTP handshake.
//! - **Protocol**: `http` URLs speak HTTP/1.1, or HTTP/2 by prior knowledge
//!   (h2c) with [`Builder::http2_only`]. `https` URLs offer both through
//!   ALPN and speak what the server picks (only `h2` with `http2_only`).
//! - **Pool**: see [`Builder::pool_max_idle_per_host`] and
//!   [`Builder::pool_idle_timeout`]. A request that a pooled connection
//!   could not take because the server had just closed it is sent again on
//!   a new connection (hyper hands such a request back unsent).
//! - **Timeouts**: [`Builder::request_timeout`] bounds the time from the
//!   call until the response head (connecting included); the body is read
//!   at the caller's pace.
//!
//! Errors are [`Error`]s with an [`ErrorKind`] and a message that says what
//! failed, where, and why.
//!
//! # Differences from hyper-util's pooled `Client`
//!
//! - It is `!Send` and belongs to its worker: one pool per worker, no
//!   locks; connections and their tasks never leave the worker.
//! - Responses have a [`ResponseBody`] (hyper's `Incoming` inside): an
//!   HTTP/1.1 connection returns to the pool when its body has been read
//!   to the end, not when a background task sees it ready, so a task that
//!   reads a response and sends the next request reuses the connection.
//! - Connect and request timeouts are options of the client, and `https`
//!   is built in (feature `tls`), with HTTP/2 chosen through ALPN.
//! - No proxies, no protocol upgrades (`CONNECT`, WebSocket), no "happy
//!   eyeballs": a host's addresses are tried one after the other.
//!
//! # Examples
//!
//! ```
//! # if cfg!(miri) { return Ok(()); } // Miri cannot open sockets
//! use std::convert::Infallible;
//! use http_body_util::BodyExt;
//! use hyper::{body::Incoming, service::service_fn, Request, Response};
//! use hearth_hyper::client::Client;
//!
//! let rt = hearth::Runtime::builder().workers(1).build()?;
//! let hello = service_fn(|_req: Request<Incoming>| async {
//!     Ok::<_, Infallible>(Response::new("hello".to_string()))
//! });
//! let server = rt.block_on(hearth_hyper::serve(&rt, "127.0.0.1:0".parse()?, hello))?;
//! let url = format!("http://{}/", server.local_addr());
//!
//! hearth::block_on(async {
//!     let client = Client::new();
//!     for _ in 0..3 {
//!         let response = client.get(url.as_str()).await?;
//!         assert_eq!(response.status(), 200);
//!         let body = response.into_body().collect().await?.to_bytes();
//!         assert_eq!(body, "hello");
//!     }
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod body;
mod connect;
mod error;
mod pool;

use std::cell::RefCell;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use hearth::sync::Notify;
use http_body_util::Full;
use hyper::body::{Body, Bytes};
use hyper::client::conn::{http1, http2};
use hyper::header::{HeaderValue, HOST};
use hyper::{Request, Response, Uri};
use hyper_util::rt::TokioIo;

pub use body::ResponseBody;
pub use error::{Error, ErrorKind};

use crate::server::BoxError;
use crate::{HearthExecutor, HearthTimer};
use pool::{Key, Pool, H2};

#[cfg(feature = "tls")]
type TlsConnector = tokio_rustls::TlsConnector;
#[cfg(not(feature = "tls"))]
type TlsConnector = core::convert::Infallible;

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const DEFAULT_MAX_IDLE_PER_HOST: usize = 32;

/// A pooled HTTP/1.1 and HTTP/2 client on the current worker; see the
/// [module docs](self).
///
/// `B` is the request body (any hyper [`Body`]; [`Full<Bytes>`] by
/// default). Cloning is cheap (an `Rc`) and the clones share one pool.
/// A `Client` is `!Send`: it stays on the worker that made it.
///
/// # Panics
///
/// A request panics outside a hearth executor (connections run in tasks of
/// the current worker).
pub struct Client<B = Full<Bytes>> {
    inner: Rc<Inner<B>>,
}

struct Inner<B> {
    connect_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    http2_only: bool,
    http1: http1::Builder,
    http2: http2::Builder<HearthExecutor>,
    pool: RefCell<Pool<B>>,
    #[cfg(feature = "tls")]
    tls: tls::ClientTls,
}

/// A checked-out connection.
enum Conn<B> {
    H1(http1::SendRequest<B>),
    H2(http2::SendRequest<B>),
}

impl<B> Clone for Client<B> {
    fn clone(&self) -> Self {
        Client {
            inner: self.inner.clone(),
        }
    }
}

impl<B> fmt::Debug for Client<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("connect_timeout", &self.inner.connect_timeout)
            .field("request_timeout", &self.inner.request_timeout)
            .field("http2_only", &self.inner.http2_only)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client with the default options (see [`Builder`]) and
    /// [`Full<Bytes>`] request bodies.
    ///
    /// ```
    /// let client = hearth_hyper::client::Client::new();
    /// let other = client.clone(); // the same pool
    /// # drop((client, other));
    /// ```
    pub fn new() -> Client {
        Builder::new().build()
    }
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

impl<B> Client<B>
where
    B: Body + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    /// The options: `Client::builder().….build()`.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// A `GET` request for `uri` with an empty body.
    ///
    /// # Errors
    ///
    /// As [`request`](Self::request); an unparsable `uri` is
    /// [`ErrorKind::InvalidUri`].
    pub async fn get<U>(&self, uri: U) -> Result<Response<ResponseBody>, Error>
    where
        U: TryInto<Uri>,
        U::Error: Into<BoxError>,
        B: Default,
    {
        let uri = uri
            .try_into()
            .map_err(|e| Error::new(ErrorKind::InvalidUri, "", e))?;
        let mut request = Request::new(B::default());
        *request.uri_mut() = uri;
        self.request(request).await
    }

    /// Sends `request` (its URI absolute: `http://host[:port]/path`) on a
    /// pooled connection or a new one, and returns the response once its
    /// head has arrived.
    ///
    /// For HTTP/1.1 the request goes out in origin form (`/path`) with a
    /// `Host` header made from the URI unless it has one.
    ///
    /// # Errors
    ///
    /// An [`Error`]: the URI cannot be sent, the connection failed, the
    /// exchange failed, or a timeout passed (see [`ErrorKind`]).
    pub async fn request(&self, request: Request<B>) -> Result<Response<ResponseBody>, Error> {
        let key = Key::of(request.uri())?;
        let exchange = self.exchange(&key, request);
        match self.inner.request_timeout {
            Some(limit) => hearth::time::timeout(limit, exchange)
                .await
                .unwrap_or_else(|_| {
                    Err(Error::timeout(
                        ErrorKind::RequestTimeout,
                        key.to_string(),
                        limit,
                    ))
                }),
            None => exchange.await,
        }
    }

    async fn exchange(
        &self,
        key: &Key,
        mut request: Request<B>,
    ) -> Result<Response<ResponseBody>, Error> {
        let uri = request.uri().clone();
        // A pooled connection's request comes back unsent when the server
        // had closed it; it is then sent on a new connection, once.
        let mut pooled_ok = true;
        loop {
            let (conn, pooled) = self.checkout(key, pooled_ok).await?;
            match conn {
                Conn::H1(mut sender) => {
                    to_origin_form(&mut request, &uri);
                    match sender.try_send_request(request).await {
                        Ok(response) => return Ok(self.h1_response(key, sender, response)),
                        Err(mut e) => match e.take_message() {
                            Some(back) if pooled => request = back,
                            _ => {
                                return Err(Error::new(
                                    ErrorKind::Http,
                                    key.to_string(),
                                    e.into_error(),
                                ))
                            }
                        },
                    }
                }
                Conn::H2(mut sender) => match sender.try_send_request(request).await {
                    Ok(response) => return Ok(response.map(|body| ResponseBody::new(body, None))),
                    Err(mut e) => match e.take_message() {
                        Some(back) if pooled => request = back,
                        _ => {
                            return Err(Error::new(
                                ErrorKind::Http,
                                key.to_string(),
                                e.into_error(),
                            ))
                        }
                    },
                },
            }
            *request.uri_mut() = uri.clone();
            pooled_ok = false;
        }
    }

    /// A connection for `key` and whether it came from the pool: the
    /// shared HTTP/2 one or a ready idle HTTP/1.1 one (if `pooled_ok`), or
    /// a new one.
    async fn checkout(&self, key: &Key, pooled_ok: bool) -> Result<(Conn<B>, bool), Error> {
        if !pooled_ok {
            // The shared HTTP/2 connection (if any) just handed a request
            // back: do not use it again.
            let mut pool = self.inner.pool.borrow_mut();
            if matches!(pool.h2.get(key), Some(H2::Ready(_))) {
                pool.h2.remove(key);
            }
        }
        loop {
            let opening = {
                let mut pool = self.inner.pool.borrow_mut();
                match pool.h2.get(key) {
                    Some(H2::Ready(sender)) if !sender.is_closed() => {
                        return Ok((Conn::H2(sender.clone()), true));
                    }
                    Some(H2::Ready(_)) => {
                        pool.h2.remove(key);
                        None
                    }
                    Some(H2::Connecting(done)) => Some(done.clone()),
                    None => None,
                }
            };
            match opening {
                // Another request is opening the HTTP/2 connection: wait
                // for it, then look again.
                Some(done) => done.notified().await,
                None => break,
            }
        }
        if pooled_ok {
            loop {
                let idle = self.inner.pool.borrow_mut().take_idle(key);
                let Some(mut sender) = idle else { break };
                // Ready at once, or once its connection task has taken in
                // the end of the previous response.
                if sender.ready().await.is_ok() {
                    return Ok((Conn::H1(sender), true));
                }
            }
        }
        self.connect(key).await.map(|conn| (conn, false))
    }

    /// A new connection to `key`, within the connect timeout.
    async fn connect(&self, key: &Key) -> Result<Conn<B>, Error> {
        // With prior knowledge the connection will be HTTP/2: requests to
        // the same key wait for this one.
        let _opening = self
            .inner
            .http2_only
            .then(|| Opening::start(&self.inner, key));
        let open = self.open(key);
        let conn = match self.inner.connect_timeout {
            Some(limit) => hearth::time::timeout(limit, open)
                .await
                .unwrap_or_else(|_| {
                    Err(Error::timeout(
                        ErrorKind::ConnectTimeout,
                        key.to_string(),
                        limit,
                    ))
                }),
            None => open.await,
        }?;
        if let Conn::H2(sender) = &conn {
            let mut pool = self.inner.pool.borrow_mut();
            let live = matches!(pool.h2.get(key), Some(H2::Ready(s)) if !s.is_closed());
            if !live {
                pool.h2.insert(key.clone(), H2::Ready(sender.clone()));
            }
        }
        Ok(conn)
    }

    /// Connects, then runs the HTTP handshake and spawns the connection's
    /// task on this worker.
    async fn open(&self, key: &Key) -> Result<Conn<B>, Error> {
        #[cfg(feature = "tls")]
        let tls = match key.scheme {
            pool::Scheme::Https => Some(self.inner.tls.connector(self.inner.http2_only, key)?),
            pool::Scheme::Http => None,
        };
        #[cfg(not(feature = "tls"))]
        let tls: Option<TlsConnector> = None;
        let stream = connect::connect(key, tls.as_ref()).await?;
        let http2 = self.inner.http2_only || stream.alpn_h2();
        let io = TokioIo::new(stream);
        let failed = |e: hyper::Error| Error::new(ErrorKind::Http, key.to_string(), e);
        if http2 {
            let (sender, conn) = self.inner.http2.handshake(io).await.map_err(failed)?;
            // Its errors reach the requests through the sender.
            drop(hearth::spawn_local(conn));
            Ok(Conn::H2(sender))
        } else {
            let (sender, conn) = self.inner.http1.handshake(io).await.map_err(failed)?;
            drop(hearth::spawn_local(conn));
            Ok(Conn::H1(sender))
        }
    }

    /// The response, with a body that gives `sender` back to the pool when
    /// it ends.
    fn h1_response(
        &self,
        key: &Key,
        sender: http1::SendRequest<B>,
        response: Response<hyper::body::Incoming>,
    ) -> Response<ResponseBody> {
        let (parts, body) = response.into_parts();
        let pool = Rc::downgrade(&self.inner);
        let key = key.clone();
        let give_back = move || put_idle(&pool, key, sender);
        let body = if body.is_end_stream() {
            give_back();
            ResponseBody::new(body, None)
        } else {
            ResponseBody::new(body, Some(Box::new(give_back)))
        };
        Response::from_parts(parts, body)
    }
}

/// Keeps an HTTP/1.1 connection for the next request, and starts the task
/// that closes expired idle connections if it is not running.
fn put_idle<B: 'static>(inner: &Weak<Inner<B>>, key: Key, sender: http1::SendRequest<B>) {
    let Some(inner) = inner.upgrade() else {
        return;
    };
    let Ok(mut pool) = inner.pool.try_borrow_mut() else {
        return;
    };
    if pool.put_idle(key, sender) && pool.reaper.is_none() {
        if let Some(every) = pool.idle_timeout() {
            let weak = Rc::downgrade(&inner);
            pool.reaper = Some(hearth::spawn_local(reap(weak, every)));
        }
    }
}

/// Closes expired and closed idle connections every `every`, until there
/// are none (or the client is gone; its pool also aborts this task).
async fn reap<B: 'static>(inner: Weak<Inner<B>>, every: Duration) {
    loop {
        hearth::time::sleep(every).await;
        // Never the last reference: the client is alive (upgrade
        // succeeded) and nothing else runs before it is dropped below.
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let mut pool = inner.pool.borrow_mut();
        if !pool.purge() {
            // Detaches this task; the next idle connection starts another.
            pool.reaper = None;
            return;
        }
    }
}

/// Marks `key`'s HTTP/2 connection as being opened, and on drop (opened,
/// failed or cancelled) wakes the requests waiting for it.
struct Opening<'a, B> {
    inner: &'a Inner<B>,
    key: &'a Key,
    done: Rc<Notify>,
}

impl<'a, B> Opening<'a, B> {
    fn start(inner: &'a Rc<Inner<B>>, key: &'a Key) -> Opening<'a, B> {
        let done = Rc::new(Notify::new());
        inner
            .pool
            .borrow_mut()
            .h2
            .insert(key.clone(), H2::Connecting(done.clone()));
        Opening { inner, key, done }
    }
}

impl<B> Drop for Opening<'_, B> {
    fn drop(&mut self) {
        if let Ok(mut pool) = self.inner.pool.try_borrow_mut() {
            if matches!(pool.h2.get(self.key), Some(H2::Connecting(d)) if Rc::ptr_eq(d, &self.done))
            {
                pool.h2.remove(self.key);
            }
        }
        self.done.notify_waiters();
    }
}

/// For HTTP/1.1: the URI in origin form (path and query) and a `Host`
/// header from the absolute `uri` unless the request has one.
fn to_origin_form<B>(request: &mut Request<B>, uri: &Uri) {
    if !request.headers().contains_key(HOST) {
        if let Some(authority) = uri.authority() {
            // Without user information (`http` keeps it in the authority).
            let host = authority.as_str().rsplit('@').next().unwrap_or_default();
            if let Ok(value) = HeaderValue::from_str(host) {
                request.headers_mut().insert(HOST, value);
            }
        }
    }
    let path = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| hyper::http::uri::PathAndQuery::from_static("/"));
    *request.uri_mut() = Uri::from(path);
}

/// Options of a [`Client`]: `Builder::new()`, the options, then
/// [`build`](Self::build).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hearth_hyper::client::Builder;
///
/// let client = Builder::new()
///     .connect_timeout(Duration::from_secs(2))
///     .request_timeout(Duration::from_secs(5))
///     .pool_max_idle_per_host(8)
///     .pool_idle_timeout(Duration::from_secs(30))
///     .build::<http_body_util::Empty<hyper::body::Bytes>>();
/// # drop(client);
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    connect_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    pool_idle_timeout: Option<Duration>,
    pool_max_idle_per_host: usize,
    http2_only: bool,
    #[cfg(feature = "tls")]
    tls_config: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl Builder {
    /// The defaults: connect timeout 10 s, no request timeout, at most 32
    /// idle connections per host for at most 90 s each, HTTP/1.1 for
    /// `http` URLs and ALPN for `https`, the Mozilla root certificates
    /// (webpki-roots) for `https`.
    pub fn new() -> Builder {
        Builder {
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            request_timeout: None,
            pool_idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            pool_max_idle_per_host: DEFAULT_MAX_IDLE_PER_HOST,
            http2_only: false,
            #[cfg(feature = "tls")]
            tls_config: None,
        }
    }

    /// How long resolving, connecting and the TLS and HTTP handshakes of a
    /// new connection may take in all, or `None` for no limit. Default:
    /// 10 s. Past it a request fails with [`ErrorKind::ConnectTimeout`].
    pub fn connect_timeout(&mut self, timeout: impl Into<Option<Duration>>) -> &mut Builder {
        self.connect_timeout = timeout.into();
        self
    }

    /// How long a request may take until its response head has arrived
    /// (connecting included), or `None` for no limit (the default). Past it
    /// the request fails with [`ErrorKind::RequestTimeout`] (or
    /// [`ErrorKind::ConnectTimeout`] if that passed first).
    pub fn request_timeout(&mut self, timeout: impl Into<Option<Duration>>) -> &mut Builder {
        self.request_timeout = timeout.into();
        self
    }

    /// How long an HTTP/1.1 connection may stay idle in the pool, or
    /// `None` for no limit. Default: 90 s.
    pub fn pool_idle_timeout(&mut self, timeout: impl Into<Option<Duration>>) -> &mut Builder {
        self.pool_idle_timeout = timeout.into();
        self
    }

    /// At most this many idle HTTP/1.1 connections are kept per scheme,
    /// host and port; more are closed when their response ends. Default:
    /// 32; 0 turns pooling off.
    pub fn pool_max_idle_per_host(&mut self, max: usize) -> &mut Builder {
        self.pool_max_idle_per_host = max;
        self
    }

    /// Speaks only HTTP/2: by prior knowledge (h2c) for `http` URLs, and
    /// offering only `h2` through ALPN for `https`. All requests to a host
    /// then share one connection. Default: off.
    pub fn http2_only(&mut self, enabled: bool) -> &mut Builder {
        self.http2_only = enabled;
        self
    }

    /// The rustls configuration for `https` URLs (its certificate roots,
    /// client certificates, protocol versions). Its ALPN protocols are
    /// replaced by the client's (`h2` and `http/1.1`, or `h2` only).
    /// Default: rustls' defaults with the `ring` provider and the Mozilla
    /// roots (webpki-roots).
    #[cfg(feature = "tls")]
    pub fn tls_config(&mut self, config: std::sync::Arc<rustls::ClientConfig>) -> &mut Builder {
        self.tls_config = Some(config);
        self
    }

    /// The client, with request bodies of type `B` (`build::<Full<Bytes>>()`
    /// for [`Client`]'s default).
    pub fn build<B>(&self) -> Client<B>
    where
        B: Body + Unpin + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let http1 = http1::Builder::new();
        let mut http2 = http2::Builder::new(HearthExecutor);
        http2.timer(HearthTimer);
        Client {
            inner: Rc::new(Inner {
                connect_timeout: self.connect_timeout,
                request_timeout: self.request_timeout,
                http2_only: self.http2_only,
                http1,
                http2,
                pool: RefCell::new(Pool::new(
                    self.pool_max_idle_per_host,
                    self.pool_idle_timeout,
                )),
                #[cfg(feature = "tls")]
                tls: tls::ClientTls::new(self.tls_config.clone()),
            }),
        }
    }
}

#[cfg(feature = "tls")]
mod tls {
    //! The client's rustls connector, made on first use of an `https` URL.

    use std::cell::OnceCell;
    use std::sync::Arc;

    use super::{Error, ErrorKind, TlsConnector};

    pub(super) struct ClientTls {
        /// The user's configuration, if any.
        config: Option<Arc<rustls::ClientConfig>>,
        /// Made on first use.
        connector: OnceCell<TlsConnector>,
    }

    impl ClientTls {
        pub(super) fn new(config: Option<Arc<rustls::ClientConfig>>) -> ClientTls {
            ClientTls {
                config,
                connector: OnceCell::new(),
            }
        }

        pub(super) fn connector(
            &self,
            http2_only: bool,
            key: &super::Key,
        ) -> Result<TlsConnector, Error> {
            if let Some(c) = self.connector.get() {
                return Ok(c.clone());
            }
            let mut config = match &self.config {
                Some(c) => rustls::ClientConfig::clone(c),
                None => crate::tls::default_client_config()
                    .map_err(|e| Error::new(ErrorKind::Tls, key.to_string(), e))?,
            };
            config.alpn_protocols = if http2_only {
                vec![b"h2".to_vec()]
            } else {
                vec![b"h2".to_vec(), b"http/1.1".to_vec()]
            };
            let connector = TlsConnector::from(Arc::new(config));
            Ok(self.connector.get_or_init(|| connector).clone())
        }
    }
}
