//! `watch`: one value, many observers that wait for changes.
//!
//! One `Rc<Shared<T>>` holds the value in a `RefCell`, a version counter and
//! two `Event`s: receivers waiting in [`changed`](Receiver::changed), and
//! the sender waiting in [`closed`](Sender::closed). Every receiver remembers
//! the version it saw last; a send bumps the version and wakes the waiting
//! receivers (all of them can proceed, so this is no wake storm).
//!
//! The `Sender` is cloneable, as tokio's: the channel closes (receivers see
//! the end) when the last sender is dropped. A `send_modify` or
//! `send_if_modified` closure that panics leaves its changes in the value but
//! notifies nobody (as tokio documents); the value stays usable.
//!
//! Differences from `tokio::sync::watch`: `!Send`/`!Sync`; a [`Ref`] is a
//! `RefCell` borrow, so sending while a receiver holds one panics (tokio
//! would deadlock) — don't hold a `Ref` across an `.await`.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::ops::Deref;
use std::rc::Rc;

use crate::budget::cooperative;
use crate::wait_list::Event;

/// The errors of a watch channel.
pub mod error {
    use std::fmt;

    /// The receivers are all gone; gives the value back.
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

    /// Every sender is gone.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    pub struct RecvError(pub(super) ());

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("channel closed")
        }
    }

    impl std::error::Error for RecvError {}
}

use error::{RecvError, SendError};

struct Shared<T> {
    value: RefCell<T>,
    /// Bumped by every send.
    version: Cell<u64>,
    /// Every sender is gone.
    closed: Cell<bool>,
    senders: Cell<usize>,
    receivers: Cell<usize>,
    /// Receivers waiting for a new version or the close.
    changed: Event,
    /// The sender waiting for the last receiver to go.
    rx_gone: Event,
}

/// Creates a watch channel holding `init`.
///
/// # Examples
///
/// ```
/// use hearth_sync::watch;
///
/// futures::executor::block_on(async {
///     let (tx, mut rx) = watch::channel("a");
///     tx.send("b").unwrap();
///     rx.changed().await.unwrap();
///     assert_eq!(*rx.borrow_and_update(), "b");
///     drop(tx);
///     assert!(rx.changed().await.is_err());
/// });
/// ```
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let tx = Sender::new(init);
    let rx = tx.subscribe();
    (tx, rx)
}

/// A borrow of the value.
pub struct Ref<'a, T> {
    inner: std::cell::Ref<'a, T>,
    has_changed: bool,
}

impl<T> Ref<'_, T> {
    /// Whether this value was unseen by the receiver that borrowed it.
    pub fn has_changed(&self) -> bool {
        self.has_changed
    }
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Publishes values.
pub struct Sender<T> {
    shared: Rc<Shared<T>>,
}

impl<T> Sender<T> {
    /// A sender without receivers yet (make them with
    /// [`subscribe`](Self::subscribe)); [`send`](Self::send) fails until
    /// there is one, [`send_replace`](Self::send_replace) works.
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth_sync::watch;
    ///
    /// let tx = watch::Sender::new(0);
    /// assert!(tx.send(1).is_err()); // nobody listens
    /// let rx = tx.subscribe();
    /// tx.send(2).unwrap();
    /// assert_eq!(*rx.borrow(), 2);
    /// ```
    pub fn new(init: T) -> Self {
        Sender {
            shared: Rc::new(Shared {
                value: RefCell::new(init),
                version: Cell::new(0),
                closed: Cell::new(false),
                senders: Cell::new(1),
                receivers: Cell::new(0),
                changed: Event::new(),
                rx_gone: Event::new(),
            }),
        }
    }

    /// Replaces the value and notifies the receivers. Fails, giving the value
    /// back, if there are no receivers.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.shared.receivers.get() == 0 {
            return Err(SendError(value));
        }
        self.send_replace(value);
        Ok(())
    }

    /// Replaces the value even without receivers, notifies them, and returns
    /// the old value.
    pub fn send_replace(&self, value: T) -> T {
        let old = self.shared.value.replace(value);
        self.bump();
        old
    }

    /// Modifies the value in place and notifies the receivers (even
    /// without receivers).
    ///
    /// # Panics
    ///
    /// If `modify` panics: the changes it made stay, and nobody is notified.
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        self.send_if_modified(|v| {
            modify(v);
            true
        });
    }

    /// Modifies the value in place; notifies only if `modify` returns `true`,
    /// and returns that.
    ///
    /// # Panics
    ///
    /// If `modify` panics: the changes it made stay, and nobody is notified.
    ///
    /// # Examples
    ///
    /// ```
    /// use hearth_sync::watch;
    ///
    /// let (tx, rx) = watch::channel(1);
    /// assert!(!tx.send_if_modified(|v| if *v % 2 == 0 { *v += 1; true } else { false }));
    /// assert!(!rx.has_changed().unwrap());
    /// assert!(tx.send_if_modified(|v| { *v += 1; true }));
    /// assert!(rx.has_changed().unwrap());
    /// ```
    pub fn send_if_modified(&self, modify: impl FnOnce(&mut T) -> bool) -> bool {
        let modified = modify(&mut self.shared.value.borrow_mut());
        if modified {
            self.bump();
        }
        modified
    }

    fn bump(&self) {
        self.shared.version.set(self.shared.version.get() + 1);
        self.shared.changed.notify_all();
    }

    /// Borrows the value.
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref {
            inner: self.shared.value.borrow(),
            has_changed: false,
        }
    }

    /// A new receiver that has seen the current value.
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.receivers.set(self.shared.receivers.get() + 1);
        Receiver {
            shared: self.shared.clone(),
            version: self.shared.version.get(),
        }
    }

    /// The number of receivers.
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.get()
    }

    /// The number of senders.
    pub fn sender_count(&self) -> usize {
        self.shared.senders.get()
    }

    /// Whether both senders belong to one channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.shared, &other.shared)
    }

    /// Whether every receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.shared.receivers.get() == 0
    }

    /// Waits until every receiver is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn closed(&self) {
        let shared = &self.shared;
        cooperative(shared.rx_gone.wait(|| shared.receivers.get() == 0)).await
    }
}

impl<T> Clone for Sender<T> {
    /// Another sender of the same channel.
    ///
    /// ```
    /// use hearth_sync::watch;
    ///
    /// let (tx, rx) = watch::channel(0);
    /// let tx2 = tx.clone();
    /// drop(tx);
    /// assert!(!rx.is_closed()); // one sender is left
    /// tx2.send(1).unwrap();
    /// drop(tx2);
    /// assert!(rx.is_closed());
    /// ```
    fn clone(&self) -> Self {
        self.shared.senders.set(self.shared.senders.get() + 1);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let n = self.shared.senders.get() - 1;
        self.shared.senders.set(n);
        if n == 0 {
            self.shared.closed.set(true);
            self.shared.changed.notify_all();
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("value", &*self.shared.value.borrow())
            .finish()
    }
}

/// Observes the value. Cloneable; a clone has seen what the original saw.
pub struct Receiver<T> {
    shared: Rc<Shared<T>>,
    /// The version this receiver saw last.
    version: u64,
}

impl<T> Receiver<T> {
    /// Borrows the value without marking it seen.
    pub fn borrow(&self) -> Ref<'_, T> {
        let has_changed = self.shared.version.get() != self.version;
        Ref {
            inner: self.shared.value.borrow(),
            has_changed,
        }
    }

    /// Borrows the value and marks it seen.
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let version = self.shared.version.get();
        let has_changed = version != self.version;
        self.version = version;
        Ref {
            inner: self.shared.value.borrow(),
            has_changed,
        }
    }

    /// Whether a value unseen by this receiver was sent, without marking it
    /// seen.
    ///
    /// Fails if and only if every sender is gone, even if an unseen value
    /// remains (as tokio): [`borrow`](Self::borrow) still reads it, and
    /// [`changed`](Self::changed) still reports it once.
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        if self.shared.closed.get() {
            return Err(RecvError(()));
        }
        Ok(self.shared.version.get() != self.version)
    }

    /// Whether every sender is gone.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.get()
    }

    /// Marks the current value seen.
    pub fn mark_unchanged(&mut self) {
        self.version = self.shared.version.get();
    }

    /// Marks the current value unseen.
    pub fn mark_changed(&mut self) {
        self.version = self.shared.version.get().wrapping_sub(1);
    }

    /// Waits for a value this receiver has not seen, and marks it seen.
    /// Fails once every sender is gone and nothing unseen remains.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        cooperative(self.changed_unbudgeted()).await
    }

    async fn changed_unbudgeted(&mut self) -> Result<(), RecvError> {
        let shared = &self.shared;
        let seen = self.version;
        shared
            .changed
            .wait(|| shared.version.get() != seen || shared.closed.get())
            .await;
        let version = shared.version.get();
        if version == seen {
            return Err(RecvError(()));
        }
        self.version = version;
        Ok(())
    }

    /// Waits until `f` accepts the value (checking the current one first),
    /// marks it seen and returns a borrow of it. Fails if the senders go
    /// first.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn wait_for(&mut self, f: impl FnMut(&T) -> bool) -> Result<Ref<'_, T>, RecvError> {
        cooperative(self.wait_for_unbudgeted(f)).await
    }

    async fn wait_for_unbudgeted(
        &mut self,
        mut f: impl FnMut(&T) -> bool,
    ) -> Result<Ref<'_, T>, RecvError> {
        loop {
            {
                let version = self.shared.version.get();
                if f(&self.shared.value.borrow()) {
                    let has_changed = version != self.version;
                    self.version = version;
                    return Ok(Ref {
                        inner: self.shared.value.borrow(),
                        has_changed,
                    });
                }
                self.version = version;
            }
            self.changed_unbudgeted().await?;
        }
    }

    /// Whether both receivers watch one channel.
    pub fn same_channel(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.shared, &other.shared)
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.set(self.shared.receivers.get() + 1);
        Receiver {
            shared: self.shared.clone(),
            version: self.version,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let n = self.shared.receivers.get() - 1;
        self.shared.receivers.set(n);
        if n == 0 {
            self.shared.rx_gone.notify_all();
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}
