//! `oneshot`: a channel for a single value between two tasks on one thread.
//!
//! One `Rc` holds the value slot, two flags and one waker slot per side. The
//! receiver parks in `rx_waker`, a sender waiting in
//! [`closed`](Sender::closed) parks in `tx_waker`. The value is dropped exactly
//! once: by the receiver that takes it, by `Receiver`'s drop, or by the
//! `Rc`'s drop.
//!
//! Differences from `tokio::sync::oneshot`: `!Send`/`!Sync`; polling the
//! `Receiver` after it completed returns `Err(RecvError)` instead of
//! panicking; no `blocking_recv`.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use hearth_task::{ContextExt, LocalWakerSlot};

use crate::budget::budgeted;
use crate::unwind::then_anyway;

struct Inner<T> {
    value: Cell<Option<T>>,
    /// The `Sender` is gone (sent or dropped).
    tx_gone: Cell<bool>,
    /// The `Receiver` closed or is gone.
    rx_closed: Cell<bool>,
    rx_waker: LocalWakerSlot,
    tx_waker: LocalWakerSlot,
}

impl<T> Inner<T> {
    /// Whether no value can arrive any more (the slot is checked first): the
    /// sender is gone, or the receiver closed, after which `send` fails.
    fn is_finished(&self) -> bool {
        self.tx_gone.get() || self.rx_closed.get()
    }

    /// Marks the receiver closed and wakes a sender waiting in `closed`.
    fn close_rx(&self) {
        if !self.rx_closed.replace(true) {
            self.tx_waker.wake();
        }
    }
}

/// Creates a oneshot channel.
///
/// # Examples
///
/// ```
/// use hearth_sync::oneshot;
///
/// futures::executor::block_on(async {
///     let (tx, rx) = oneshot::channel();
///     tx.send(7).unwrap();
///     assert_eq!(rx.await, Ok(7));
/// });
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Rc::new(Inner {
        value: Cell::new(None),
        tx_gone: Cell::new(false),
        rx_closed: Cell::new(false),
        rx_waker: LocalWakerSlot::new(),
        tx_waker: LocalWakerSlot::new(),
    });
    (
        Sender {
            inner: inner.clone(),
        },
        Receiver {
            inner,
            terminated: false,
        },
    )
}

/// Sends the value.
pub struct Sender<T> {
    inner: Rc<Inner<T>>,
}

/// Receives the value; a future of `Result<T, RecvError>`.
///
/// # Cancel safety
///
/// Awaiting the receiver is cancel safe in the sense that dropping the future
/// is dropping the receiver: the value, if sent, is dropped with it.
pub struct Receiver<T> {
    inner: Rc<Inner<T>>,
    /// Completed: awaiting it yielded `Ready`, or `try_recv` returned
    /// something other than `Empty`.
    terminated: bool,
}

/// The errors of a oneshot channel.
pub mod error {
    use std::fmt;

    /// No value was sent: the sender was dropped, or the receiver closed
    /// first.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RecvError(pub(super) ());

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl std::error::Error for RecvError {}

    /// The error of [`Receiver::try_recv`](super::Receiver::try_recv).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum TryRecvError {
        /// Nothing was sent yet.
        Empty,
        /// No value can come: the sender was dropped without sending, the
        /// receiver closed first, or the value was taken.
        Closed,
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("channel empty"),
                TryRecvError::Closed => f.write_str("channel closed"),
            }
        }
    }

    impl std::error::Error for TryRecvError {}
}

use error::{RecvError, TryRecvError};

impl<T> Sender<T> {
    /// Sends `value`, waking the receiver. Gives the value back if the
    /// receiver is closed or dropped.
    pub fn send(self, value: T) -> Result<(), T> {
        if self.inner.rx_closed.get() {
            return Err(value);
        }
        self.inner.value.set(Some(value));
        // `Drop` marks the sender gone and wakes the receiver.
        Ok(())
    }

    /// Waits until the receiver is closed or dropped.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn closed(&mut self) {
        std::future::poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Whether the receiver is closed or dropped.
    pub fn is_closed(&self) -> bool {
        self.inner.rx_closed.get()
    }

    /// Polls for the receiver's close; registers the task's local waker.
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let inner = &self.inner;
        budgeted(cx, |cx| {
            if inner.rx_closed.get() {
                return Poll::Ready(());
            }
            inner.tx_waker.register(ContextExt::local_waker(cx));
            Poll::Pending
        })
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.inner.tx_gone.set(true);
        self.inner.rx_waker.wake();
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it was sent.
    ///
    /// `Err(Closed)` once no value can come: the sender is gone, the value
    /// was taken, or [`close`](Self::close) was called before a send.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let result = match self.inner.value.take() {
            Some(value) => Ok(value),
            None if self.inner.is_finished() => Err(TryRecvError::Closed),
            None => return Err(TryRecvError::Empty),
        };
        self.terminated = true;
        result
    }

    /// Whether this receiver completed: awaiting it yielded a result, or
    /// [`try_recv`](Self::try_recv) returned a value or `Closed` (as tokio).
    /// A value sent but not yet received does not terminate it.
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth_sync::oneshot;
    ///
    /// futures::executor::block_on(async {
    ///     let (tx, mut rx) = oneshot::channel();
    ///     assert!(!rx.is_terminated());
    ///     tx.send(1).unwrap();
    ///     assert!(!rx.is_terminated()); // sent, not yet received
    ///     assert_eq!((&mut rx).await, Ok(1));
    ///     assert!(rx.is_terminated());
    /// });
    /// ```
    pub fn is_terminated(&self) -> bool {
        self.terminated
    }

    /// Refuses the value from now on: the sender's `send` fails and awaiting
    /// the receiver (or [`try_recv`](Self::try_recv)) reports the close. A
    /// value sent before the close can still be received.
    pub fn close(&mut self) {
        self.inner.close_rx();
    }

    /// Whether no value waits to be received.
    pub fn is_empty(&self) -> bool {
        let value = self.inner.value.take();
        let empty = value.is_none();
        self.inner.value.set(value);
        empty
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let inner = &this.inner;
        let out = budgeted(cx, |cx| {
            if let Some(value) = inner.value.take() {
                return Poll::Ready(Ok(value));
            }
            if inner.is_finished() {
                return Poll::Ready(Err(RecvError(())));
            }
            inner.rx_waker.register(ContextExt::local_waker(cx));
            Poll::Pending
        });
        if out.is_ready() {
            this.terminated = true;
        }
        out
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // The value goes now even if the sender's waker panics.
        let inner = &self.inner;
        then_anyway(|| inner.close_rx(), || drop(inner.value.take()));
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("sender_gone", &self.inner.tx_gone.get())
            .finish_non_exhaustive()
    }
}
