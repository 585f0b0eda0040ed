//! [`CancellationToken`]: tokio-util's cancellation token for a
//! thread-per-core runtime, and cancel scopes that carry it through the
//! context, as [`time::deadline`](crate::time::deadline) carries a deadline.
//!
//! # The token
//!
//! The API is tokio-util's (`tokio_util::sync::CancellationToken`):
//! [`new`](CancellationToken::new), [`child_token`](CancellationToken::child_token)
//! (cancelling a parent cancels its children, never the reverse),
//! [`cancel`](CancellationToken::cancel), [`is_cancelled`](CancellationToken::is_cancelled),
//! [`cancelled`](CancellationToken::cancelled) and
//! [`cancelled_owned`](CancellationToken::cancelled_owned),
//! [`drop_guard`](CancellationToken::drop_guard) (with [`DropGuard::disarm`])
//! and [`drop_guard_ref`](CancellationToken::drop_guard_ref),
//! [`run_until_cancelled`](CancellationToken::run_until_cancelled) and
//! [`run_until_cancelled_owned`](CancellationToken::run_until_cancelled_owned).
//!
//! ```
//! use hearth::task::CancellationToken;
//!
//! hearth::block_on(async {
//!     let token = CancellationToken::new();
//!     let child = token.child_token();
//!     let worker = hearth::spawn_local(async move {
//!         child.run_until_cancelled(std::future::pending::<()>()).await
//!     });
//!     token.cancel();
//!     assert_eq!(worker.await.unwrap(), None);
//! });
//! ```
//!
//! # Cancel scopes: cancellation through the context
//!
//! [`token.scope(fut)`](CancellationToken::scope) polls `fut` with the token
//! in scope, provided through the context ([`provide`]) to
//! everything polled inside, however deep and through any combinator that
//! links its children (all of hearth-future's: `join!`, `join_all`,
//! `select!`, `race`, `FuturesSet`, `merge`) and through contexts rebuilt
//! with `Context::from_waker(cx.waker())`. Once the token is cancelled:
//!
//! - socket reads, writes, `accept` and `connect` inside fail with an
//!   [`io::Error`] of kind [`ErrorKind::Other`](io::ErrorKind::Other) whose
//!   inner error is a [`Cancelled`] ([`Cancelled::is_cause_of`] tells), and a
//!   pending one is woken for it, even deep inside a precise combinator that
//!   would not poll it otherwise, so the code around it sees the error;
//! - waits that cannot fail ([`sleep`](crate::time::sleep), hearth-sync's
//!   locks, channels and notifications, a `JoinHandle`) are cut: the future
//!   is polled once more (so the errors above can propagate), and if it is
//!   still pending, the scope returns `Err(Cancelled)` and drops it when it
//!   is dropped;
//! - code inside can wait for it without being passed the token:
//!   [`cancelled()`](cancelled) (the free function) waits for the token in
//!   scope, [`current_token()`](current_token) and
//!   [`CancellationToken::in_scope`] return it.
//!
//! Why `Other` and not another kind: `Interrupted` is retried by std's and
//! futures' `read_exact`, `write_all` and `copy` loops, which would spin on a
//! cancelled scope; `TimedOut` is a deadline's (hearth's deadlines use it);
//! `ConnectionAborted` and `ConnectionReset` describe the peer and are
//! skipped by accept loops as per-connection errors. `Other` is retried by
//! nothing, and the typed inner error says exactly what happened:
//!
//! ```
//! # if cfg!(miri) { return; } // Miri cannot open sockets
//! use futures::AsyncReadExt;
//! use hearth::net::{TcpListener, TcpStream};
//! use hearth::task::{Cancelled, CancellationToken};
//!
//! hearth::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let _client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
//!     let (mut conn, _) = listener.accept().await.unwrap();
//!
//!     let token = CancellationToken::new();
//!     let canceller = token.clone();
//!     hearth::spawn_local(async move {
//!         hearth::time::sleep(std::time::Duration::from_millis(5)).await;
//!         canceller.cancel();
//!     });
//!     let handled = token
//!         .scope(async {
//!             let mut buf = [0; 16];
//!             // Nothing here knows about the token: the scope reaches the read.
//!             match conn.read(&mut buf).await {
//!                 Err(e) if Cancelled::is_cause_of(&e) => "cancelled",
//!                 _ => "read",
//!             }
//!         })
//!         .await;
//!     assert_eq!(handled, Ok("cancelled"));
//! });
//! ```
//!
//! A cancel scope is a deadline that never passes on time: it provides the
//! same expiry signal ([`provide::Deadline`]) that
//! waits register with. Scopes and deadlines nest in any order, and a wait
//! inside fails when any of them ends, with the error of the one that ended.
//! In nested cancel scopes the inner one sees the cancellation of either:
//! the token it provides (its *effective* token) is a child of its own token
//! that it also cancels when an outer scope is cancelled.
//!
//! **Spawned tasks do not inherit the token in scope** (as they do not
//! inherit a deadline, or tokio's task-locals): a spawned task is not part of
//! the future that spawned it and may outlive it. Give it a
//! [`child_token`](CancellationToken::child_token) and its own scope.
//! Awaiting its `JoinHandle` inside a scope is cut like any other wait.
//!
//! The context reaches only as far as hearth's wakers do: a foreign
//! combinator that makes its own wakers (`futures::FuturesUnordered`) hides
//! the scope from its children, whose waits are then only cut, not failed.
//!
//! # Send-ness
//!
//! A token is `!Send` and `!Sync` (an `Rc` tree with `Cell` flags; no atomic
//! operation, no lock): hearth runs a task on the thread that spawned it, so
//! a token and everything waiting on it live on one thread. To cancel from
//! another thread, send the request through hearth's cross-thread channel
//! ([`sync::remote`](crate::sync::remote)) to a task on the token's thread
//! that calls [`cancel`](CancellationToken::cancel):
//!
//! ```
//! use hearth::task::CancellationToken;
//!
//! hearth::block_on(async {
//!     let token = CancellationToken::new();
//!     let (tx, mut rx) = hearth::sync::remote::channel::<()>(1);
//!     let t = token.clone();
//!     hearth::spawn_local(async move {
//!         if rx.recv().await.is_some() {
//!             t.cancel();
//!         }
//!     });
//!     std::thread::spawn(move || tx.blocking_send(()).unwrap());
//!     token.cancelled().await;
//! });
//! ```
//!
//! # Differences from tokio-util
//!
//! - `!Send` and `!Sync` (see above); tokio-util's token is `Send + Sync`.
//! - [`cancel`](CancellationToken::cancel) wakes every waiter even if a
//!   waker panics, then resumes the first panic (tokio-util does not
//!   document what a panicking waker does). The token is cancelled either
//!   way, and no waiter is woken twice.
//! - [`WaitForCancellationFuture`] is `Unpin` (its waker sits in a slab
//!   owned by the token, not in an intrusive list in the future).
//! - A token whose handles were all dropped stays allocated while it has
//!   live children (tokio-util re-links the children to its parent); the
//!   behaviour is the same, a cancel of the grandparent still reaches them.
//! - Cancel scopes ([`scope`](CancellationToken::scope), [`cancelled`],
//!   [`current_token`], [`in_scope`](CancellationToken::in_scope), the
//!   [`Cancelled`] error) are hearth's own; tokio-util has no equivalent.

use core::cell::{Cell, RefCell};
use core::fmt;
use core::future::{pending, poll_fn, Future};
use core::mem;
use core::pin::{pin, Pin};
use core::task::{Context, Poll};
use std::io;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::rc::{Rc, Weak};

use hearth_task::provide::{self, current_deadline, Provider, Request};
use hearth_task::{ContextExt, LocalWaker};
use pin_project_lite::pin_project;
use slab::Slab;

use super::expiry::{Cause, Expiry};

/// A node of the token tree.
struct Node {
    cancelled: Cell<bool>,
    /// The parent and this node's key in its `children` (immutable). A
    /// child keeps its parent alive, so a cancel of any ancestor reaches it.
    parent: Option<(Rc<Node>, usize)>,
    /// Live children; emptied (for good) by the cancel.
    children: RefCell<Slab<Weak<Node>>>,
    /// Wakers of pending `cancelled` futures and scopes; emptied (for good)
    /// by the cancel.
    waiters: RefCell<Slab<LocalWaker>>,
}

impl Node {
    fn new(parent: Option<(Rc<Node>, usize)>, cancelled: bool) -> Node {
        Node {
            cancelled: Cell::new(cancelled),
            parent,
            children: RefCell::new(Slab::new()),
            waiters: RefCell::new(Slab::new()),
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some((parent, key)) = &self.parent {
            // Bound before it drops: no borrow is held while a `Weak` drops.
            let entry = parent.children.borrow_mut().try_remove(*key);
            drop(entry);
        }
    }
}

/// A token that signals cancellation to whatever waits on it, its children,
/// and (through [`scope`](Self::scope)) everything polled in its scope.
///
/// Clones are handles to the same token. See the [module docs](self) for
/// scopes and the differences from tokio-util.
///
/// # Examples
///
/// tokio-util's example, on hearth:
///
/// ```
/// use std::time::Duration;
/// use hearth::task::CancellationToken;
///
/// hearth::block_on(async {
///     let token = CancellationToken::new();
///     let cloned_token = token.clone();
///
///     let join_handle = hearth::spawn_local(async move {
///         hearth::select! {
///             _ = cloned_token.cancelled() => 5,
///             _ = hearth::time::sleep(Duration::from_secs(9999)) => 99,
///         }
///     });
///
///     hearth::spawn_local(async move {
///         hearth::time::sleep(Duration::from_millis(10)).await;
///         token.cancel();
///     });
///
///     assert_eq!(5, join_handle.await.unwrap());
/// });
/// ```
#[derive(Clone)]
pub struct CancellationToken {
    node: Rc<Node>,
}

impl Default for CancellationToken {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for CancellationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellationToken")
            .field("is_cancelled", &self.is_cancelled())
            .finish()
    }
}

impl CancellationToken {
    /// A new token, not cancelled, without a parent.
    pub fn new() -> CancellationToken {
        CancellationToken {
            node: Rc::new(Node::new(None, false)),
        }
    }

    /// A child of this token: cancelled when this one is (or at once, if
    /// this one is cancelled already); cancelling the child does not cancel
    /// this one.
    ///
    /// ```
    /// use hearth::task::CancellationToken;
    ///
    /// let parent = CancellationToken::new();
    /// let child = parent.child_token();
    /// child.cancel();
    /// assert!(!parent.is_cancelled());
    /// let other = parent.child_token();
    /// parent.cancel();
    /// assert!(other.is_cancelled());
    /// ```
    pub fn child_token(&self) -> CancellationToken {
        if self.is_cancelled() {
            return CancellationToken {
                node: Rc::new(Node::new(None, true)),
            };
        }
        let node = Rc::new_cyclic(|me: &Weak<Node>| {
            let key = self.node.children.borrow_mut().insert(me.clone());
            Node::new(Some((self.node.clone(), key)), false)
        });
        CancellationToken { node }
    }

    /// Cancels this token and its children (and theirs), waking every task
    /// that waits on one of them. Cancelling twice does nothing more.
    ///
    /// Scopes of these tokens end as the [module docs](self) describe, when
    /// their tasks are polled next.
    ///
    /// # Panics
    ///
    /// If a waker panics: the tokens are cancelled and every other waiter
    /// was woken first, then the first panic resumes.
    pub fn cancel(&self) {
        if self.is_cancelled() {
            return;
        }
        let mut wakers = Vec::new();
        let mut stack = vec![self.node.clone()];
        while let Some(node) = stack.pop() {
            if node.cancelled.replace(true) {
                continue;
            }
            // No borrow is held while anything outside this loop runs: the
            // slabs are taken out first, then emptied.
            let waiters = mem::take(&mut *node.waiters.borrow_mut());
            wakers.extend(waiters.into_iter().map(|(_, w)| w));
            let children = mem::take(&mut *node.children.borrow_mut());
            stack.extend(children.into_iter().filter_map(|(_, c)| c.upgrade()));
        }
        wake_all(wakers);
    }

    /// Returns `true` once this token (or an ancestor) was cancelled.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        self.node.cancelled.get()
    }

    /// A future that completes once this token is cancelled (at once if it
    /// is).
    ///
    /// ```
    /// use hearth::task::CancellationToken;
    ///
    /// hearth::block_on(async {
    ///     let token = CancellationToken::new();
    ///     token.cancel();
    ///     token.cancelled().await; // completes at once
    /// });
    /// ```
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        WaitForCancellationFuture {
            token: self,
            key: None,
        }
    }

    /// [`cancelled`](Self::cancelled) owning the token (a `'static`
    /// future).
    pub fn cancelled_owned(self) -> WaitForCancellationFutureOwned {
        WaitForCancellationFutureOwned {
            token: self,
            key: None,
        }
    }

    /// A guard that cancels this token when it is dropped, unless
    /// [disarmed](DropGuard::disarm).
    ///
    /// ```
    /// use hearth::task::CancellationToken;
    ///
    /// let token = CancellationToken::new();
    /// {
    ///     let _guard = token.clone().drop_guard();
    /// }
    /// assert!(token.is_cancelled());
    ///
    /// let token = CancellationToken::new();
    /// let kept = token.clone().drop_guard().disarm();
    /// assert!(!kept.is_cancelled() && !token.is_cancelled());
    /// ```
    pub fn drop_guard(self) -> DropGuard {
        DropGuard { token: Some(self) }
    }

    /// [`drop_guard`](Self::drop_guard) borrowing the token.
    pub fn drop_guard_ref(&self) -> DropGuardRef<'_> {
        DropGuardRef { token: Some(self) }
    }

    /// Runs `fut` until it completes (`Some(output)`) or this token is
    /// cancelled (`None`; `fut` is dropped, and not polled at all if the
    /// token was cancelled already). Cancellation is checked first on every
    /// poll.
    ///
    /// Unlike [`scope`](Self::scope), this does not put the token in scope:
    /// `fut` is simply dropped, as tokio-util's does.
    ///
    /// ```
    /// use hearth::task::CancellationToken;
    ///
    /// hearth::block_on(async {
    ///     let token = CancellationToken::new();
    ///     assert_eq!(token.run_until_cancelled(async { 1 }).await, Some(1));
    ///     token.cancel();
    ///     assert_eq!(token.run_until_cancelled(async { 2 }).await, None);
    /// });
    /// ```
    pub async fn run_until_cancelled<F: Future>(&self, fut: F) -> Option<F::Output> {
        let mut fut = pin!(fut);
        let mut cancelled = self.cancelled();
        poll_fn(|cx| {
            if Pin::new(&mut cancelled).poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            fut.as_mut().poll(cx).map(Some)
        })
        .await
    }

    /// [`run_until_cancelled`](Self::run_until_cancelled) owning the token.
    pub async fn run_until_cancelled_owned<F: Future>(self, fut: F) -> Option<F::Output> {
        self.run_until_cancelled(fut).await
    }

    /// Polls `fut` with this token in scope, so that every wait inside ends
    /// once it is cancelled: its output, or `Err(Cancelled)` if it is still
    /// pending after the cancellation (see the [module docs](self) for what
    /// fails and what is cut).
    ///
    /// The scope holds a handle to the token (it is `'static` if `fut` is).
    /// If the token is cancelled before the first poll, `fut` is polled once
    /// (its waits fail at once), as under a deadline that has passed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hearth::task::{self, CancellationToken};
    ///
    /// hearth::block_on(async {
    ///     let token = CancellationToken::new();
    ///     let canceller = token.clone();
    ///     let out = token
    ///         .scope(async move {
    ///             let (a, b) = hearth::join!(
    ///                 // Cut: a sleep cannot fail.
    ///                 hearth::time::sleep(Duration::from_secs(60)),
    ///                 // Deep inside, without the token: it is in scope.
    ///                 async {
    ///                     canceller.cancel();
    ///                     task::cancelled().await;
    ///                     "saw it"
    ///                 },
    ///             );
    ///             (a, b)
    ///         })
    ///         .await;
    ///     assert!(out.is_err());
    /// });
    /// ```
    pub fn scope<F: Future>(&self, fut: F) -> CancelScope<F> {
        CancelScope {
            future: fut,
            layer: ScopeLayer {
                expiry: Expiry::new(),
                token: self.clone(),
            },
            wait: None,
        }
    }

    /// The token in scope for `cx` (the effective token of the innermost
    /// [`scope`](Self::scope)), if any; `None` outside every scope, under a
    /// foreign combinator that makes its own wakers, and on other threads.
    ///
    /// ```
    /// use std::future::poll_fn;
    /// use std::task::Poll;
    /// use hearth::task::CancellationToken;
    ///
    /// hearth::block_on(async {
    ///     let here = || poll_fn(|cx| Poll::Ready(CancellationToken::in_scope(cx).is_some()));
    ///     assert!(!here().await);
    ///     assert_eq!(CancellationToken::new().scope(here()).await, Ok(true));
    /// });
    /// ```
    #[inline]
    pub fn in_scope<'c>(cx: &'c Context<'_>) -> Option<&'c CancellationToken> {
        cx.request_ref::<CancellationToken>()
    }
}

/// Wakes every waker, even if some panic; then resumes the first panic.
fn wake_all(wakers: Vec<LocalWaker>) {
    let mut first = None;
    for waker in wakers {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
            if first.is_none() {
                first = Some(payload);
            } else if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
                // A later payload's drop panicked (it is user code): that
                // panic's payload is forgotten, not dropped, as dropping it
                // could panic again.
                mem::forget(again);
            }
        }
    }
    if let Some(payload) = first {
        resume_unwind(payload);
    }
}

/// The wait of a `cancelled` future on `node`: `key` is its slab entry.
fn poll_wait(node: &Node, key: &mut Option<usize>, cx: &Context<'_>) -> Poll<()> {
    if node.cancelled.get() {
        // The cancel emptied the slab; nothing to remove.
        *key = None;
        return Poll::Ready(());
    }
    let waker = ContextExt::local_waker(cx);
    let same = key.is_some_and(|k| {
        node.waiters
            .borrow()
            .get(k)
            .is_some_and(|w| w.will_wake(waker))
    });
    if !same {
        // Cloned and replaced outside the borrow: a waker's clone or drop
        // may run code that touches this token.
        let new = waker.clone();
        let old = {
            let mut waiters = node.waiters.borrow_mut();
            match key.and_then(|k| waiters.get_mut(k)) {
                Some(slot) => Some(mem::replace(slot, new)),
                None => {
                    *key = Some(waiters.insert(new));
                    None
                }
            }
        };
        drop(old);
    }
    Poll::Pending
}

/// Removes a `cancelled` future's waker, if it has one.
fn drop_wait(node: &Node, key: &mut Option<usize>) {
    if let Some(k) = key.take() {
        // After a cancel the slab is empty for good: `try_remove` finds
        // nothing. Before it, `k` is this future's own entry.
        let old = node.waiters.borrow_mut().try_remove(k);
        drop(old);
    }
}

/// The future of [`CancellationToken::cancelled`].
#[must_use = "futures do nothing unless polled"]
pub struct WaitForCancellationFuture<'a> {
    token: &'a CancellationToken,
    key: Option<usize>,
}

impl Future for WaitForCancellationFuture<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        poll_wait(&this.token.node, &mut this.key, cx)
    }
}

impl Drop for WaitForCancellationFuture<'_> {
    fn drop(&mut self) {
        drop_wait(&self.token.node, &mut self.key);
    }
}

impl fmt::Debug for WaitForCancellationFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForCancellationFuture").finish()
    }
}

/// The future of [`CancellationToken::cancelled_owned`].
#[must_use = "futures do nothing unless polled"]
pub struct WaitForCancellationFutureOwned {
    token: CancellationToken,
    key: Option<usize>,
}

impl Future for WaitForCancellationFutureOwned {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        poll_wait(&this.token.node, &mut this.key, cx)
    }
}

impl Drop for WaitForCancellationFutureOwned {
    fn drop(&mut self) {
        drop_wait(&self.token.node, &mut self.key);
    }
}

impl fmt::Debug for WaitForCancellationFutureOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForCancellationFutureOwned").finish()
    }
}

/// Cancels its token when dropped, unless [disarmed](Self::disarm)
/// ([`CancellationToken::drop_guard`]).
#[derive(Debug)]
#[must_use = "the token is cancelled when the guard is dropped"]
pub struct DropGuard {
    /// `None` only once disarmed.
    token: Option<CancellationToken>,
}

impl DropGuard {
    /// Returns the token without cancelling it.
    pub fn disarm(mut self) -> CancellationToken {
        self.token
            .take()
            .expect("a DropGuard holds its token until disarmed")
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            token.cancel();
        }
    }
}

/// [`DropGuard`] borrowing its token ([`CancellationToken::drop_guard_ref`]).
#[derive(Debug)]
#[must_use = "the token is cancelled when the guard is dropped"]
pub struct DropGuardRef<'a> {
    /// `None` only once disarmed.
    token: Option<&'a CancellationToken>,
}

impl<'a> DropGuardRef<'a> {
    /// Returns the token without cancelling it.
    pub fn disarm(mut self) -> &'a CancellationToken {
        self.token
            .take()
            .expect("a DropGuardRef holds its token until disarmed")
    }
}

impl Drop for DropGuardRef<'_> {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            token.cancel();
        }
    }
}

/// The error of a [cancel scope](CancellationToken::scope) whose token was
/// cancelled, and the inner error of the I/O it ended.
///
/// Socket operations inside a cancelled scope fail with an [`io::Error`] of
/// kind [`ErrorKind::Other`](io::ErrorKind::Other) that wraps this (the
/// module docs say why that kind); [`Cancelled::is_cause_of`] checks for it.
///
/// ```
/// use std::io;
/// use hearth::task::Cancelled;
///
/// let e: io::Error = Cancelled::new().into();
/// assert_eq!(e.kind(), io::ErrorKind::Other);
/// assert!(Cancelled::is_cause_of(&e));
/// assert!(!Cancelled::is_cause_of(&io::Error::other("something else")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cancelled(());

impl Cancelled {
    /// The error value (for tests, and for layers of your own that end I/O
    /// the way a scope does).
    pub fn new() -> Cancelled {
        Cancelled(())
    }

    /// Returns `true` if `err` is the error of an I/O operation that a
    /// cancel scope ended (kind `Other`, inner error `Cancelled`).
    pub fn is_cause_of(err: &io::Error) -> bool {
        err.kind() == io::ErrorKind::Other && err.get_ref().is_some_and(|e| e.is::<Cancelled>())
    }
}

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the cancellation token in scope was cancelled \
             (hearth::task::CancellationToken::scope)",
        )
    }
}

impl std::error::Error for Cancelled {}

impl From<Cancelled> for io::Error {
    fn from(c: Cancelled) -> io::Error {
        io::Error::other(c)
    }
}

/// What a [`CancelScope`] provides: the expiry signal waits register with,
/// and its effective token.
struct ScopeLayer {
    expiry: Expiry,
    /// The token itself until the first poll; then, inside another scope or
    /// a deadline, a child of it that the scope also cancels when the outer
    /// one is cancelled.
    token: CancellationToken,
}

impl Provider for ScopeLayer {
    #[inline]
    fn provide<'a>(&'a self, request: &mut Request<'a>) {
        self.expiry.provide(request);
        request.provide_ref::<CancellationToken>(&self.token);
    }
}

pin_project! {
    /// The future of [`CancellationToken::scope`].
    #[must_use = "futures do nothing unless polled"]
    pub struct CancelScope<F> {
        #[pin]
        future: F,
        layer: ScopeLayer,
        // The wait on the effective token; made on the first poll.
        wait: Option<WaitForCancellationFutureOwned>,
    }
}

impl<F> CancelScope<F> {
    /// The token in scope: the scope's own until the first poll, then its
    /// effective token (see the [module docs](self)).
    pub fn token(&self) -> &CancellationToken {
        &self.layer.token
    }
}

impl<F: Future> Future for CancelScope<F> {
    type Output = Result<F::Output, Cancelled>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let layer: &mut ScopeLayer = this.layer;
        let wait = this.wait.get_or_insert_with(|| {
            // Inside another expiry signal: follow it with a child, so the
            // outer cancellation reaches the token this scope provides
            // without cancelling the caller's token.
            if current_deadline(cx).is_some() {
                layer.token = layer.token.child_token();
            }
            layer.token.clone().cancelled_owned()
        });
        layer.expiry.follow(cx);
        if layer.expiry.cause() == Some(Cause::Cancelled) {
            // Inherited: an outer scope was cancelled. (Only a child can get
            // here: the outer signal exists.)
            layer.token.cancel();
        }
        // Registers to be polled when the effective token is cancelled.
        let _ = Pin::new(wait).poll(cx);
        let layer: &ScopeLayer = layer;
        let mut future = this.future;
        let mut after_cancel = false;
        loop {
            if layer.token.is_cancelled() {
                // Wakes the waits that registered, so the poll below reaches
                // them (they are due in their combinators now) and they fail.
                layer.expiry.expire(Cause::Cancelled);
                after_cancel = true;
            }
            match provide::with(cx, layer, |cx| future.as_mut().poll(cx)) {
                Poll::Ready(v) => return Poll::Ready(Ok(v)),
                Poll::Pending if after_cancel => return Poll::Ready(Err(Cancelled(()))),
                // Cancelled during that poll: once more, with the waits
                // inside failing.
                Poll::Pending if layer.token.is_cancelled() => continue,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<F> fmt::Debug for CancelScope<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelScope")
            .field("token", &self.layer.token)
            .field("ended", &self.layer.expiry.is_expired())
            .finish_non_exhaustive()
    }
}

/// Completes once the token in scope ([`CancellationToken::scope`]) is
/// cancelled; never outside every scope (nothing can cancel it there).
///
/// The token is looked up on the first poll, from the context: code deep
/// inside a scope waits for its cancellation without being passed the
/// token.
///
/// ```
/// use hearth::task::{self, CancellationToken};
///
/// hearth::block_on(async {
///     let token = CancellationToken::new();
///     let out = token
///         .scope(async {
///             hearth::select! {
///                 _ = task::cancelled() => "cancelled",
///                 _ = async { token.cancel(); std::future::pending::<()>().await } => "not",
///             }
///         })
///         .await;
///     // The scope polls its future once more after the cancel: the select
///     // saw it.
///     assert_eq!(out, Ok("cancelled"));
/// });
/// ```
pub async fn cancelled() {
    match current_token().await {
        Some(token) => token.cancelled_owned().await,
        None => pending().await,
    }
}

/// The token in scope ([`CancellationToken::in_scope`]) as a future that
/// completes on its first poll.
///
/// ```
/// use hearth::task::{self, CancellationToken};
///
/// hearth::block_on(async {
///     assert!(task::current_token().await.is_none());
///     let token = CancellationToken::new();
///     let inner = token.scope(task::current_token()).await.unwrap().unwrap();
///     inner.cancel(); // outside nested scopes, it is the scope's token
///     assert!(token.is_cancelled());
/// });
/// ```
pub fn current_token() -> impl Future<Output = Option<CancellationToken>> {
    poll_fn(|cx| Poll::Ready(CancellationToken::in_scope(cx).cloned()))
}
