//! `remote`: a multi-producer, single-consumer channel across threads.
//!
//! For the messages one core of a thread-per-core program sends another. The
//! values travel through a lock-free [`ConcurrentQueue`] (bounded or
//! unbounded); the receiver parks on its thread-safe `Waker` (whatever wakes
//! it is on another thread), senders of a bounded channel park on theirs when
//! it is full. Only parking and unparking take a lock.
//!
//! # The wake protocol
//!
//! A receiver that found the queue empty stores its waker, then swaps
//! `rx_parked` to `true` and looks at the queue again. A sender pushes, then
//! swaps `rx_parked` to `false` and wakes the stored waker if it was `true`.
//! Both swaps are read-modify-writes of one atomic, so they are ordered: if
//! the sender's comes second it sees the flag and wakes; if it comes first,
//! the receiver's swap acquires it and its second look sees the value. No
//! wake is lost. Senders parked on a full bounded channel follow the same
//! pattern with the roles swapped: a parking sender registers and increments
//! `parked_senders`, then retries its push; a pop reads `parked_senders` with
//! a read-modify-write and wakes the first parked sender if it is non-zero.
//! A first design ordered plain stores and loads with `SeqCst` fences
//! instead (no read-modify-write on the sender's path); the loom model reported
//! lost wakes for it, so each side now pays one read-modify-write. The loom
//! model `tests/loom_remote.rs` checks the protocol.
//!
//! **Closing.** Dropping the last sender closes the queue and wakes the
//! receiver, which drains what is queued and then sees `None`. Dropping the
//! receiver (or [`Receiver::close`]) closes the queue and wakes every parked
//! sender, whose send fails with the value given back; the receiver's drop
//! drops the queued values, once.
//!
//! **Blocking.** [`Sender::blocking_send`] and [`Receiver::blocking_recv`]
//! serve plain threads (a `spawn_blocking` job, a thread outside the
//! runtime): they poll the same futures with a `Waker` that unparks the
//! calling thread, so the wake protocol above is unchanged. Called on a
//! thread that is running a hearth executor they panic (as tokio's do inside
//! a runtime): blocking there would stall every task of the thread, possibly
//! the one that would unblock it.
//!
//! Differences from `tokio::sync::mpsc` (the closest peer): senders parked on
//! a full channel are woken in FIFO order, but a woken sender that lost the
//! race for the free slot queues again at the back. The blocking methods
//! detect an executor by its cooperative budget
//! ([`hearth_task::coop::is_limited`]): a foreign executor (or hearth's
//! `unconstrained`) sets none, so there they block instead of panicking.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use concurrent_queue::{ConcurrentQueue, PopError, PushError};
use hearth_task::atomic::{AtomicBool, AtomicUsize, Ordering};

#[cfg(loom)]
use loom::sync::{Arc, Mutex, MutexGuard};
#[cfg(not(loom))]
use std::sync::{Arc, Mutex, MutexGuard};

use crate::budget::budgeted;
use crate::unwind::{run_to_end, then_anyway};

pub use crate::mpsc::error::{SendError, TryRecvError, TrySendError};

/// Senders parked on a full channel.
#[derive(Default)]
struct SendWaiters {
    /// `(id, waker)` in arrival order.
    queue: VecDeque<(u64, Waker)>,
    next_id: u64,
}

struct Shared<T> {
    queue: ConcurrentQueue<T>,
    /// Live senders; the last one closes the queue.
    senders: AtomicUsize,
    /// The receiver's waker while it is parked.
    rx_waker: Mutex<Option<Waker>>,
    /// Set by a parking receiver; cleared by whoever wakes it.
    rx_parked: AtomicBool,
    send_waiters: Mutex<SendWaiters>,
    /// `send_waiters.queue.len()`, readable without the lock. Decremented
    /// under the lock, incremented just after it, so it can be off by the
    /// registrations in flight (even wrap below zero for a moment); it only
    /// decides whether a pop looks at the list.
    parked_senders: AtomicUsize,
}

fn lock<W>(m: &Mutex<W>) -> MutexGuard<'_, W> {
    // A panic while holding these locks leaves the data consistent (each
    // critical section is a single push, pop or swap), so poisoning is ignored.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T> Shared<T> {
    fn new(queue: ConcurrentQueue<T>) -> Arc<Self> {
        Arc::new(Shared {
            queue,
            senders: AtomicUsize::new(1),
            rx_waker: Mutex::new(None),
            rx_parked: AtomicBool::new(false),
            send_waiters: Mutex::new(SendWaiters::default()),
            parked_senders: AtomicUsize::new(0),
        })
    }

    /// After a push or a close: wakes the receiver if it is parked.
    fn notify_rx(&self) {
        if self.rx_parked.swap(false, Ordering::AcqRel) {
            let waker = lock(&self.rx_waker).take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }

    /// After a pop from a bounded queue: wakes the first parked sender.
    fn notify_tx(&self) {
        // A read-modify-write, to be ordered with a parking sender's increment.
        if self.parked_senders.fetch_add(0, Ordering::AcqRel) > 0 {
            let waker = {
                let mut waiters = lock(&self.send_waiters);
                let waker = waiters.queue.pop_front();
                if waker.is_some() {
                    self.parked_senders.fetch_sub(1, Ordering::AcqRel);
                }
                waker
            };
            if let Some((_, waker)) = waker {
                waker.wake();
            }
        }
    }

    fn wake_all_senders(&self) {
        let wakers = {
            let mut waiters = lock(&self.send_waiters);
            self.parked_senders
                .fetch_sub(waiters.queue.len(), Ordering::AcqRel);
            std::mem::take(&mut waiters.queue)
        };
        // If a wake panics, the other senders still wake.
        let mut rest = wakers.into_iter();
        run_to_end(|| rest.by_ref().for_each(|(_, waker)| waker.wake()));
    }

    fn close(&self) {
        if self.queue.close() {
            then_anyway(|| self.wake_all_senders(), || self.notify_rx());
        }
    }

    fn add_sender(&self) {
        self.senders.fetch_add(1, Ordering::Relaxed);
    }

    fn drop_sender(&self) {
        if self.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.close();
        }
    }

    fn try_pop(&self) -> Result<T, PopError> {
        let value = self.queue.pop()?;
        if self.queue.capacity().is_some() {
            self.notify_tx();
        }
        Ok(value)
    }

    fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        budgeted(cx, |cx| self.poll_recv_unbudgeted(cx))
    }

    fn poll_recv_unbudgeted(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.try_pop() {
            Ok(value) => return Poll::Ready(Some(value)),
            Err(PopError::Closed) => return Poll::Ready(None),
            Err(PopError::Empty) => {}
        }
        let old = {
            let mut slot = lock(&self.rx_waker);
            match &*slot {
                Some(old) if old.will_wake(cx.waker()) => None,
                _ => slot.replace(cx.waker().clone()),
            }
        };
        // Outside the lock: a waker's drop is user code.
        drop(old);
        self.rx_parked.swap(true, Ordering::AcqRel);
        match self.try_pop() {
            // `rx_parked` stays set: at worst the next send wakes us once
            // for nothing.
            Ok(value) => Poll::Ready(Some(value)),
            Err(PopError::Closed) => Poll::Ready(None),
            Err(PopError::Empty) => Poll::Pending,
        }
    }
}

/// Creates a bounded channel with room for `capacity` values.
///
/// # Panics
///
/// If `capacity` is 0.
///
/// # Examples
///
/// ```
/// use hearth_sync::remote;
///
/// let (tx, mut rx) = remote::channel(16);
/// let producer = std::thread::spawn(move || {
///     futures::executor::block_on(async {
///         for i in 0..100 {
///             tx.send(i).await.unwrap();
///         }
///     })
/// });
/// let sum = futures::executor::block_on(async {
///     let mut sum = 0;
///     while let Some(i) = rx.recv().await {
///         sum += i;
///     }
///     sum
/// });
/// producer.join().unwrap();
/// assert_eq!(sum, 4950);
/// ```
pub fn channel<T: std::marker::Send>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "remote bounded channel requires capacity > 0");
    let shared = Shared::new(ConcurrentQueue::bounded(capacity));
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// Creates an unbounded channel.
///
/// # Examples
///
/// ```
/// use hearth_sync::remote;
///
/// let (tx, mut rx) = remote::unbounded_channel();
/// std::thread::spawn(move || tx.send("hi").unwrap()).join().unwrap();
/// assert_eq!(futures::executor::block_on(rx.recv()), Some("hi"));
/// ```
pub fn unbounded_channel<T: std::marker::Send>() -> (UnboundedSender<T>, Receiver<T>) {
    let shared = Shared::new(ConcurrentQueue::unbounded());
    (
        UnboundedSender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// Sends into a bounded remote channel from any thread. Cloneable.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the channel is full. Fails, giving the
    /// value back, if the receiver closed or is gone.
    ///
    /// # Cancel safety
    ///
    /// A dropped `send` leaves the queue of parked senders (a wake meant for
    /// it passes to the next one) and its value was not sent; the value is
    /// dropped with the future.
    pub fn send(&self, value: T) -> Send<'_, T> {
        Send {
            shared: &self.shared,
            value: Some(value),
            id: None,
        }
    }

    /// Sends `value` if there is room now.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        match self.shared.queue.push(value) {
            Ok(()) => {
                self.shared.notify_rx();
                Ok(())
            }
            Err(PushError::Full(v)) => Err(TrySendError::Full(v)),
            Err(PushError::Closed(v)) => Err(TrySendError::Closed(v)),
        }
    }

    /// Whether the receiver closed or is gone.
    pub fn is_closed(&self) -> bool {
        self.shared.queue.is_closed()
    }

    /// Sends `value` from synchronous code, blocking the thread while the
    /// channel is full. Fails, giving the value back, if the receiver closed
    /// or is gone (also while blocked).
    ///
    /// # Panics
    ///
    /// If called on a thread that is running a hearth executor (see the
    /// [module docs](self)).
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth_sync::remote;
    ///
    /// let (tx, mut rx) = remote::channel(1);
    /// let producer = std::thread::spawn(move || {
    ///     for i in 0..3 {
    ///         tx.blocking_send(i).unwrap();
    ///     }
    /// });
    /// let mut got = Vec::new();
    /// while let Some(i) = rx.blocking_recv() {
    ///     got.push(i);
    /// }
    /// producer.join().unwrap();
    /// assert_eq!(got, [0, 1, 2]);
    /// ```
    #[cfg(not(loom))]
    #[track_caller]
    pub fn blocking_send(&self, value: T) -> Result<(), SendError<T>> {
        blocking::block_on("blocking_send", self.send(value))
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.add_sender();
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.drop_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("remote::Sender")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// The future of [`Sender::send`].
#[must_use = "futures do nothing unless awaited"]
pub struct Send<'a, T> {
    shared: &'a Shared<T>,
    /// The value; taken on completion.
    value: Option<T>,
    /// Our id in `send_waiters` once we parked.
    id: Option<u64>,
}

// The value is never pinned: it is moved into the queue.
impl<T> Unpin for Send<'_, T> {}

impl<T> Send<'_, T> {
    /// Leaves `send_waiters`. Returns whether we were still there (not woken).
    fn unpark(&mut self) -> bool {
        let Some(id) = self.id.take() else {
            return false;
        };
        let mut waiters = lock(&self.shared.send_waiters);
        match waiters.queue.iter().position(|(i, _)| *i == id) {
            Some(pos) => {
                let entry = waiters.queue.remove(pos);
                self.shared.parked_senders.fetch_sub(1, Ordering::AcqRel);
                drop(waiters);
                drop(entry);
                true
            }
            None => false,
        }
    }

    fn poll_unbudgeted(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SendError<T>>> {
        let Some(value) = self.value.take() else {
            unreachable!("checked by poll")
        };
        let value = match self.shared.queue.push(value) {
            Err(PushError::Full(v)) => v,
            pushed => return self.finish(pushed),
        };
        let newly;
        let old = {
            let mut waiters = lock(&self.shared.send_waiters);
            let entry = self
                .id
                .and_then(|id| waiters.queue.iter_mut().find(|(i, _)| *i == id));
            newly = entry.is_none();
            match entry {
                Some((_, w)) if w.will_wake(cx.waker()) => None,
                Some((_, w)) => Some(std::mem::replace(w, cx.waker().clone())),
                None => {
                    let id = waiters.next_id;
                    waiters.next_id += 1;
                    waiters.queue.push_back((id, cx.waker().clone()));
                    self.id = Some(id);
                    None
                }
            }
        };
        // Outside the lock: a waker's drop is user code.
        drop(old);
        // A read-modify-write even when already registered, to be ordered
        // with the pop that frees a slot (see the module docs).
        self.shared
            .parked_senders
            .fetch_add(usize::from(newly), Ordering::AcqRel);
        let pushed = self.shared.queue.push(value);
        self.finish(pushed)
    }

    fn finish(&mut self, pushed: Result<(), PushError<T>>) -> Poll<Result<(), SendError<T>>> {
        match pushed {
            Ok(()) => {
                // The receiver learns of the value even if dropping our
                // stale waker panics.
                let shared = self.shared;
                then_anyway(
                    || {
                        self.unpark();
                    },
                    || shared.notify_rx(),
                );
                Poll::Ready(Ok(()))
            }
            Err(PushError::Closed(v)) => {
                self.unpark();
                Poll::Ready(Err(SendError(v)))
            }
            Err(PushError::Full(v)) => {
                self.value = Some(v);
                Poll::Pending
            }
        }
    }
}

impl<T> Future for Send<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        assert!(
            this.value.is_some(),
            "a send future was polled after it completed"
        );
        budgeted(cx, |cx| this.poll_unbudgeted(cx))
    }
}

impl<T> Drop for Send<'_, T> {
    fn drop(&mut self) {
        if self.id.is_some() && !self.unpark() && self.value.is_some() {
            // Woken for a free slot we will not use: pass the wake on.
            self.shared.notify_tx();
        }
    }
}

impl<T> fmt::Debug for Send<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("remote::Send")
            .field("parked", &self.id.is_some())
            .finish_non_exhaustive()
    }
}

/// Sends into an unbounded remote channel from any thread. Cloneable.
pub struct UnboundedSender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> UnboundedSender<T> {
    /// Sends `value`. Fails, giving it back, if the receiver closed or is
    /// gone.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        match self.shared.queue.push(value) {
            Ok(()) => {
                self.shared.notify_rx();
                Ok(())
            }
            Err(e) => Err(SendError(e.into_inner())),
        }
    }

    /// Whether the receiver closed or is gone.
    pub fn is_closed(&self) -> bool {
        self.shared.queue.is_closed()
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        self.shared.add_sender();
        UnboundedSender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for UnboundedSender<T> {
    fn drop(&mut self) {
        self.shared.drop_sender();
    }
}

impl<T> fmt::Debug for UnboundedSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("remote::UnboundedSender")
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Receives from a remote channel; parks on the task's `Waker`.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// Receives the next value; `None` once the channel is closed (every
    /// sender gone, or [`close`](Self::close)d) and empty.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a value leaves the queue only when the future completes.
    pub async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next value, registering the task's `Waker`.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.shared.poll_recv(cx)
    }

    /// Receives the next value from synchronous code, blocking the thread
    /// until one comes; `None` once the channel is closed and empty.
    ///
    /// # Panics
    ///
    /// If called on a thread that is running a hearth executor (see the
    /// [module docs](self)).
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth_sync::remote;
    ///
    /// let (tx, mut rx) = remote::unbounded_channel();
    /// std::thread::spawn(move || tx.send("hi").unwrap());
    /// assert_eq!(rx.blocking_recv(), Some("hi"));
    /// assert_eq!(rx.blocking_recv(), None); // the sender is gone
    /// ```
    #[cfg(not(loom))]
    #[track_caller]
    pub fn blocking_recv(&mut self) -> Option<T> {
        let shared = &self.shared;
        blocking::block_on(
            "blocking_recv",
            std::future::poll_fn(|cx| shared.poll_recv(cx)),
        )
    }

    /// Receives up to `limit` values into `buffer` from synchronous code,
    /// blocking until at least one comes; returns how many. Returns 0 if
    /// `limit` is 0 or the channel is closed and empty.
    ///
    /// # Panics
    ///
    /// As [`blocking_recv`](Self::blocking_recv).
    #[cfg(not(loom))]
    #[track_caller]
    pub fn blocking_recv_many(&mut self, buffer: &mut Vec<T>, limit: usize) -> usize {
        if limit == 0 {
            return 0;
        }
        let Some(first) = self.blocking_recv() else {
            return 0;
        };
        buffer.push(first);
        let mut n = 1;
        while n < limit {
            match self.shared.try_pop() {
                Ok(value) => buffer.push(value),
                Err(_) => break,
            }
            n += 1;
        }
        n
    }

    /// Receives a value if one is queued.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self.shared.try_pop() {
            Ok(value) => Ok(value),
            Err(PopError::Empty) => Err(TryRecvError::Empty),
            Err(PopError::Closed) => Err(TryRecvError::Disconnected),
        }
    }

    /// Closes the channel: sends fail from now on (parked senders wake);
    /// queued values can still be received.
    pub fn close(&mut self) {
        self.shared.close();
    }

    /// The number of queued values.
    pub fn len(&self) -> usize {
        self.shared.queue.len()
    }

    /// Whether no value is queued.
    pub fn is_empty(&self) -> bool {
        self.shared.queue.is_empty()
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // The values go even if a waker or a value's drop panics.
        let shared = &self.shared;
        then_anyway(
            || shared.close(),
            || run_to_end(|| while shared.queue.pop().is_ok() {}),
        );
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("remote::Receiver")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// Polling a future to completion on a plain thread.
#[cfg(not(loom))]
mod blocking {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    use std::thread::{self, Thread};

    struct Unpark(Thread);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }

    /// Runs `future` on this thread, parking it while the future waits.
    #[track_caller]
    pub(super) fn block_on<F: Future>(what: &str, future: F) -> F::Output {
        assert!(
            !hearth_task::coop::is_limited(),
            "hearth_sync::remote: {what} was called on a thread that is running an async \
             executor; blocking here would stall every task of the thread. Await the async \
             method instead, or call {what} from a thread that runs no executor (a \
             spawn_blocking job)"
        );
        let waker = Waker::from(Arc::new(Unpark(thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            // A wake between the poll and here leaves the token set, so the
            // park returns at once; spurious returns just poll again.
            thread::park();
        }
    }
}
