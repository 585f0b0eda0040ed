//! `ContextExt::local_waker` and `ContextBuilder`.
//!
//! The local waker of a `Context` is found through its `Waker` (the dual-waker
//! protocol of [`raw`](crate::raw)): a dual `Waker` owned by the calling thread
//! yields its twin, any other `Waker` yields itself viewed as a `LocalWaker`.
//! [`ContextBuilder`] attaches a local waker to a `Context` by wrapping the
//! given `Waker` in a small dual header that lives in the builder.

use core::task::{Context, Waker};

use crate::LocalWaker;

/// Access to the local waker of a [`Context`].
///
/// # Examples
///
/// A leaf future that parks on its local waker:
///
/// ```
/// use std::cell::Cell;
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
/// use hearth_task::{ContextExt, LocalWakerSlot};
///
/// /// Completes once `set` was called; parks on the local waker meanwhile.
/// #[derive(Default)]
/// struct Event {
///     set: Cell<bool>,
///     waiter: LocalWakerSlot,
/// }
///
/// impl Event {
///     fn set(&self) {
///         self.set.set(true);
///         self.waiter.wake();
///     }
///     fn wait(&self) -> impl Future<Output = ()> + '_ {
///         std::future::poll_fn(move |cx: &mut Context<'_>| {
///             if self.set.get() {
///                 return Poll::Ready(());
///             }
///             self.waiter.register(ContextExt::local_waker(cx));
///             Poll::Pending
///         })
///     }
/// }
///
/// let event = Event::default();
/// let mut wait = Box::pin(event.wait());
/// let mut cx = Context::from_waker(std::task::Waker::noop());
/// assert!(wait.as_mut().poll(&mut cx).is_pending());
/// event.set();
/// assert!(wait.as_mut().poll(&mut cx).is_ready());
/// ```
///
/// # The `unstable_name_collisions` lint
///
/// std has an unstable inherent `Context::local_waker`. Calling this trait's
/// method as `cx.local_waker()` therefore triggers rustc's
/// `unstable_name_collisions` warning on stable. Call it as
/// `ContextExt::local_waker(cx)`: that form means this method everywhere.
/// With `#![allow(unstable_name_collisions)]` and `cx.local_waker()`, the
/// code changes meaning when std's method becomes callable (with
/// `feature(local_waker)` on nightly, or once stabilised): it then calls
/// std's method, which finds the twin only if the executor set std's field
/// ([`context_from_waker`] does). See the crate docs, "Two methods named
/// `local_waker`".
pub trait ContextExt<'a> {
    /// Returns the local waker of this context.
    ///
    /// This is the twin of the context's `Waker` if it is a hearth dual waker
    /// owned by the calling thread (or a local waker set with
    /// [`ContextBuilder`]), otherwise the `Waker` itself viewed as a
    /// [`LocalWaker`]. With the `nightly` feature a local waker set through
    /// std's own `ContextBuilder` takes precedence.
    ///
    /// Cost: one pointer compare for a foreign `Waker`; for a dual `Waker` one
    /// more thread-local load and compare (why: see [`raw`](crate::raw)). No
    /// atomic read-modify-write, no lock.
    fn local_waker(&self) -> &'a LocalWaker;

    /// Returns the value of type `T` provided to this context: by the
    /// innermost layer that has one ([`provide`](crate::provide)), else by
    /// the runtime's task. `None` without a provider, under a foreign
    /// executor's `Waker`, on a thread other than the provider's, and
    /// without the `std` feature.
    ///
    /// The reference is tied to this borrow of the context, so it cannot
    /// outlive the poll that looked it up (see the module docs of
    /// [`provide`](crate::provide) for why that makes it sound).
    ///
    /// ```
    /// use std::task::{Context, Waker};
    /// use hearth_task::{provide, ContextExt};
    ///
    /// let cx = Context::from_waker(Waker::noop());
    /// assert!(cx.request_ref::<u32>().is_none());
    /// provide::with_value(&cx, &7u32, |cx| assert_eq!(cx.request_ref::<u32>(), Some(&7)));
    /// ```
    fn request_ref<T: ?Sized + 'static>(&self) -> Option<&T>;
}

impl<'a> ContextExt<'a> for Context<'a> {
    #[inline]
    fn local_waker(&self) -> &'a LocalWaker {
        #[cfg(feature = "nightly")]
        {
            let set: &'a LocalWaker = Context::local_waker(self);
            // std's fallback is the `Waker` itself cast to a `LocalWaker`, at
            // the same address. Any other address was set explicitly.
            if !core::ptr::addr_eq(set, self.waker()) {
                return set;
            }
        }
        lookup(self.waker())
    }

    #[inline]
    fn request_ref<T: ?Sized + 'static>(&self) -> Option<&T> {
        #[cfg(feature = "std")]
        {
            crate::provide::request_ref(self.waker())
        }
        #[cfg(not(feature = "std"))]
        {
            None
        }
    }
}

/// Creates a `Context` from a `Waker`, as [`Context::from_waker`] does, for an
/// executor that polls with dual wakers.
///
/// On stable this *is* `Context::from_waker`: the twin travels inside the
/// `Waker` and [`ContextExt::local_waker`] finds it. With the `nightly`
/// feature it also sets std's own local-waker field to the twin (through
/// std's `ContextBuilder`), so std's inherent `Context::local_waker` finds it
/// as well; see the crate docs ("Two methods named `local_waker`") for why
/// an executor must. That costs the twin lookup (a vtable compare and a
/// thread-local load) per call on nightly, nothing on stable.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::task::Waker;
/// use hearth_task::dual::{DualRc, DualWake};
/// use hearth_task::{context_from_waker, ContextExt};
///
/// struct Flag(Cell<bool>);
/// impl DualWake for Flag {
///     type Shared = ();
///     fn wake_local(this: &DualRc<Self>) {
///         this.0.set(true);
///     }
///     fn wake_remote(_: &(), _: &Waker) {}
/// }
///
/// let task = DualRc::new(Flag(Cell::new(false)), ());
/// let waker = task.waker_ref();
/// let cx = context_from_waker(&waker);
/// ContextExt::local_waker(&cx).wake_by_ref(); // the twin: no atomic operation
/// assert!(task.0.get());
/// ```
#[cfg(feature = "std")]
#[inline]
pub fn context_from_waker(waker: &Waker) -> Context<'_> {
    #[cfg(feature = "nightly")]
    {
        core::task::ContextBuilder::from_waker(waker)
            .local_waker(crate::raw::local_waker_of(waker))
            .build()
    }
    #[cfg(not(feature = "nightly"))]
    {
        Context::from_waker(waker)
    }
}

#[inline]
fn lookup(waker: &Waker) -> &LocalWaker {
    #[cfg(feature = "std")]
    {
        crate::raw::local_waker_of(waker)
    }
    #[cfg(not(feature = "std"))]
    {
        crate::view(waker)
    }
}

#[cfg(feature = "std")]
pub use builder::ContextBuilder;

#[cfg(feature = "std")]
mod builder {
    use core::fmt;
    use core::mem::ManuallyDrop;
    use core::ptr;
    use core::task::{Context, RawWaker, Waker};

    use super::ContextExt;
    use crate::provide::Provider;
    use crate::raw::{self, DualHeader, DualVTable};
    use crate::LocalWaker;

    /// Builds a [`Context`] that carries a local waker beside its `Waker`.
    ///
    /// This mirrors std's unstable `core::task::ContextBuilder`. Stable Rust
    /// cannot put a second waker into a `Context`, so the builder wraps the
    /// `Waker` in a dual waker whose twin is your local waker, and that wrapper
    /// lives inside the builder. Deviations from std:
    ///
    /// - [`build`](Self::build) takes `&mut self` and the `Context` borrows the
    ///   builder, so the builder needs a name:
    ///   `let mut b = ContextBuilder::from_waker(&w).local_waker(&lw); let mut cx = b.build();`
    ///   (std: `let mut cx = ContextBuilder::from_waker(&w).local_waker(&lw).build();`).
    /// - [`waker`](Self::waker) after [`from`](Self::from) *resets* the
    ///   inherited local waker (std keeps it). Whoever replaces the `Waker` of
    ///   a context does it to observe the wakes of what it polls (a join, a
    ///   task set); keeping the parent's local waker would let children that
    ///   wake through `cx.local_waker()` bypass the new `Waker` and the wake
    ///   would be lost to it. A local waker set explicitly with
    ///   [`local_waker`](Self::local_waker) is kept.
    /// - [`from_local_waker`](Self::from_local_waker) exists (std has no
    ///   local-only context); no `ext`, but [`provide`](Self::provide) (see
    ///   [`provide`](crate::provide) for why not std's extension).
    /// - A context built [`from`](Self::from) another keeps the other's
    ///   providers ([`ContextExt::request_ref`]), also after
    ///   [`waker`](Self::waker) replaced the `Waker`.
    /// - A clone of the built context's `Waker` is a clone of the `Waker` you
    ///   passed: the twin is a borrow and cannot outlive the builder. To keep
    ///   the twin across clones, use a dual waker ([`DualRc`](crate::dual::DualRc)).
    ///
    /// With the `nightly` feature the same API also sets std's own local waker
    /// field, so `Context::local_waker` (std's) agrees.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::task::Waker;
    /// use hearth_task::{local_waker_fn, ContextBuilder, ContextExt};
    ///
    /// let woken = Rc::new(Cell::new(false));
    /// let w = woken.clone();
    /// let local = local_waker_fn(move || w.set(true));
    ///
    /// let mut builder = ContextBuilder::from_waker(Waker::noop()).local_waker(&local);
    /// let cx = builder.build();
    /// ContextExt::local_waker(&cx).wake_by_ref();
    /// assert!(woken.get());
    /// ```
    pub struct ContextBuilder<'a> {
        waker: Option<&'a Waker>,
        local: Option<&'a LocalWaker>,
        /// The local waker came from [`ContextBuilder::from`], not the user.
        inherited: bool,
        /// The dual wrapper; rewritten by every `build`.
        storage: Option<Storage>,
        /// The `Waker` of the context given to [`ContextBuilder::from`]:
        /// look-ups continue there.
        parent: Option<&'a Waker>,
        /// Values set with [`ContextBuilder::provide`].
        provider: Option<&'a dyn Provider>,
    }

    /// The dual header a built `Context`'s `Waker` points at.
    #[repr(C)]
    struct BuiltHeader {
        header: DualHeader,
        /// The `Waker` the wrapper forwards to; `None` for a local-only context.
        /// Outlives the header: both are borrowed for the builder's `'a`.
        inner: Option<*const Waker>,
        /// Where look-ups continue (null: nowhere); borrowed for `'a`.
        /// Read only through the `*_LINK` vtables.
        parent: *const Waker,
        /// Values for look-ups; borrowed for `'a` (the lifetime is erased).
        /// Read only through the `*_LINK` vtables.
        provider: Option<&'static dyn Provider>,
    }

    struct Storage {
        header: BuiltHeader,
        waker: ManuallyDrop<Waker>,
    }

    impl<'a> ContextBuilder<'a> {
        /// Starts from a `Waker`; the local waker defaults to the one
        /// `Context::from_waker(waker)` would have.
        #[inline]
        pub const fn from_waker(waker: &'a Waker) -> Self {
            ContextBuilder {
                waker: Some(waker),
                local: None,
                inherited: false,
                storage: None,
                parent: None,
                provider: None,
            }
        }

        /// Starts from an existing context, inheriting its `Waker` and local
        /// waker.
        #[inline]
        #[allow(clippy::should_implement_trait)] // std's name; `From` cannot borrow mutably for 'a.
        pub fn from(cx: &'a mut Context<'_>) -> Self {
            let waker: &'a Waker = cx.waker();
            let local: &'a LocalWaker = ContextExt::local_waker(cx);
            ContextBuilder {
                waker: Some(waker),
                local: Some(local),
                inherited: true,
                storage: None,
                parent: Some(waker),
                provider: None,
            }
        }

        /// Starts from a local waker only.
        ///
        /// The built context's `Waker` panics at the first `clone`, `wake` or
        /// `wake_by_ref`, with a message naming the cause and the remedy. Use
        /// it for executors that truly have no thread-safe wake path; futures
        /// that store `cx.waker()` (most of the ecosystem) cannot run under it.
        /// Prefer dual wakers, whose `Waker` costs nothing until used.
        ///
        /// ```should_panic
        /// use hearth_task::{ContextBuilder, LocalWaker};
        ///
        /// let mut builder = ContextBuilder::from_local_waker(LocalWaker::noop());
        /// let cx = builder.build();
        /// let _stored = cx.waker().clone(); // panics: no thread-safe waker
        /// ```
        #[inline]
        pub const fn from_local_waker(local: &'a LocalWaker) -> Self {
            ContextBuilder {
                waker: None,
                local: Some(local),
                inherited: false,
                storage: None,
                parent: None,
                provider: None,
            }
        }

        /// Sets the `Waker`. Resets a local waker inherited through
        /// [`from`](Self::from) (see the type's docs for why); keeps one set
        /// with [`local_waker`](Self::local_waker).
        #[inline]
        pub fn waker(mut self, waker: &'a Waker) -> Self {
            self.waker = Some(waker);
            if self.inherited {
                self.local = None;
                self.inherited = false;
            }
            self
        }

        /// Sets the local waker.
        #[inline]
        pub fn local_waker(mut self, local: &'a LocalWaker) -> Self {
            self.local = Some(local);
            self.inherited = false;
            self
        }

        /// Adds `provider`'s values to the built context: its look-ups
        /// ([`ContextExt::request_ref`]) try them first, then the context
        /// given to [`from`](Self::from), if any.
        ///
        /// ```
        /// use std::task::{Context, Waker};
        /// use hearth_task::provide::Value;
        /// use hearth_task::{ContextBuilder, ContextExt};
        ///
        /// let mut outer = Context::from_waker(Waker::noop());
        /// let mut builder = ContextBuilder::from(&mut outer).provide(&Value(5u8));
        /// let cx = builder.build();
        /// assert_eq!(cx.request_ref::<u8>(), Some(&5));
        /// ```
        #[inline]
        pub fn provide(mut self, provider: &'a dyn Provider) -> Self {
            self.provider = Some(provider);
            self
        }

        /// Builds the `Context`, which borrows the builder.
        ///
        /// Costs nothing beyond `Context::from_waker` when the local waker is
        /// already the one the `Waker` yields (for example `from(cx)` without
        /// changes); otherwise it writes a 40-byte header into the builder.
        pub fn build(&mut self) -> Context<'_> {
            // Look-ups reach the parent's providers through the parent's
            // `Waker` when the context keeps it; any header of ours links to
            // them instead.
            let parent = self.parent.filter(|p| crate::provide::has_provider(p));
            let (waker, local) = match (self.waker, self.local) {
                (Some(waker), None) if parent.is_none() && self.provider.is_none() => {
                    return super::context_from_waker(waker);
                }
                (Some(waker), Some(local))
                    if self.provider.is_none()
                        && parent.is_none_or(|p| ptr::eq(p, waker))
                        && raw::local_waker_of(waker).will_wake(local) =>
                {
                    return from_parts(waker, local);
                }
                (Some(waker), None) => (Some(waker), raw::local_waker_of(waker)),
                (waker, Some(local)) => (waker, local),
                (None, None) => unreachable!("a builder always has a waker or a local waker"),
            };
            self.build_header(waker, local, parent)
        }

        /// Writes a dual header into the builder and builds on it.
        fn build_header(
            &mut self,
            waker: Option<&'a Waker>,
            local: &'a LocalWaker,
            parent: Option<&'a Waker>,
        ) -> Context<'_> {
            let linked = parent.is_some() || self.provider.is_some();
            let vtable = match (waker.is_some(), linked) {
                (true, false) => &FORWARD,
                (false, false) => &LOCAL_ONLY,
                (true, true) => &FORWARD_LINK,
                (false, true) => &LOCAL_ONLY_LINK,
            };
            // SAFETY: only the lifetime is erased; the header that holds it
            // is only reachable through the built `Context`, which borrows
            // the builder, whose `'a` the provider outlives.
            let provider = self.provider.map(|p| unsafe {
                core::mem::transmute::<&'a dyn Provider, &'static dyn Provider>(p)
            });
            // The header's twin is a bitwise view of `local`, which outlives
            // the header (both live for the builder's 'a; the header is only
            // reachable through the returned `Context`, which borrows the
            // builder); the header never drops it. `FORWARD`/`LOCAL_ONLY`
            // are thread-safe and own no counts.
            // SAFETY: the contract of `DualHeader::new`, as shown above.
            let header = unsafe { DualHeader::new(ptr::read(local), vtable) };
            let storage = self.storage.insert(Storage {
                header: BuiltHeader {
                    header,
                    inner: waker.map(|w| w as *const Waker),
                    parent: parent.map_or(ptr::null(), |p| p as *const Waker),
                    provider,
                },
                waker: ManuallyDrop::new(Waker::noop().clone()),
            });
            let header: *const BuiltHeader = &storage.header;
            // A dual waker over the header above, which lives as long as the
            // borrow of `self` the `Context` holds.
            // SAFETY: it owns no count and is never dropped (`ManuallyDrop`), so
            // the vtable's reference rules hold.
            storage.waker =
                ManuallyDrop::new(unsafe { Waker::from_raw(DualHeader::raw_waker(header.cast())) });
            from_parts(&storage.waker, local)
        }
    }

    #[cfg(not(feature = "nightly"))]
    #[inline]
    fn from_parts<'b>(waker: &'b Waker, _local: &'b LocalWaker) -> Context<'b> {
        Context::from_waker(waker)
    }

    #[cfg(feature = "nightly")]
    #[inline]
    fn from_parts<'b>(waker: &'b Waker, local: &'b LocalWaker) -> Context<'b> {
        core::task::ContextBuilder::from_waker(waker)
            .local_waker(local)
            .build()
    }

    impl fmt::Debug for ContextBuilder<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("ContextBuilder")
                .field("waker", &self.waker)
                .field("local_waker", &self.local)
                .finish_non_exhaustive()
        }
    }

    static FORWARD: DualVTable = DualVTable::new(
        forward_clone,
        forward_wake_by_ref,
        forward_wake_by_ref,
        no_op,
    );
    static LOCAL_ONLY: DualVTable =
        DualVTable::new(local_only_clone, local_only_wake, local_only_wake, no_op);
    // `built_provide` hands out references borrowed for the builder's `'a`,
    // which the header (inside the builder) and every borrow of its `Waker`
    // (through the built `Context`) are within.
    // The parent is borrowed for the builder's `'a` too, and the built
    // `Waker` is only ever borrowed from the builder (clones are clones of
    // the inner `Waker`): `DualVTable::linked`'s contract.
    // SAFETY: as above.
    static FORWARD_LINK: DualVTable = unsafe {
        DualVTable::new(
            forward_clone,
            forward_wake_by_ref,
            forward_wake_by_ref,
            no_op,
        )
        .provider(built_provide)
        .linked(built_parent)
    };
    // SAFETY: as for `FORWARD_LINK`.
    static LOCAL_ONLY_LINK: DualVTable = unsafe {
        DualVTable::new(local_only_clone, local_only_wake, local_only_wake, no_op)
            .provider(built_provide)
            .linked(built_parent)
    };

    /// # Safety
    /// `h` is the header of a live `BuiltHeader`, on its owner thread.
    unsafe fn built_provide(h: *const DualHeader, request: &mut crate::provide::Request<'_>) {
        // SAFETY: the header is the first field of `BuiltHeader`.
        if let Some(provider) = unsafe { (*h.cast::<BuiltHeader>()).provider } {
            provider.provide(request);
        }
    }

    /// # Safety
    /// `h` is the header of a live `BuiltHeader`.
    unsafe fn built_parent(h: *const DualHeader, _via: *const Waker) -> *const Waker {
        // SAFETY: the header is the first field of `BuiltHeader`.
        unsafe { (*h.cast::<BuiltHeader>()).parent }
    }

    /// # Safety
    /// `h` is the header of a live `BuiltHeader` with a forwarding `Waker`.
    unsafe fn inner<'x>(h: *const DualHeader) -> &'x Waker {
        // SAFETY: the header is the first field of `BuiltHeader`; `inner` is
        // `Some` for `FORWARD` headers and borrowed for longer than the header.
        unsafe { &*(*h.cast::<BuiltHeader>()).inner.unwrap_unchecked() }
    }

    /// # Safety
    /// As for [`inner`].
    unsafe fn forward_clone(h: *const DualHeader) -> RawWaker {
        // SAFETY: forwarded.
        let clone = ManuallyDrop::new(unsafe { inner(h) }.clone());
        // The clone's count moves into the returned `RawWaker`.
        RawWaker::new(clone.data(), clone.vtable())
    }

    /// # Safety
    /// As for [`inner`]. Also used for `wake`: the built `Waker` is only ever
    /// borrowed (clones are clones of the inner `Waker`), so it owns no count.
    unsafe fn forward_wake_by_ref(h: *const DualHeader) {
        // SAFETY: forwarded.
        unsafe { inner(h) }.wake_by_ref()
    }

    unsafe fn no_op(_: *const DualHeader) {}

    const LOCAL_ONLY_MSG: &str = "this Context was built with hearth_task::ContextBuilder::from_local_waker and has no \
         thread-safe Waker, but a future cloned or woke cx.waker(). Poll such futures with a Context that has a real \
         Waker (ContextBuilder::from_waker(..).local_waker(..), or a hearth dual waker), or make the future use \
         cx.local_waker() (hearth_task::ContextExt)";

    unsafe fn local_only_clone(_: *const DualHeader) -> RawWaker {
        panic!("{LOCAL_ONLY_MSG}")
    }

    unsafe fn local_only_wake(_: *const DualHeader) {
        panic!("{LOCAL_ONLY_MSG}")
    }
}
