//! Task-local values that live in the task, read through its context.
//!
//! [`LocalKey::scope`] polls a future with a *layer* around its context that
//! provides the key's value ([`hearth_task::provide`]). A read looks the
//! value up through the context it is given, innermost scope first, so it is
//! found through rebuilt contexts and hearth-future's combinators, and a
//! nested scope of the same key shadows the outer one for its subtree only.
//! No thread-local is read or written, and nothing is swapped in and out
//! around polls (tokio's implementation swaps a thread-local): a panic or a
//! nested poll cannot leave a stale value behind.
//!
//! # Differences from tokio
//!
//! - Reads take the context: [`with`](LocalKey::with)`(cx, f)`,
//!   [`try_with`](LocalKey::try_with)`(cx, f)`, [`get`](LocalKey::get)`(cx)`,
//!   [`try_get`](LocalKey::try_get)`(cx)`; [`sync_scope`](LocalKey::sync_scope)
//!   takes the context and hands the closure the one to use. In an `async`
//!   body, [`LocalKey::get_async`] and [`LocalKey::try_get_async`] read the
//!   value (they complete on their first poll). tokio reads a thread-local
//!   and needs no context.
//! - A value set with `scope` is reachable through any executor (the scope
//!   is a dual waker of its own), but a foreign combinator that makes its
//!   own wakers (`futures::FuturesUnordered`) ends it for its children:
//!   reads there fail with [`AccessError`]. tokio's thread-local reaches
//!   them.
//! - Spawned tasks do not inherit the value, as in tokio.
//! - The value is not in scope while the inner future is *dropped* (tokio
//!   sets it for the drop too): a drop has no context to read it from.
//! - Scopes of the same key nest freely; tokio panics when `sync_scope` is
//!   called inside a `with` of the same key, which cannot happen here
//!   (nothing is borrowed mutably).

use core::fmt;
use core::future::{poll_fn, Future};
use core::pin::Pin;
use core::task::{Context, Poll};

use hearth_task::provide;

/// Declares task-local keys ([`LocalKey`]), as tokio's `task_local!`.
///
/// ```
/// hearth::task_local! {
///     pub static REQUEST_ID: u64;
///     static USER: String;
/// }
///
/// hearth::block_on(REQUEST_ID.scope(7, async {
///     assert_eq!(REQUEST_ID.get_async().await, 7);
///     assert!(USER.try_get_async().await.is_err());
/// }));
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $crate::task_local!($(#[$attr])* $vis static $name: $t);
        $crate::task_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty) => {
        $(#[$attr])*
        $vis static $name: $crate::task::LocalKey<$t> =
            $crate::task::LocalKey::__new(::core::stringify!($name));
    };
}

/// A key for task-local values of type `T`; declare one with
/// [`task_local!`](crate::task_local).
///
/// # Examples
///
/// ```
/// use std::future::poll_fn;
/// use std::task::Poll;
///
/// hearth::task_local! {
///     static DEPTH: u32;
/// }
///
/// hearth::block_on(async {
///     DEPTH
///         .scope(1, async {
///             // Through a combinator, and in a hand-written poll.
///             let (a, b) = hearth::join!(DEPTH.get_async(), poll_fn(|cx| {
///                 Poll::Ready(DEPTH.with(cx, |d| *d))
///             }));
///             assert_eq!((a, b), (1, 1));
///             // A nested scope shadows the value for its future only.
///             assert_eq!(DEPTH.scope(2, DEPTH.get_async()).await, 2);
///             assert_eq!(DEPTH.get_async().await, 1);
///         })
///         .await;
///     // Outside any scope.
///     assert!(DEPTH.try_get_async().await.is_err());
/// });
/// ```
pub struct LocalKey<T: 'static> {
    /// The key's name (for messages). Also makes every key a distinct
    /// non-zero-sized static, so its address identifies it.
    name: &'static str,
    _marker: core::marker::PhantomData<fn() -> T>,
}

/// What a scope provides: the value, tagged with its key.
struct Scoped<T: 'static> {
    key: &'static LocalKey<T>,
    /// `None` once taken with [`TaskLocalFuture::take_value`].
    value: Option<T>,
}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn __new(name: &'static str) -> LocalKey<T> {
        LocalKey {
            name,
            _marker: core::marker::PhantomData,
        }
    }

    /// Polls `future` with `value` as this key's value; the value is dropped
    /// with the returned future (or taken back with
    /// [`TaskLocalFuture::take_value`]).
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture {
            scoped: Scoped {
                key: self,
                value: Some(value),
            },
            future,
        }
    }

    /// Calls `f` with a context in which this key's value is `value`.
    ///
    /// ```
    /// use std::task::{Context, Waker};
    ///
    /// hearth::task_local! {
    ///     static NAME: &'static str;
    /// }
    ///
    /// let cx = Context::from_waker(Waker::noop());
    /// let greeting = NAME.sync_scope(&cx, "ada", |cx| format!("hi {}", NAME.get(cx)));
    /// assert_eq!(greeting, "hi ada");
    /// ```
    pub fn sync_scope<R>(
        &'static self,
        cx: &Context<'_>,
        value: T,
        f: impl FnOnce(&mut Context<'_>) -> R,
    ) -> R {
        let scoped = Scoped {
            key: self,
            value: Some(value),
        };
        provide::with_value(cx, &scoped, f)
    }

    /// The value in scope for `cx`, if any.
    #[inline]
    fn find<'c>(&'static self, cx: &'c Context<'_>) -> Option<&'c T> {
        let me: *const LocalKey<T> = self;
        provide::request_ref_where::<Scoped<T>>(cx.waker(), |s| core::ptr::eq(s.key, me))
            .and_then(|s| s.value.as_ref())
    }

    /// Calls `f` with the value in scope for `cx`, or returns an
    /// [`AccessError`] if there is none.
    #[inline]
    pub fn try_with<R>(
        &'static self,
        cx: &Context<'_>,
        f: impl FnOnce(&T) -> R,
    ) -> Result<R, AccessError> {
        match self.find(cx) {
            Some(v) => Ok(f(v)),
            None => Err(AccessError { key: self.name }),
        }
    }

    /// Calls `f` with the value in scope for `cx`.
    ///
    /// # Panics
    ///
    /// If there is none (see [`try_with`](Self::try_with)).
    #[inline]
    #[track_caller]
    pub fn with<R>(&'static self, cx: &Context<'_>, f: impl FnOnce(&T) -> R) -> R {
        match self.try_with(cx, f) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// A clone of the value in scope for `cx`, or an [`AccessError`].
    #[inline]
    pub fn try_get(&'static self, cx: &Context<'_>) -> Result<T, AccessError>
    where
        T: Clone,
    {
        self.try_with(cx, T::clone)
    }

    /// A clone of the value in scope for `cx`.
    ///
    /// # Panics
    ///
    /// If there is none (see [`try_get`](Self::try_get)).
    #[inline]
    #[track_caller]
    pub fn get(&'static self, cx: &Context<'_>) -> T
    where
        T: Clone,
    {
        self.with(cx, T::clone)
    }

    /// A clone of the value in scope for the task that awaits this; completes
    /// on its first poll.
    ///
    /// # Panics
    ///
    /// If there is none (see [`try_get_async`](Self::try_get_async)).
    pub fn get_async(&'static self) -> impl Future<Output = T>
    where
        T: Clone,
    {
        poll_fn(move |cx| Poll::Ready(self.get(cx)))
    }

    /// A clone of the value in scope for the task that awaits this, or an
    /// [`AccessError`]; completes on its first poll.
    pub fn try_get_async(&'static self) -> impl Future<Output = Result<T, AccessError>>
    where
        T: Clone,
    {
        poll_fn(move |cx| Poll::Ready(self.try_get(cx)))
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A future that polls `F` with a task-local value in scope; see
/// [`LocalKey::scope`].
#[must_use = "futures do nothing unless polled"]
pub struct TaskLocalFuture<T: 'static, F> {
    scoped: Scoped<T>,
    /// Structurally pinned.
    future: F,
}

impl<T: 'static, F> TaskLocalFuture<T, F> {
    /// Takes the value out of the scope; the future then runs without it
    /// (reads fail with [`AccessError`]).
    ///
    /// ```
    /// hearth::task_local! {
    ///     static KEY: u32;
    /// }
    /// let mut fut = Box::pin(KEY.scope(5, async {}));
    /// assert_eq!(fut.as_mut().take_value(), Some(5));
    /// assert_eq!(fut.as_mut().take_value(), None);
    /// ```
    pub fn take_value(self: Pin<&mut Self>) -> Option<T> {
        // SAFETY: only `scoped` is touched, which is never pinned.
        unsafe { self.get_unchecked_mut() }.scoped.value.take()
    }
}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // `future` is structurally pinned: never moved out of a pinned
        // `TaskLocalFuture` (no method gives it out, no `Drop` impl moves
        // it); `scoped` is never pinned.
        // SAFETY: by the above.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        provide::with_value(cx, &this.scoped, |cx| future.poll(cx))
    }
}

impl<T: 'static + fmt::Debug, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskLocalFuture")
            .field("value", &self.scoped.value)
            .finish_non_exhaustive()
    }
}

/// A task-local was read where it has no value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AccessError {
    key: &'static str,
}

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessError")
            .field("key", &self.key)
            .finish()
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task-local value not set: `{}` has no scope around this poll (LocalKey::scope or \
             sync_scope), or a combinator that makes its own wakers (e.g. futures::FuturesUnordered) \
             lies between the scope and the read",
            self.key
        )
    }
}

impl std::error::Error for AccessError {}
