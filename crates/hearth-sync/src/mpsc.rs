//! `mpsc`: multi-producer, single-consumer channels for tasks on one thread.
//!
//! # How it works
//!
//! One `Rc<Chan<T>>` holds a `VecDeque` of values, the receiver's
//! waker slot, a sender count and, for a bounded channel, a
//! [`Semaphore`] with one permit per free slot. A bounded send acquires a
//! permit (parking FIFO in the semaphore when the channel is full), then pushes
//! and wakes the receiver; a receive pops and returns the permit, which wakes
//! exactly the next parked sender. An unbounded channel skips the semaphore.
//!
//! **Closing.** [`Receiver::close`] (or dropping the receiver) marks the
//! channel closed and closes the semaphore, which wakes every parked sender
//! with an error that gives its value back; senders waiting in
//! [`Sender::closed`] wake too. Values already queued can still be received
//! after `close`, and so can values sent through permits reserved before it;
//! a `send` or `reserve` that was handed a slot before the close but had not
//! completed yet fails at its next poll and gives the slot back (as tokio).
//! After a close, `recv` returns `None` once the queue is empty and no slot
//! is outstanding, so every slot that comes back wakes the receiver.
//! Dropping the receiver drops the queued values, once. The last sender's
//! drop wakes the receiver, which then sees `None` once the queue is empty.
//!
//! **Wakers.** The receiver parks `cx.local_waker()` in a slot that a send
//! wakes *by reference* and keeps: when the same task parks again (the usual
//! case) it costs a `will_wake` compare, no clone and no drop. The receiver's
//! drop releases the stored waker. Senders park through the semaphore's wait
//! list, which also skips the clone for an unchanged waker.
//!
//! # Differences from `tokio::sync::mpsc`
//!
//! - `!Send`/`!Sync`: for tasks on one thread ([`remote`](crate::remote) is
//!   the cross-thread channel, and has `blocking_send`/`blocking_recv`). No
//!   `blocking_*` methods here: a thread that blocks on a channel whose other
//!   end lives on the same thread would wait forever.
//! - [`Sender::send_timeout`] needs a timer, which this crate (below the
//!   runtime) does not have: it sleeps through the hook of
//!   [`timer`](crate::timer), which hearth's executor installs. Without a
//!   hook (a foreign executor and no [`timer::set_sleep`](crate::timer::set_sleep))
//!   it panics with a message saying so, as tokio's panics outside a runtime
//!   with a timer. The sleep is only made if the channel is full on the first
//!   poll.
//! - `channel(0)` panics, as in tokio.
//! - [`Sender::closed`] spends the cooperative budget (tokio's does not), see
//!   the [crate docs](crate).
//! - [`Permit::send`] after the receiver was *dropped* drops the value at
//!   once (tokio keeps it until the channel is freed).
//! - While a [`Sender::reserve_many`] waits for its whole batch, the slots
//!   already free stay counted in [`Sender::capacity`] (tokio hands them to
//!   the waiter piecemeal); as in tokio, nobody can take them meanwhile (see
//!   the [`Semaphore`] docs).
//!
//! **Weak senders.** [`WeakSender`] and [`WeakUnboundedSender`] count apart
//! from the senders: the receiver sees the end when the last strong sender
//! goes, and from then on `upgrade` fails, as in tokio. The handles are
//! `UnwindSafe` and `RefUnwindSafe` whatever `T` is, as tokio's: the channel
//! stays consistent when user code panics.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use hearth_task::ContextExt;

use crate::budget::{budgeted, cooperative};
use crate::semaphore::{Semaphore, TryAcquireError, Waiter};
use crate::unwind::then_anyway;
use crate::wait_list::{Event, ParkSlot};

/// The errors of the mpsc channels.
pub mod error {
    use std::fmt;

    /// The channel is closed; gives the value back.
    #[derive(PartialEq, Eq, Clone, Copy)]
    pub struct SendError<T>(pub T);

    impl<T> fmt::Debug for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SendError").finish_non_exhaustive()
        }
    }

    impl<T> fmt::Display for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl<T> std::error::Error for SendError<T> {}

    /// The error of `try_send`; gives the value back.
    #[derive(PartialEq, Eq, Clone, Copy)]
    pub enum TrySendError<T> {
        /// The channel is full.
        Full(T),
        /// The receiver closed or is gone.
        Closed(T),
    }

    impl<T> TrySendError<T> {
        /// The value that was not sent.
        pub fn into_inner(self) -> T {
            match self {
                TrySendError::Full(v) | TrySendError::Closed(v) => v,
            }
        }
    }

    impl<T> fmt::Debug for TrySendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TrySendError::Full(_) => f.write_str("Full(..)"),
                TrySendError::Closed(_) => f.write_str("Closed(..)"),
            }
        }
    }

    impl<T> fmt::Display for TrySendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TrySendError::Full(_) => f.write_str("no available capacity"),
                TrySendError::Closed(_) => f.write_str("channel closed"),
            }
        }
    }

    impl<T> std::error::Error for TrySendError<T> {}

    impl<T> From<SendError<T>> for TrySendError<T> {
        fn from(e: SendError<T>) -> Self {
            TrySendError::Closed(e.0)
        }
    }

    /// The error of `Sender::send_timeout`; gives the value back.
    #[derive(PartialEq, Eq, Clone, Copy)]
    pub enum SendTimeoutError<T> {
        /// The channel stayed full until the timeout elapsed.
        Timeout(T),
        /// The receiver closed or is gone.
        Closed(T),
    }

    impl<T> SendTimeoutError<T> {
        /// The value that was not sent.
        pub fn into_inner(self) -> T {
            match self {
                SendTimeoutError::Timeout(v) | SendTimeoutError::Closed(v) => v,
            }
        }
    }

    impl<T> fmt::Debug for SendTimeoutError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                SendTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
                SendTimeoutError::Closed(_) => f.write_str("Closed(..)"),
            }
        }
    }

    impl<T> fmt::Display for SendTimeoutError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                SendTimeoutError::Timeout(_) => f.write_str("timed out waiting on send operation"),
                SendTimeoutError::Closed(_) => f.write_str("channel closed"),
            }
        }
    }

    impl<T> std::error::Error for SendTimeoutError<T> {}

    /// The error of `try_recv`.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub enum TryRecvError {
        /// No value is queued, but senders remain.
        Empty,
        /// No value is queued and none can come.
        Disconnected,
    }

    impl fmt::Display for TryRecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                TryRecvError::Empty => f.write_str("receiving on an empty channel"),
                TryRecvError::Disconnected => f.write_str("receiving on a closed channel"),
            }
        }
    }

    impl std::error::Error for TryRecvError {}
}

use error::{SendError, SendTimeoutError, TryRecvError, TrySendError};

/// The shared state of a channel.
struct Chan<T> {
    /// Queued values, oldest first.
    queue: RefCell<VecDeque<T>>,
    /// The receiver's task while it waits.
    rx_waker: ParkSlot,
    /// Live senders (`Sender`, `UnboundedSender`; permits borrow or own one).
    /// Once 0 it stays 0: a weak sender cannot upgrade any more.
    senders: Cell<usize>,
    /// Live weak senders (`WeakSender`, `WeakUnboundedSender`).
    weak_senders: Cell<usize>,
    /// Set by `Receiver::close` and the receiver's drop.
    rx_closed: Cell<bool>,
    /// Set by the receiver's drop: values sent later are dropped at once.
    rx_gone: Cell<bool>,
    /// Bounded: one permit per free slot. Unused when unbounded.
    sem: Semaphore,
    /// The capacity; `None` for an unbounded channel.
    bound: Option<usize>,
    /// Senders waiting in `closed()`.
    closed_event: Event,
}

// As tokio's channel: a panic (in a waker or a value's drop) leaves the
// channel consistent (see the crate's panic-safety guarantees), so a handle
// used again after `catch_unwind` behaves. `T` is not required to be unwind
// safe: a value is only moved through, never observed half-updated.
impl<T> UnwindSafe for Chan<T> {}
impl<T> RefUnwindSafe for Chan<T> {}

impl<T> Chan<T> {
    fn new(bound: Option<usize>) -> Rc<Self> {
        Rc::new(Chan {
            queue: RefCell::new(VecDeque::new()),
            rx_waker: ParkSlot::new(),
            senders: Cell::new(1),
            weak_senders: Cell::new(0),
            rx_closed: Cell::new(false),
            rx_gone: Cell::new(false),
            sem: Semaphore::new(bound.unwrap_or(0)),
            bound,
            closed_event: Event::new(),
        })
    }

    /// Queues a value whose slot is paid for and wakes the receiver.
    #[inline]
    fn push(&self, value: T) {
        if self.rx_gone.get() {
            // Only a permit can get here after the receiver's drop.
            drop(value);
            return;
        }
        self.queue.borrow_mut().push_back(value);
        self.rx_waker.wake();
    }

    /// Permits handed out and not yet used or returned.
    fn outstanding_permits(&self) -> usize {
        match self.bound {
            Some(cap) => cap - self.sem.available_permits() - self.queue.borrow().len(),
            None => 0,
        }
    }

    /// Whether nothing more can arrive.
    fn is_finished(&self) -> bool {
        self.senders.get() == 0 || (self.rx_closed.get() && self.outstanding_permits() == 0)
    }

    #[inline]
    fn try_pop(&self) -> Option<T> {
        let value = self.queue.borrow_mut().pop_front()?;
        if self.bound.is_some() {
            self.sem.release(1);
        }
        Some(value)
    }

    #[inline]
    fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        budgeted(cx, |cx| self.poll_recv_unbudgeted(cx))
    }

    #[inline]
    fn poll_recv_unbudgeted(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Some(value) = self.try_pop() {
            return Poll::Ready(Some(value));
        }
        if self.is_finished() {
            return Poll::Ready(None);
        }
        self.rx_waker.register(ContextExt::local_waker(cx));
        Poll::Pending
    }

    fn poll_recv_many(&self, cx: &mut Context<'_>, buf: &mut Vec<T>, limit: usize) -> Poll<usize> {
        budgeted(cx, |cx| self.poll_recv_many_unbudgeted(cx, buf, limit))
    }

    fn poll_recv_many_unbudgeted(
        &self,
        cx: &mut Context<'_>,
        buf: &mut Vec<T>,
        limit: usize,
    ) -> Poll<usize> {
        if limit == 0 {
            return Poll::Ready(0);
        }
        let n = {
            let mut queue = self.queue.borrow_mut();
            let n = queue.len().min(limit);
            buf.extend(queue.drain(..n));
            n
        };
        if n > 0 {
            if self.bound.is_some() {
                self.sem.release(n);
            }
            return Poll::Ready(n);
        }
        if self.is_finished() {
            return Poll::Ready(0);
        }
        self.rx_waker.register(ContextExt::local_waker(cx));
        Poll::Pending
    }

    fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.try_pop() {
            Some(value) => Ok(value),
            None if self.is_finished() => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    fn close(&self) {
        if self.rx_closed.replace(true) {
            return;
        }
        // Both groups of waiters wake even if a waker of the first panics.
        then_anyway(|| self.sem.close(), || self.closed_event.notify_all());
    }

    fn drop_receiver(&self) {
        self.rx_gone.set(true);
        // Out of the borrow: the values' drops may use the channel.
        let values = std::mem::take(&mut *self.queue.borrow_mut());
        // Wakers and values run user code: each step runs even if an earlier
        // one panics.
        then_anyway(
            || then_anyway(|| self.close(), || self.rx_waker.clear()),
            || drop(values),
        );
    }

    /// Waits until the receiver closes or is gone.
    async fn closed(&self) {
        cooperative(self.closed_event.wait(|| self.rx_closed.get())).await
    }

    fn add_sender(&self) {
        self.senders.set(self.senders.get() + 1);
    }

    /// A new strong sender from a weak one, unless every sender is gone.
    fn upgrade(&self) -> bool {
        let n = self.senders.get();
        if n == 0 {
            return false;
        }
        self.senders.set(n + 1);
        true
    }

    fn add_weak(&self) {
        self.weak_senders.set(self.weak_senders.get() + 1);
    }

    fn drop_weak(&self) {
        self.weak_senders.set(self.weak_senders.get() - 1);
    }

    fn drop_sender(&self) {
        let n = self.senders.get() - 1;
        self.senders.set(n);
        if n == 0 {
            self.rx_waker.wake();
        }
    }

    /// Polls for a free slot, parking FIFO while the channel is full. Fails
    /// once the receiver closed, even if a slot was granted before the close
    /// (as tokio): the slot goes back at once.
    #[inline]
    fn poll_reserve(&self, waiter: &mut Waiter, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        if self.rx_closed.get() {
            self.cancel_reserve(waiter);
            return Poll::Ready(Err(()));
        }
        self.sem.poll_acquire(waiter, cx).map_err(drop)
    }

    /// Leaves the queue of waiting senders; a slot granted meanwhile passes
    /// to the next one, or, after a close, back to the semaphore, where it
    /// may be the last outstanding slot the receiver waits for.
    fn cancel_reserve(&self, waiter: &mut Waiter) {
        if waiter.is_queued() {
            then_anyway(|| self.sem.cancel(waiter), || self.wake_rx_if_closed());
        }
    }

    /// A permit was given back unused.
    fn return_permit(&self) {
        self.return_permits(1);
    }

    /// `n` permits were given back unused.
    fn return_permits(&self, n: usize) {
        then_anyway(|| self.sem.release(n), || self.wake_rx_if_closed());
    }

    /// After a slot came back: once closed, the receiver may be waiting for
    /// the last outstanding slot to end.
    fn wake_rx_if_closed(&self) {
        if self.rx_closed.get() {
            self.rx_waker.wake();
        }
    }
}

/// Creates a bounded channel with room for `buffer` values.
///
/// # Panics
///
/// If `buffer` is 0 (as tokio) or above [`Semaphore::MAX_PERMITS`].
///
/// # Examples
///
/// ```
/// use hearth_sync::mpsc;
///
/// futures::executor::block_on(async {
///     let (tx, mut rx) = mpsc::channel(1);
///     tx.send(1).await.unwrap();
///     assert!(tx.try_send(2).is_err()); // full
///     assert_eq!(rx.recv().await, Some(1));
///     drop(tx);
///     assert_eq!(rx.recv().await, None);
/// });
/// ```
pub fn channel<T>(buffer: usize) -> (Sender<T>, Receiver<T>) {
    assert!(buffer > 0, "mpsc bounded channel requires buffer > 0");
    let chan = Chan::new(Some(buffer));
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// Creates an unbounded channel.
///
/// # Examples
///
/// ```
/// use hearth_sync::mpsc;
///
/// futures::executor::block_on(async {
///     let (tx, mut rx) = mpsc::unbounded_channel();
///     for i in 0..3 {
///         tx.send(i).unwrap();
///     }
///     let mut buf = Vec::new();
///     assert_eq!(rx.recv_many(&mut buf, 10).await, 3);
///     assert_eq!(buf, [0, 1, 2]);
/// });
/// ```
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let chan = Chan::new(None);
    (
        UnboundedSender { chan: chan.clone() },
        UnboundedReceiver { chan },
    )
}

/// Sends values into a bounded channel. Cloneable.
pub struct Sender<T> {
    chan: Rc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting for room while the channel is full.
    ///
    /// Fails, giving the value back, if the receiver closed or is gone
    /// (also while waiting).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe as far as the channel goes: a dropped `send` leaves the
    /// queue of waiting senders (a slot handed to it passes to the next), and
    /// its value was not sent. The value itself is dropped with the future;
    /// use [`reserve`](Self::reserve) to keep it.
    pub fn send(&self, value: T) -> Send<'_, T> {
        Send {
            chan: &self.chan,
            value: Some(value),
            waiter: Waiter::new(1),
        }
    }

    /// Sends `value` if there is room now.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        if self.chan.rx_closed.get() {
            return Err(TrySendError::Closed(value));
        }
        match self.chan.sem.try_acquire() {
            Ok(permit) => {
                permit.forget();
                self.chan.push(value);
                Ok(())
            }
            Err(TryAcquireError::NoPermits) => Err(TrySendError::Full(value)),
            Err(TryAcquireError::Closed) => Err(TrySendError::Closed(value)),
        }
    }

    /// Waits for room and reserves it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped `reserve` leaves the queue, and a slot handed
    /// to it passes to the next waiter.
    pub async fn reserve(&self) -> Result<Permit<'_, T>, SendError<()>> {
        match Reserve::new(&self.chan, 1).await {
            Ok(()) => Ok(Permit { chan: &self.chan }),
            Err(()) => Err(SendError(())),
        }
    }

    /// Waits for room for `n` values and reserves it, all at once.
    ///
    /// The slots come as a [`PermitIterator`] that yields `n` [`Permit`]s;
    /// the ones not taken go back to the channel when it is dropped. Fails
    /// if the channel is closed, or at once if `n` exceeds the channel's
    /// [`max_capacity`](Self::max_capacity) (it could never fit). `n == 0`
    /// succeeds at once with an empty iterator (unless closed).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`reserve`](Self::reserve): a dropped call loses its
    /// place in the queue and holds no slot.
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth_sync::mpsc;
    ///
    /// futures::executor::block_on(async {
    ///     let (tx, mut rx) = mpsc::channel(2);
    ///     let mut permits = tx.reserve_many(2).await.unwrap();
    ///     assert!(tx.try_send(0).is_err()); // both slots are reserved
    ///     permits.next().unwrap().send(1);
    ///     permits.next().unwrap().send(2);
    ///     assert!(permits.next().is_none());
    ///     assert_eq!(rx.recv().await, Some(1));
    ///     assert_eq!(rx.recv().await, Some(2));
    /// });
    /// ```
    pub async fn reserve_many(&self, n: usize) -> Result<PermitIterator<'_, T>, SendError<()>> {
        if n > self.max_capacity() {
            return Err(SendError(()));
        }
        match Reserve::new(&self.chan, n).await {
            Ok(()) => Ok(PermitIterator {
                chan: &self.chan,
                n,
            }),
            Err(()) => Err(SendError(())),
        }
    }

    /// Reserves room if there is some now.
    pub fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        self.try_take(1)?;
        Ok(Permit { chan: &self.chan })
    }

    /// Reserves room for `n` values if there is that much now (and no
    /// sender is queued before). `Full` if `n` exceeds the capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth_sync::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::channel(3);
    /// let permits = tx.try_reserve_many(2).unwrap();
    /// assert!(tx.try_reserve_many(2).is_err()); // one slot left
    /// for (i, permit) in permits.enumerate() {
    ///     permit.send(i);
    /// }
    /// assert_eq!(rx.try_recv(), Ok(0));
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_reserve_many(&self, n: usize) -> Result<PermitIterator<'_, T>, TrySendError<()>> {
        if n > self.max_capacity() {
            return Err(TrySendError::Full(()));
        }
        self.try_take(n)?;
        Ok(PermitIterator {
            chan: &self.chan,
            n,
        })
    }

    fn try_take(&self, n: usize) -> Result<(), TrySendError<()>> {
        match self.chan.sem.try_take(n) {
            Ok(()) => Ok(()),
            Err(TryAcquireError::NoPermits) => Err(TrySendError::Full(())),
            Err(TryAcquireError::Closed) => Err(TrySendError::Closed(())),
        }
    }

    /// As [`reserve`](Self::reserve), with a permit that owns the sender
    /// (clone it first to keep one). On failure the sender is dropped, as
    /// tokio's. Cancel safe.
    pub async fn reserve_owned(self) -> Result<OwnedPermit<T>, SendError<()>> {
        match Reserve::new(&self.chan, 1).await {
            Ok(()) => Ok(OwnedPermit { sender: Some(self) }),
            Err(()) => Err(SendError(())),
        }
    }

    /// As [`try_reserve`](Self::try_reserve), with a permit that owns the
    /// sender. Gives the sender back in the error.
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth_sync::mpsc::{self, error::TrySendError};
    ///
    /// let (tx, mut rx) = mpsc::channel(1);
    /// let permit = tx.clone().try_reserve_owned().unwrap();
    /// let tx = match tx.try_reserve_owned() {
    ///     Err(TrySendError::Full(tx)) => tx, // the sender comes back
    ///     _ => unreachable!(),
    /// };
    /// permit.send(7);
    /// assert_eq!(rx.try_recv(), Ok(7));
    /// drop(tx);
    /// ```
    pub fn try_reserve_owned(self) -> Result<OwnedPermit<T>, TrySendError<Self>> {
        match self.try_take(1) {
            Ok(()) => Ok(OwnedPermit { sender: Some(self) }),
            Err(TrySendError::Full(())) => Err(TrySendError::Full(self)),
            Err(TrySendError::Closed(())) => Err(TrySendError::Closed(self)),
        }
    }

    /// Sends `value`, waiting at most `timeout` for room.
    ///
    /// Fails with [`SendTimeoutError::Timeout`] if the channel stayed full
    /// that long, with [`SendTimeoutError::Closed`] if the receiver closed or
    /// is gone; both give the value back. The channel is tried before the
    /// timer, so a zero timeout still sends into a channel with room.
    ///
    /// The timer is the one installed in [`timer`](crate::timer) (hearth's
    /// executor installs its own); it is only started if the channel is full
    /// on the first poll.
    ///
    /// # Panics
    ///
    /// If the channel is full on the first poll and no timer is installed.
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Self::send).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use hearth_sync::mpsc::{self, error::SendTimeoutError};
    ///
    /// // A timer that fires at once, for the example; hearth installs its own.
    /// let _ = hearth_sync::timer::set_sleep(|_| Box::pin(async {}));
    /// futures::executor::block_on(async {
    ///     let (tx, mut rx) = mpsc::channel(1);
    ///     tx.send_timeout(1, Duration::from_millis(10)).await.unwrap();
    ///     match tx.send_timeout(2, Duration::from_millis(10)).await {
    ///         Err(SendTimeoutError::Timeout(v)) => assert_eq!(v, 2),
    ///         other => panic!("{other:?}"),
    ///     }
    ///     assert_eq!(rx.recv().await, Some(1));
    /// });
    /// ```
    pub async fn send_timeout(
        &self,
        value: T,
        timeout: Duration,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut reserve = Reserve::new(&self.chan, 1);
        let mut sleep = None;
        // One budgeted operation: with the budget spent, neither the channel
        // nor the timer is touched.
        let reserved = std::future::poll_fn(|cx| {
            budgeted(cx, |cx| {
                if let Poll::Ready(r) = reserve.chan.poll_reserve(&mut reserve.waiter, cx) {
                    return Poll::Ready(Some(r));
                }
                let sleep = sleep.get_or_insert_with(|| crate::timer::sleep(timeout));
                sleep.as_mut().poll(cx).map(|()| None)
            })
        })
        .await;
        match reserved {
            Some(Ok(())) => {
                Permit { chan: &*self.chan }.send(value);
                Ok(())
            }
            Some(Err(())) => Err(SendTimeoutError::Closed(value)),
            None => Err(SendTimeoutError::Timeout(value)),
        }
    }

    /// A [`WeakSender`]: it does not keep the channel open. Once every
    /// `Sender` is gone, the receiver sees the end although weak senders
    /// remain, and they no longer [`upgrade`](WeakSender::upgrade).
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth_sync::mpsc;
    ///
    /// let (tx, mut rx) = mpsc::channel::<u8>(1);
    /// let weak = tx.downgrade();
    /// assert_eq!((tx.strong_count(), tx.weak_count()), (1, 1));
    /// weak.upgrade().unwrap().try_send(1).unwrap();
    /// drop(tx);
    /// assert!(weak.upgrade().is_none());
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert!(rx.try_recv().is_err()); // disconnected
    /// ```
    #[must_use = "downgrade makes a WeakSender and leaves this sender as it is"]
    pub fn downgrade(&self) -> WeakSender<T> {
        self.chan.add_weak();
        WeakSender {
            chan: self.chan.clone(),
        }
    }

    /// The number of [`Sender`]s of the channel.
    pub fn strong_count(&self) -> usize {
        self.chan.senders.get()
    }

    /// The number of [`WeakSender`]s of the channel.
    pub fn weak_count(&self) -> usize {
        self.chan.weak_senders.get()
    }

    /// Waits until the receiver closes or is dropped.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn closed(&self) {
        self.chan.closed().await
    }

    /// Whether the receiver closed or is gone.
    pub fn is_closed(&self) -> bool {
        self.chan.rx_closed.get()
    }

    /// The free slots now.
    pub fn capacity(&self) -> usize {
        self.chan.sem.available_permits()
    }

    /// The channel's capacity.
    pub fn max_capacity(&self) -> usize {
        self.chan.bound.unwrap_or(0)
    }

    /// Whether both senders belong to one channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.chan, &other.chan)
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// The future of [`Sender::send`].
#[must_use = "futures do nothing unless awaited"]
pub struct Send<'a, T> {
    chan: &'a Chan<T>,
    /// The value; taken on completion.
    value: Option<T>,
    waiter: Waiter,
}

// The value is never pinned: it is moved into the queue.
impl<T> Unpin for Send<'_, T> {}

impl<T> Future for Send<'_, T> {
    type Output = Result<(), SendError<T>>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        assert!(
            this.value.is_some(),
            "a send future was polled after it completed"
        );
        budgeted(cx, |cx| this.poll_unbudgeted(cx))
    }
}

impl<T> Send<'_, T> {
    #[inline]
    fn poll_unbudgeted(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SendError<T>>> {
        let Some(value) = self.value.take() else {
            unreachable!("checked by poll")
        };
        match self.chan.poll_reserve(&mut self.waiter, cx) {
            Poll::Ready(Ok(())) => {
                self.chan.push(value);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(())) => Poll::Ready(Err(SendError(value))),
            Poll::Pending => {
                self.value = Some(value);
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Send<'_, T> {
    fn drop(&mut self) {
        self.chan.cancel_reserve(&mut self.waiter);
    }
}

impl<T> fmt::Debug for Send<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Send")
            .field("waiter", &self.waiter)
            .finish_non_exhaustive()
    }
}

/// Waits for `n` slots: the future inside the `reserve*` methods and
/// `send_timeout`.
struct Reserve<'a, T> {
    chan: &'a Chan<T>,
    waiter: Waiter,
}

impl<'a, T> Reserve<'a, T> {
    fn new(chan: &'a Chan<T>, n: usize) -> Self {
        Reserve {
            chan,
            waiter: Waiter::new(n),
        }
    }
}

impl<T> Future for Reserve<'_, T> {
    type Output = Result<(), ()>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        let this = &mut *self;
        budgeted(cx, |cx| this.chan.poll_reserve(&mut this.waiter, cx))
    }
}

impl<T> Drop for Reserve<'_, T> {
    fn drop(&mut self) {
        self.chan.cancel_reserve(&mut self.waiter);
    }
}

/// A reserved slot of a bounded channel; returned if dropped unused.
pub struct Permit<'a, T> {
    chan: &'a Chan<T>,
}

impl<T> Permit<'_, T> {
    /// Sends `value` into the reserved slot; cannot fail.
    pub fn send(self, value: T) {
        let chan = self.chan;
        std::mem::forget(self);
        chan.push(value);
    }
}

impl<T> Drop for Permit<'_, T> {
    fn drop(&mut self) {
        self.chan.return_permit();
    }
}

impl<T> fmt::Debug for Permit<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

/// Slots reserved by [`Sender::reserve_many`] or
/// [`Sender::try_reserve_many`]: yields one [`Permit`] per slot; the slots
/// not taken go back to the channel when it is dropped.
pub struct PermitIterator<'a, T> {
    chan: &'a Chan<T>,
    /// Slots not yet handed out as a `Permit`.
    n: usize,
}

impl<'a, T> Iterator for PermitIterator<'a, T> {
    type Item = Permit<'a, T>;

    fn next(&mut self) -> Option<Permit<'a, T>> {
        if self.n == 0 {
            return None;
        }
        self.n -= 1;
        Some(Permit { chan: self.chan })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.n, Some(self.n))
    }
}

impl<T> ExactSizeIterator for PermitIterator<'_, T> {}
impl<T> std::iter::FusedIterator for PermitIterator<'_, T> {}

impl<T> Drop for PermitIterator<'_, T> {
    fn drop(&mut self) {
        if self.n > 0 {
            self.chan.return_permits(std::mem::take(&mut self.n));
        }
    }
}

impl<T> fmt::Debug for PermitIterator<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PermitIterator")
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}

/// A reserved slot that owns its [`Sender`]; returned if dropped unused.
pub struct OwnedPermit<T> {
    /// Always `Some` until `send` or drop.
    sender: Option<Sender<T>>,
}

impl<T> OwnedPermit<T> {
    /// Sends `value` into the reserved slot and gives the sender back.
    pub fn send(mut self, value: T) -> Sender<T> {
        let sender = self
            .sender
            .take()
            .expect("an owned permit always holds its sender");
        sender.chan.push(value);
        sender
    }

    /// Gives the slot back unused and returns the sender.
    pub fn release(mut self) -> Sender<T> {
        let sender = self
            .sender
            .take()
            .expect("an owned permit always holds its sender");
        sender.chan.return_permit();
        sender
    }

    /// Whether both permits belong to one channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        match (&self.sender, &other.sender) {
            (Some(a), Some(b)) => a.same_channel(b),
            _ => false,
        }
    }

    /// Whether this permit belongs to `sender`'s channel.
    pub fn same_channel_as_sender(&self, sender: &Sender<T>) -> bool {
        self.sender.as_ref().is_some_and(|s| s.same_channel(sender))
    }
}

/// The weak handles: they do not keep the channel open.
macro_rules! weak_sender {
    ($weak:ident, $strong:ident, $what:literal) => {
        #[doc = concat!("A ", $what, " that does not keep the channel open; made by `", stringify!($strong), "::downgrade`.")]
        ///
        /// It counts in neither the channel's senders nor its end: once every
        /// strong sender is gone the receiver sees the end, and
        /// [`upgrade`](Self::upgrade) returns `None` from then on.
        pub struct $weak<T> {
            chan: Rc<Chan<T>>,
        }

        impl<T> $weak<T> {
            #[doc = concat!("A strong `", stringify!($strong), "`, unless every one is gone.")]
            pub fn upgrade(&self) -> Option<$strong<T>> {
                self.chan.upgrade().then(|| $strong {
                    chan: self.chan.clone(),
                })
            }

            /// The number of strong senders of the channel.
            pub fn strong_count(&self) -> usize {
                self.chan.senders.get()
            }

            /// The number of weak senders of the channel.
            pub fn weak_count(&self) -> usize {
                self.chan.weak_senders.get()
            }
        }

        impl<T> Clone for $weak<T> {
            fn clone(&self) -> Self {
                self.chan.add_weak();
                $weak {
                    chan: self.chan.clone(),
                }
            }
        }

        impl<T> Drop for $weak<T> {
            fn drop(&mut self) {
                self.chan.drop_weak();
            }
        }

        impl<T> fmt::Debug for $weak<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($weak))
                    .field("strong_count", &self.strong_count())
                    .finish_non_exhaustive()
            }
        }
    };
}

weak_sender!(WeakSender, Sender, "[`Sender`]");
weak_sender!(WeakUnboundedSender, UnboundedSender, "[`UnboundedSender`]");

impl<T> Drop for OwnedPermit<T> {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            sender.chan.return_permit();
        }
    }
}

impl<T> fmt::Debug for OwnedPermit<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit").finish_non_exhaustive()
    }
}

/// Receives values from a bounded channel.
pub struct Receiver<T> {
    chan: Rc<Chan<T>>,
}

/// The receiving methods, shared by both receivers.
macro_rules! receiver_methods {
    () => {
        /// Receives the next value; `None` once every sender is gone (or the
        /// channel was closed and no permit is outstanding) and the queue is
        /// empty.
        ///
        /// # Cancel safety
        ///
        /// Cancel safe: a value is only taken out of the queue when the
        /// future completes.
        pub fn recv(&mut self) -> Recv<'_, T> {
            Recv { chan: &self.chan }
        }

        /// Receives up to `limit` values into `buffer`, waiting for at least
        /// one; returns how many. Returns 0 if `limit` is 0 or nothing more
        /// can arrive.
        ///
        /// # Cancel safety
        ///
        /// Cancel safe.
        pub async fn recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
            let chan = &self.chan;
            std::future::poll_fn(|cx| chan.poll_recv_many(cx, buffer, limit)).await
        }

        /// Receives a value if one is queued.
        pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
            self.chan.try_recv()
        }

        /// Polls for the next value; registers the task's local waker.
        pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
            self.chan.poll_recv(cx)
        }

        /// Closes the channel: senders fail from now on (and parked ones
        /// wake); queued values can still be received.
        pub fn close(&mut self) {
            self.chan.close();
        }

        /// Whether the channel is closed, or every sender is gone.
        pub fn is_closed(&self) -> bool {
            self.chan.rx_closed.get() || self.chan.senders.get() == 0
        }

        /// The number of queued values.
        pub fn len(&self) -> usize {
            self.chan.queue.borrow().len()
        }

        /// Whether no value is queued.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }

        /// The number of live senders.
        pub fn sender_strong_count(&self) -> usize {
            self.chan.senders.get()
        }

        /// The number of live weak senders.
        pub fn sender_weak_count(&self) -> usize {
            self.chan.weak_senders.get()
        }

        /// Polls for up to `limit` values into `buffer`, as
        /// [`recv_many`](Self::recv_many); registers the task's local waker.
        pub fn poll_recv_many(
            &mut self,
            cx: &mut Context<'_>,
            buffer: &mut Vec<T>,
            limit: usize,
        ) -> Poll<usize> {
            self.chan.poll_recv_many(cx, buffer, limit)
        }
    };
}

impl<T> Receiver<T> {
    receiver_methods!();

    /// The channel's capacity.
    pub fn max_capacity(&self) -> usize {
        self.chan.bound.unwrap_or(0)
    }

    /// The free slots now.
    pub fn capacity(&self) -> usize {
        self.chan.sem.available_permits()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.drop_receiver();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// The future of `recv`.
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a, T> {
    chan: &'a Chan<T>,
}

impl<T> Future for Recv<'_, T> {
    type Output = Option<T>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.chan.poll_recv(cx)
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recv").finish_non_exhaustive()
    }
}

/// Sends values into an unbounded channel. Cloneable.
pub struct UnboundedSender<T> {
    chan: Rc<Chan<T>>,
}

impl<T> UnboundedSender<T> {
    /// Sends `value` without waiting. Fails, giving it back, if the receiver
    /// closed or is gone.
    #[inline]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.chan.rx_closed.get() {
            return Err(SendError(value));
        }
        self.chan.push(value);
        Ok(())
    }

    /// Waits until the receiver closes or is dropped. Cancel safe.
    pub async fn closed(&self) {
        self.chan.closed().await
    }

    /// Whether the receiver closed or is gone.
    pub fn is_closed(&self) -> bool {
        self.chan.rx_closed.get()
    }

    /// Whether both senders belong to one channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.chan, &other.chan)
    }

    /// A [`WeakUnboundedSender`]: it does not keep the channel open.
    #[must_use = "downgrade makes a WeakUnboundedSender and leaves this sender as it is"]
    pub fn downgrade(&self) -> WeakUnboundedSender<T> {
        self.chan.add_weak();
        WeakUnboundedSender {
            chan: self.chan.clone(),
        }
    }

    /// The number of [`UnboundedSender`]s of the channel.
    pub fn strong_count(&self) -> usize {
        self.chan.senders.get()
    }

    /// The number of [`WeakUnboundedSender`]s of the channel.
    pub fn weak_count(&self) -> usize {
        self.chan.weak_senders.get()
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        self.chan.add_sender();
        UnboundedSender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for UnboundedSender<T> {
    fn drop(&mut self) {
        self.chan.drop_sender();
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedSender")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Receives values from an unbounded channel.
pub struct UnboundedReceiver<T> {
    chan: Rc<Chan<T>>,
}

impl<T> UnboundedReceiver<T> {
    receiver_methods!();
}

impl<T> Drop for UnboundedReceiver<T> {
    fn drop(&mut self) {
        self.chan.drop_receiver();
    }
}

impl<T> fmt::Debug for UnboundedReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnboundedReceiver")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}
