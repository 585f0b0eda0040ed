//! Context that carries more than wakers: typed values a runtime or a layer
//! provides to everything polled under it, without thread-locals.
//!
//! A `Context` cannot gain a field on stable Rust, but a hearth dual `Waker`
//! already points at a header that travels with it (see [`raw`](crate::raw)).
//! The same header carries a *provider*:
//!
//! - A runtime attaches one to its tasks' headers
//!   ([`DualVTable::provider`](crate::raw::DualVTable::provider)): task id,
//!   runtime handle.
//! - A *layer* wraps a context for one poll and adds values for its subtree
//!   only ([`with`], [`with_value`], the [`Provide`] future,
//!   [`ContextBuilder::provide`](crate::ContextBuilder::provide)); look-ups
//!   of anything else fall through to the outer context (Go's
//!   `context.WithValue`).
//! - [`ContextExt::request_ref`] finds a value by type, innermost first.
//!
//! What carries it: `Context::from_waker(cx.waker())` (same `Waker`),
//! [`ContextBuilder::from`](crate::ContextBuilder::from) (also after
//! `.waker(..)`), hearth-future's children (each child's own `Waker` is
//! linked to the parent's context while the combinator polls it, through
//! [`DualVTable::linked`](crate::raw::DualVTable::linked)), and a
//! combinator that wraps its children's contexts with [`with_waker`]. What
//! ends it, correctly: a foreign
//! executor's `Waker`, a combinator that makes its own wakers without
//! linking (`futures::FuturesUnordered`), and any other thread than the one
//! that made the header (the owner check of the twin look-up).
//!
//! # Why a provided reference cannot outlive its poll
//!
//! std's unstable `Context::ext` (rust-lang/rust#123392) returns
//! `&mut dyn Any` with a `'static` bound, set through `ContextBuilder::ext`.
//! A nested poll can `mem::swap` its context's extension with an outer one,
//! or keep a `'static` borrow across polls, which is why that design is
//! stuck. Here:
//!
//! - Look-ups hand out *shared* references only, and
//!   [`request_ref`](ContextExt::request_ref) ties them to the borrow of the
//!   `&Context` they came from. A layer's context only exists inside
//!   [`with`]'s closure (or one poll of [`Provide`]), so its values cannot
//!   escape it: the compiler rejects it (`tests/ui/provided_*`).
//! - A layer's header lives on the stack of the call that made it and
//!   borrows the values and the outer `Waker`; the context built on it
//!   borrows the header. Nothing is swapped into shared state and restored
//!   later, so there is no "restore" a panic or a nested poll could skip.
//! - A runtime's values live in the header's allocation, which any `Waker`
//!   of it keeps alive (the `# Safety` of
//!   [`DualVTable::provider`](crate::raw::DualVTable::provider)).
//! - Values may be `!Sync` (`Cell`, `Rc`): a look-up on any other thread than
//!   the header's owner returns `None`, like the twin look-up.
//!
//! # Examples
//!
//! A layer that provides a value to what it polls, and a leaf that reads it:
//!
//! ```
//! use std::future::{poll_fn, Future};
//! use std::task::{Context, Poll};
//! use hearth_task::provide::{self, Provide};
//! use hearth_task::ContextExt;
//!
//! struct RequestId(u64);
//!
//! /// A leaf deep inside some future: reads the value, whoever provided it.
//! async fn log_line(msg: &str) -> String {
//!     let id = poll_fn(|cx: &mut Context<'_>| {
//!         Poll::Ready(cx.request_ref::<RequestId>().map(|id| id.0))
//!     })
//!     .await;
//!     format!("[{id:?}] {msg}")
//! }
//!
//! let fut = Provide::new(RequestId(7), async { log_line("hello").await });
//! assert_eq!(futures::executor::block_on(fut), "[Some(7)] hello");
//!
//! // Without a layer (or under a foreign executor's `Waker`): `None`.
//! assert_eq!(futures::executor::block_on(log_line("bye")), "[None] bye");
//! ```
//!
//! A wrapping layer in a hand-written future, with the closure form:
//!
//! ```
//! use std::task::{Context, Waker};
//! use hearth_task::{provide, ContextExt};
//!
//! struct Limit(usize);
//! let mut cx = Context::from_waker(Waker::noop());
//! let seen = provide::with_value(&cx, &Limit(3), |cx| {
//!     // Rebuilding the context keeps the value: it travels in the `Waker`.
//!     let rebuilt = Context::from_waker(cx.waker());
//!     rebuilt.request_ref::<Limit>().map(|l| l.0)
//! });
//! assert_eq!(seen, Some(3));
//! assert!(cx.request_ref::<Limit>().is_none()); // only for the subtree
//! ```
//!
//! # With the `nightly` feature
//!
//! std's `Context::ext` cannot carry this: it needs `&mut Context` (a
//! look-up here takes `&Context`), holds one `'static` value rather than a
//! chain of borrowed ones, and `Context::from_waker(cx.waker())` drops it.
//! So the provider always travels in the `Waker`, under `nightly` too; the
//! std extension of a context is neither read nor written.

use core::any::TypeId;
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::pin::Pin;
use core::ptr::{self, NonNull};
use core::task::{Context, Poll, RawWaker, Waker};

use crate::raw::{self, DualHeader, DualVTable};
use crate::{ContextExt, LocalWaker};

/// A runtime's provider hook: offers the values of the header at the first
/// argument to the request. Attach it with
/// [`DualVTable::provider`](crate::raw::DualVTable::provider).
pub type ProvideFn = unsafe fn(*const DualHeader, &mut Request<'_>);

/// A header's link to an outer context: given the header and the address of
/// the `Waker` a look-up came through, the `Waker` the look-up continues with
/// (null: none). Attach it with
/// [`DualVTable::linked`](crate::raw::DualVTable::linked), whose `# Safety`
/// says when a pointer may be returned.
pub type ParentFn = unsafe fn(*const DualHeader, *const Waker) -> *const Waker;

/// A value a runtime's header offers at a fixed offset from itself, read in
/// place by a look-up: see
/// [`DualVTable::fields`](crate::raw::DualVTable::fields).
#[derive(Clone, Copy)]
pub struct Field {
    type_id: TypeId,
    offset: usize,
}

impl Field {
    /// A `T` at `offset` bytes from the header.
    pub const fn new<T: 'static>(offset: usize) -> Field {
        Field {
            type_id: TypeId::of::<T>(),
            offset,
        }
    }
}

impl fmt::Debug for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Field")
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// A typed request for a reference, filled by the first provider that has a
/// value of the requested type.
///
/// This mirrors `core::error::Request` (and the `Provider` API of
/// rust-lang/libs-team#552) for references: a provider calls
/// [`provide_ref`](Self::provide_ref) for each value it has; the request
/// keeps the one whose type matches.
pub struct Request<'a> {
    /// `TypeId::of::<T>()` of the requested `T`.
    type_id: TypeId,
    /// Points at the caller's `Option<&'a T>` for that `T`.
    out: NonNull<()>,
    /// `out` holds `Some`.
    filled: bool,
    /// Invariant in `'a`: a `Request<'long>` must never accept a `&'short T`.
    _marker: PhantomData<fn(&'a ()) -> &'a ()>,
}

impl<'a> Request<'a> {
    fn new<T: ?Sized + 'static>(out: &mut Option<&'a T>) -> Self {
        Request {
            type_id: TypeId::of::<T>(),
            out: NonNull::from(out).cast(),
            filled: false,
            _marker: PhantomData,
        }
    }

    /// Offers `value`; the request keeps it if it asks for a `T` and holds
    /// nothing yet.
    #[inline]
    pub fn provide_ref<T: ?Sized + 'static>(&mut self, value: &'a T) -> &mut Self {
        if !self.filled && self.type_id == TypeId::of::<T>() {
            // SAFETY: `out` points at an `Option<&'a T>` for the `T` with
            // this `TypeId` (`new`), which outlives the request; `'a` is
            // invariant, so `value` lives exactly as long as asked.
            unsafe { *self.out.cast::<Option<&'a T>>().as_ptr() = Some(value) };
            self.filled = true;
        }
        self
    }

    /// Offers the value `f` returns, calling it only if the request asks for
    /// a `T` and holds nothing yet.
    #[inline]
    pub fn provide_ref_with<T: ?Sized + 'static>(
        &mut self,
        f: impl FnOnce() -> &'a T,
    ) -> &mut Self {
        if self.would_be_satisfied_by_ref_of::<T>() {
            self.provide_ref(f());
        }
        self
    }

    /// Returns `true` if a `&T` would fill the request.
    #[inline]
    pub fn would_be_satisfied_by_ref_of<T: ?Sized + 'static>(&self) -> bool {
        !self.filled && self.type_id == TypeId::of::<T>()
    }
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("filled", &self.filled)
            .finish_non_exhaustive()
    }
}

/// Something that provides values by type to a context's look-ups.
///
/// # Examples
///
/// ```
/// use std::task::{Context, Waker};
/// use hearth_task::provide::{self, Provider, Request};
/// use hearth_task::ContextExt;
///
/// struct User { name: String, admin: bool }
///
/// impl Provider for User {
///     fn provide<'a>(&'a self, request: &mut Request<'a>) {
///         request.provide_ref::<str>(&self.name).provide_ref::<bool>(&self.admin);
///     }
/// }
///
/// let user = User { name: "ada".into(), admin: true };
/// let cx = Context::from_waker(Waker::noop());
/// provide::with(&cx, &user, |cx| {
///     assert_eq!(cx.request_ref::<str>(), Some("ada"));
///     assert_eq!(cx.request_ref::<bool>(), Some(&true));
///     assert!(cx.request_ref::<u8>().is_none());
/// });
/// ```
pub trait Provider {
    /// Offers this provider's values to `request`.
    fn provide<'a>(&'a self, request: &mut Request<'a>);
}

/// A single value as a [`Provider`] of `&T`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(transparent)]
pub struct Value<T>(pub T);

impl<T: 'static> Value<T> {
    /// Views `&T` as `&Value<T>`.
    #[inline]
    pub fn from_ref(value: &T) -> &Value<T> {
        // SAFETY: `Value<T>` is `repr(transparent)` over `T`.
        unsafe { &*(value as *const T).cast::<Value<T>>() }
    }
}

impl<T: 'static> Provider for Value<T> {
    #[inline]
    fn provide<'a>(&'a self, request: &mut Request<'a>) {
        request.provide_ref::<T>(&self.0);
    }
}

/// The value of type `T` that the context's `Waker` provides, innermost layer
/// first; `None` if nobody provides one, under a foreign `Waker`, or on a
/// thread other than the provider's.
///
/// This is [`ContextExt::request_ref`]; the reference lives as long as the
/// `Waker` borrow it was found through.
///
/// Cost: a vtable compare for a foreign `Waker`; for a dual one a
/// thread-local load (the owner check), then per layer or runtime provider
/// on the way one owner compare and one call.
#[inline]
pub fn request_ref<T: ?Sized + 'static>(waker: &Waker) -> Option<&T> {
    request_ref_where(waker, |_: &T| true)
}

/// The innermost value of type `T` for which `accept` returns `true`;
/// providers whose `T` is not accepted are skipped, as if they had none.
///
/// For values keyed by more than their type: task-locals of the same type
/// under different keys each find their own.
#[inline(always)]
pub fn request_ref_where<T: ?Sized + 'static>(
    waker: &Waker,
    accept: impl Fn(&T) -> bool,
) -> Option<&T> {
    // The hot paths make no call: a field of the first header (a task's
    // identity) and the single value of a first layer (a task-local scope).
    // The rest of the chain, and providers behind a hook or a
    // `dyn Provider`, are out of line.
    if !raw::is_dual(waker) {
        return None;
    }
    let token = crate::thread::current();
    let h = waker.data().cast::<DualHeader>();
    // SAFETY: invariant 1 of `raw`: a dual `Waker` points at a live header,
    // which outlives the borrow of the `Waker`.
    if !unsafe { &*h }.is_owned_by(token) {
        return None;
    }
    // SAFETY: as above; owner thread (checked).
    if let Some(found) = unsafe { in_place(h, &accept) } {
        return Some(found);
    }
    // A miss ends here, with no call, when nothing follows: not a layer, no
    // link to a parent, and no hook that may answer `T` (a task's header
    // asked for a deadline where none is in scope, on every socket
    // operation).
    // SAFETY: as above.
    let vtable = unsafe { &*h }.vtable();
    if vtable.parent.is_none() && !ptr::eq(vtable, &LAYER) && !vtable.hook_may_provide::<T>() {
        return None;
    }
    walk(waker, token, &accept)
}

/// The values read in place, without a call: the header's fields, and a
/// layer's single value.
///
/// # Safety
/// `h` is the data of a dual `Waker` borrowed for `'w`, on its owner thread.
#[inline(always)]
unsafe fn in_place<'w, T: ?Sized + 'static>(
    h: *const DualHeader,
    accept: &impl Fn(&T) -> bool,
) -> Option<&'w T> {
    // SAFETY: per the contract, a live header.
    let vtable = unsafe { &*h }.vtable();
    for field in vtable.fields {
        if field.type_id == TypeId::of::<T>() {
            // The field's `T` (a `Sized` type, whose `TypeId` `T` has, so `&T` is a thin pointer)
            // lives at `offset` in the header's allocation for as long as the header
            // (`DualVTable::fields`), which outlives the `Waker` borrow; owner thread (the
            // contract).
            // SAFETY: by the above.
            let found = unsafe {
                let at = h.cast::<u8>().add(field.offset);
                *ptr::addr_of!(at).cast::<&T>()
            };
            if accept(found) {
                return Some(found);
            }
        }
    }
    if ptr::eq(vtable, &LAYER) {
        // SAFETY: a `LAYER` header is the first field of a live `Layer`,
        // borrowed for longer than this look-up (`with_layer`).
        let layer = unsafe { &*h.cast::<Layer<'_>>() };
        if let LayerValue::Single(type_id, value) = layer.value {
            if type_id == TypeId::of::<T>() {
                // `T` has the `TypeId` of the `Sized` type the value was
                // given as, so it is that type: `&T` is a thin pointer, and
                // `value` points at a `T` borrowed for longer than the layer.
                // SAFETY: by the above.
                let found = unsafe { *ptr::addr_of!(value).cast::<&T>() };
                if accept(found) {
                    return Some(found);
                }
            }
        }
    }
    None
}

/// The whole look-up chain, innermost first (out of line: the inline part of
/// [`request_ref_where`] tried the first header's in-place values).
///
/// `waker` is a dual `Waker` owned by the thread whose token is `token`.
#[inline(never)]
fn walk<'w, T: ?Sized + 'static>(
    waker: &'w Waker,
    token: usize,
    accept: &impl Fn(&T) -> bool,
) -> Option<&'w T> {
    let mut waker = waker;
    let mut first = true;
    loop {
        // The raw pointer keeps the provenance of the whole allocation the
        // header starts (a layer, a task), which fields and hooks read
        // beyond it.
        let h = waker.data().cast::<DualHeader>();
        // SAFETY: invariant 1 of `raw`: a dual `Waker` points at a live
        // header, which outlives the borrow of the `Waker`.
        let header = unsafe { &*h };
        if !header.is_owned_by(token) {
            return None;
        }
        // The first header's in-place values were tried inline.
        if !first {
            // SAFETY: a live header on its owner thread (checked above).
            if let Some(found) = unsafe { in_place(h, accept) } {
                return Some(found);
            }
        }
        first = false;
        let vtable = header.vtable();
        if ptr::eq(vtable, &LAYER) {
            // SAFETY: a `LAYER` header is the first field of a live `Layer`,
            // borrowed for longer than this look-up (`with_layer`).
            let layer = unsafe { &*h.cast::<Layer<'_>>() };
            if let LayerValue::Dyn(provider) = layer.value {
                if let Some(found) = ask_dyn(provider, accept) {
                    return Some(found);
                }
            }
            if layer.parent.is_null() {
                return None;
            }
            // SAFETY: a layer's parent is borrowed for longer than the layer.
            waker = unsafe { &*layer.parent };
            if !raw::is_dual(waker) {
                return None;
            }
            continue;
        }
        if let Some(provide) = vtable.provide.filter(|_| vtable.hook_may_provide::<T>()) {
            // SAFETY: owner thread, header alive and not released (checked
            // above); the hook's references outlive the header (its
            // `# Safety`), and the header outlives the `Waker` borrow.
            if let Some(found) = unsafe { ask_hook(provide, h, accept) } {
                return Some(found);
            }
        }
        let parent = vtable.parent?;
        // Owner thread (checked above); `waker` is a `Waker` whose data is
        // `h`, borrowed for this look-up. A non-null result is a `Waker`
        // that outlives every borrow of `waker` (the safety contract of
        // `DualVTable::linked`; layers: their parent is borrowed for longer
        // than the layer).
        // SAFETY: by the above.
        let next = unsafe { parent(h, waker) };
        if next.is_null()
            || !raw::is_dual(
                // SAFETY: non-null parents are live (above).
                unsafe { &*next },
            )
        {
            return None;
        }
        // SAFETY: as above.
        waker = unsafe { &*next };
    }
}

/// Asks a layer's provider for a `T` that `accept` takes.
#[inline(never)]
fn ask_dyn<'p, T: ?Sized + 'static>(
    provider: &'p dyn Provider,
    accept: &impl Fn(&T) -> bool,
) -> Option<&'p T> {
    let mut out: Option<&T> = None;
    let mut request = Request::new::<T>(&mut out);
    provider.provide(&mut request);
    out.filter(|v| accept(v))
}

/// Asks a runtime's provider hook for a `T` that `accept` takes.
///
/// # Safety
/// `h` is a live header with `provide` in its vtable, on its owner thread;
/// the result lives as long as the header (the hook's contract).
#[inline(never)]
unsafe fn ask_hook<'h, T: ?Sized + 'static>(
    provide: ProvideFn,
    h: *const DualHeader,
    accept: &impl Fn(&T) -> bool,
) -> Option<&'h T> {
    let mut out: Option<&T> = None;
    let mut request = Request::new::<T>(&mut out);
    // SAFETY: per the contract.
    unsafe { provide(h, &mut request) };
    out.filter(|v| accept(v))
}

/// Returns `true` if a look-up through `waker` may find something: it is a
/// dual `Waker` owned by this thread with a provider or a layer.
///
/// [`with_waker`] uses it to skip its layer when there is nothing to
/// inherit.
#[inline]
pub fn has_provider(waker: &Waker) -> bool {
    if !raw::is_dual(waker) {
        return false;
    }
    // SAFETY: invariant 1 of `raw`.
    let header = unsafe { &*waker.data().cast::<DualHeader>() };
    let vtable = header.vtable();
    (vtable.provide.is_some() || vtable.parent.is_some() || !vtable.fields.is_empty())
        && header.is_local()
}

/// A layer: the header of a `Context` that adds values to (or only links
/// to) an outer one. Lives on the stack for one call.
#[repr(C)]
struct Layer<'a> {
    /// Twin: a bitwise view of the wrapped context's local waker.
    header: DualHeader,
    /// The `Waker` this layer's `Waker` forwards to.
    inner: *const Waker,
    /// Where look-ups continue (null: nowhere).
    parent: *const Waker,
    /// This layer's own values.
    value: LayerValue<'a>,
}

/// What a layer provides.
#[derive(Clone, Copy)]
enum LayerValue<'a> {
    /// Nothing: a link to the parent only.
    None,
    /// One value: the `TypeId` of its (`Sized`) type, and a pointer to it,
    /// borrowed for `'a`.
    Single(TypeId, NonNull<()>),
    /// A provider.
    Dyn(&'a dyn Provider),
}

// The vtable of layers: `layer_provide` hands out references the layer
// borrows for longer than the layer lives; a layer's `Waker` is only ever
// borrowed from the layer (clones are clones of `inner`).
// SAFETY: the hooks keep `DualVTable::new`'s contract (see above); a layer's
// parent is borrowed for longer than the layer, whose `Waker` is only ever
// borrowed from the layer (`DualVTable::linked`).
static LAYER: DualVTable = unsafe {
    DualVTable::new(
        layer_clone,
        layer_wake_by_ref,
        layer_wake_by_ref,
        layer_drop,
    )
    .provider(layer_provide)
    .linked(layer_parent)
};

/// # Safety
/// `h` is the header of a live `Layer`.
unsafe fn layer<'x>(h: *const DualHeader) -> &'x Layer<'x> {
    // SAFETY: the header is the first field of the `repr(C)` `Layer`.
    unsafe { &*h.cast::<Layer<'x>>() }
}

/// # Safety
/// `h` is the header of a live `Layer`.
unsafe fn layer_clone(h: *const DualHeader) -> RawWaker {
    // SAFETY: `inner` is borrowed for longer than the layer.
    let clone = ManuallyDrop::new(unsafe { &*layer(h).inner }.clone());
    // The clone's count moves into the returned `RawWaker`.
    RawWaker::new(clone.data(), clone.vtable())
}

/// # Safety
/// `h` is the header of a live `Layer`. Also `wake`: a layer's `Waker` is
/// only borrowed, never owned, so it owns no count to consume.
unsafe fn layer_wake_by_ref(h: *const DualHeader) {
    // SAFETY: as in `layer_clone`.
    unsafe { &*layer(h).inner }.wake_by_ref()
}

unsafe fn layer_drop(_: *const DualHeader) {}

/// # Safety
/// `h` is the header of a live `Layer`, on its owner thread.
unsafe fn layer_provide(h: *const DualHeader, request: &mut Request<'_>) {
    // `request_ref_where` reads layers in place; this hook serves only a
    // look-up that starts from the raw vtable. The provider is borrowed for
    // longer than the layer, and the request's lifetime is within the
    // layer's `Waker` borrow.
    // SAFETY: per the contract, `h` is a live layer's header.
    if let LayerValue::Dyn(provider) = unsafe { layer(h) }.value {
        provider.provide(request);
    }
}

/// # Safety
/// `h` is the header of a live `Layer`.
unsafe fn layer_parent(h: *const DualHeader, _via: *const Waker) -> *const Waker {
    // SAFETY: per the contract.
    unsafe { layer(h) }.parent
}

/// Polls `f` with a context whose `Waker` forwards to `inner`, whose local
/// waker is `local`, and whose look-ups try `provider` then `parent`.
#[inline]
fn with_layer<R>(
    inner: &Waker,
    local: &LocalWaker,
    parent: Option<&Waker>,
    value: LayerValue<'_>,
    f: impl FnOnce(&mut Context<'_>) -> R,
) -> R {
    // The twin is a bitwise view of `local`, which outlives the layer (both
    // are borrowed for this call); the header never drops it. `LAYER`'s
    // waker functions forward to `inner` (thread-safe) and own no count.
    // SAFETY: the contract of `DualHeader::new`, as shown above.
    let header = unsafe { DualHeader::new(ptr::read(local), &LAYER) };
    let layer = Layer {
        header,
        inner,
        parent: parent.map_or(ptr::null(), |p| p as *const Waker),
        value,
    };
    // From the whole layer: the hooks read its other fields through `h`.
    let h: *const DualHeader = ptr::addr_of!(layer).cast();
    // SAFETY: a dual `Waker` over the layer above, which outlives it (both
    // are locals of this call; the `Context` borrows the `Waker`). It owns
    // no count and is never dropped.
    let waker = ManuallyDrop::new(unsafe { Waker::from_raw(DualHeader::raw_waker(h)) });
    let mut cx = context_from_parts(&waker, local);
    f(&mut cx)
}

#[cfg(not(feature = "nightly"))]
#[inline]
fn context_from_parts<'b>(waker: &'b Waker, _local: &'b LocalWaker) -> Context<'b> {
    Context::from_waker(waker)
}

#[cfg(feature = "nightly")]
#[inline]
fn context_from_parts<'b>(waker: &'b Waker, local: &'b LocalWaker) -> Context<'b> {
    core::task::ContextBuilder::from_waker(waker)
        .local_waker(local)
        .build()
}

/// Calls `f` with a context that wraps `cx` and adds `provider`'s values for
/// whatever `f` polls; every other look-up falls through to `cx`.
///
/// The wrapped context has the same `Waker` behaviour (clones are clones of
/// `cx.waker()`, wakes go to it) and the same local waker as `cx`.
///
/// # Examples
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
/// use hearth_task::provide::{self, Value};
///
/// struct Tenant(&'static str);
///
/// /// Polls its inner future with a tenant in scope (a hand-made `Provide`).
/// struct WithTenant<F>(Pin<Box<F>>, Value<Tenant>);
///
/// impl<F: Future> Future for WithTenant<F> {
///     type Output = F::Output;
///     fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
///         let this = self.get_mut();
///         provide::with(cx, &this.1, |cx| this.0.as_mut().poll(cx))
///     }
/// }
/// # let fut = WithTenant(Box::pin(async { 1 }), Value(Tenant("a")));
/// # assert_eq!(futures::executor::block_on(fut), 1);
/// ```
#[inline]
pub fn with<R>(
    cx: &Context<'_>,
    provider: &dyn Provider,
    f: impl FnOnce(&mut Context<'_>) -> R,
) -> R {
    let waker = cx.waker();
    with_layer(
        waker,
        ContextExt::local_waker(cx),
        Some(waker),
        LayerValue::Dyn(provider),
        f,
    )
}

/// [`with`] for a single value: look-ups of `T` inside `f` find `value`.
#[inline]
pub fn with_value<T: 'static, R>(
    cx: &Context<'_>,
    value: &T,
    f: impl FnOnce(&mut Context<'_>) -> R,
) -> R {
    let waker = cx.waker();
    with_layer(
        waker,
        ContextExt::local_waker(cx),
        Some(waker),
        LayerValue::Single(TypeId::of::<T>(), NonNull::from(value).cast()),
        f,
    )
}

/// Calls `f` with a context for `waker` (a child's own `Waker`) whose
/// look-ups continue in `parent`: what a combinator does to let its children
/// see the providers above it.
///
/// When `parent` has nothing to inherit ([`has_provider`] is false), this is
/// `Context::from_waker(waker)` and costs nothing more. Otherwise the child's
/// context gets a small layer on the stack: its `Waker` forwards to `waker`
/// (clones are clones of `waker`), its local waker is `waker`'s.
///
/// The layer's `Waker` is not `waker`, so a child that keeps its waker while
/// it [`will_wake`](Waker::will_wake)s clones it again on every poll. A
/// combinator whose children's wakers are dual headers of its own does
/// better with [`DualVTable::linked`](crate::raw::DualVTable::linked), as
/// hearth-future's do: the child sees its own `Waker`, and look-ups hop to
/// the parent through the header.
///
/// # Examples
///
/// ```
/// use std::task::{Context, Waker};
/// use hearth_task::{provide, ContextExt};
///
/// let child_waker = Waker::noop(); // a combinator's waker for one child
/// let cx = Context::from_waker(Waker::noop());
/// provide::with_value(&cx, &42u32, |cx| {
///     provide::with_waker(child_waker, cx, |child_cx| {
///         assert_eq!(child_cx.request_ref::<u32>(), Some(&42));
///     });
/// });
/// ```
#[inline]
pub fn with_waker<R>(
    waker: &Waker,
    parent: &Context<'_>,
    f: impl FnOnce(&mut Context<'_>) -> R,
) -> R {
    if has_provider(parent.waker()) {
        with_layer(
            waker,
            raw::local_waker_of(waker),
            Some(parent.waker()),
            LayerValue::None,
            f,
        )
    } else {
        f(&mut Context::from_waker(waker))
    }
}

/// A future that polls `F` with `P`'s values in scope (a [`with`] around
/// every poll).
///
/// # Examples
///
/// ```
/// use std::future::poll_fn;
/// use std::task::Poll;
/// use hearth_task::provide::{Provide, Value};
/// use hearth_task::ContextExt;
///
/// struct Deadline(u64);
/// let fut = Provide::new(Deadline(30), poll_fn(|cx| {
///     Poll::Ready(cx.request_ref::<Deadline>().map(|d| d.0))
/// }));
/// assert_eq!(futures::executor::block_on(fut), Some(30));
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Provide<F, P> {
    future: F,
    provider: P,
}

impl<F, T: 'static> Provide<F, Value<T>> {
    /// Polls `future` with `value` in scope (a [`Value`] provider).
    pub fn new(value: T, future: F) -> Self {
        Provide {
            future,
            provider: Value(value),
        }
    }
}

impl<F, P: Provider> Provide<F, P> {
    /// Polls `future` with `provider`'s values in scope.
    pub fn with_provider(provider: P, future: F) -> Self {
        Provide { future, provider }
    }

    /// The provider.
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// The future.
    pub fn get_pin_mut(self: Pin<&mut Self>) -> Pin<&mut F> {
        // SAFETY: `future` is structurally pinned: never moved out of a
        // pinned `Provide`, dropped in place with it (no `Drop` impl moves
        // it, no `Unpin` impl exposes it unpinned unless `F: Unpin`).
        unsafe { self.map_unchecked_mut(|p| &mut p.future) }
    }
}

impl<F: Unpin, P> Unpin for Provide<F, P> {}

impl<F: Future, P: Provider> Future for Provide<F, P> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned (see `get_pin_mut`) and
        // `provider` is never pinned (only borrowed shared).
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above: `future` is not moved.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        with(cx, &this.provider, |cx| future.poll(cx))
    }
}

/// A deadline (or cancellation) in scope: what runtimes and primitives below
/// them agree on, so that waits anywhere inside give up once it expired.
///
/// A layer provides one (hearth's `hearth::time::deadline` does, on a timer);
/// a wait that can fail looks it up with [`current_deadline`], fails when
/// it [`is_expired`](Self::is_expired), and otherwise
/// [`register`](Self::register)s its local waker, so it is polled (and
/// fails) when the deadline expires, even deep inside a precise combinator
/// that would not poll it otherwise.
///
/// The innermost deadline is the one in force; a layer that nests in
/// another one takes the earlier of the two (hearth's does).
///
/// # Examples
///
/// ```
/// use std::future::poll_fn;
/// use std::task::Poll;
/// use hearth_task::provide::{current_deadline, Deadline, Provide};
///
/// /// A wait that fails once the deadline in scope expired.
/// async fn wait_forever() -> Result<(), &'static str> {
///     poll_fn(|cx| match current_deadline(cx) {
///         Some(d) if d.is_expired() => Poll::Ready(Err("deadline passed")),
///         Some(d) => {
///             d.register(hearth_task::ContextExt::local_waker(cx));
///             Poll::Pending
///         }
///         None => Poll::Pending,
///     })
///     .await
/// }
///
/// let deadline = Deadline::new();
/// deadline.expire();
/// let out = futures::executor::block_on(Provide::new(deadline, wait_forever()));
/// assert_eq!(out, Err("deadline passed"));
/// ```
#[derive(Default)]
pub struct Deadline {
    /// Set once by `expire`; owner thread only (the type is `!Sync`).
    expired: core::cell::Cell<bool>,
    /// Woken by `expire`; one entry per distinct waker (`will_wake`).
    waiters: core::cell::RefCell<alloc::vec::Vec<LocalWaker>>,
}

impl Deadline {
    /// A deadline that has not expired.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns `true` once [`expire`](Self::expire) was called.
    #[inline]
    pub fn is_expired(&self) -> bool {
        self.expired.get()
    }

    /// Wakes `waker` when the deadline expires (at once if it has).
    ///
    /// A waker that would wake the same task as one registered already is
    /// not added again, so the list holds one entry per waiting task or
    /// combinator child, whatever the number of polls.
    pub fn register(&self, waker: &LocalWaker) {
        if self.is_expired() {
            waker.wake_by_ref();
            return;
        }
        let mut waiters = self.waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(waker)) {
            waiters.push(waker.clone());
        }
    }

    /// Marks the deadline expired and wakes every registered waker, once.
    ///
    /// If a wake panics, the deadline stays expired, every other waker is
    /// still woken, and then the first panic goes on unwinding (later
    /// panics' payloads are dropped).
    pub fn expire(&self) {
        use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

        if self.expired.replace(true) {
            return;
        }
        let waiters = core::mem::take(&mut *self.waiters.borrow_mut());
        let mut first = None;
        for waker in waiters {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
                if first.is_none() {
                    first = Some(payload);
                } else if let Err(nested) = catch_unwind(AssertUnwindSafe(|| drop(payload))) {
                    // A payload whose drop panics: its own payload is
                    // leaked rather than risk a panic in a drop again.
                    core::mem::forget(nested);
                }
            }
        }
        if let Some(payload) = first {
            resume_unwind(payload);
        }
    }

    /// The number of registered wakers (for tests and diagnostics).
    pub fn waiters(&self) -> usize {
        self.waiters.borrow().len()
    }
}

impl fmt::Debug for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deadline")
            .field("expired", &self.is_expired())
            .field("waiters", &self.waiters())
            .finish()
    }
}

/// The [`Deadline`] in scope for `cx`, if any (the innermost one).
#[inline]
pub fn current_deadline<'c>(cx: &'c Context<'_>) -> Option<&'c Deadline> {
    cx.request_ref::<Deadline>()
}
