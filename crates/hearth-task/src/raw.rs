//! The dual-waker protocol, raw form: how a `Waker` carries its local twin.
//!
//! `std::task::Context` cannot gain a field on stable Rust, so the local waker
//! travels inside the `Waker`:
//!
//! - This module owns one private `static` vtable, `DUAL`. A `Waker` whose
//!   `vtable()` is `DUAL` has `data()` pointing at a [`DualHeader`].
//! - The header holds the *twin*: a [`LocalWaker`] value used as a view (the
//!   header never clones or drops it), the owner thread's token, and a
//!   [`DualVTable`] with the thread-safe operations that `DUAL` forwards to.
//! - [`local_waker_of`] (behind [`ContextExt::local_waker`]) compares the
//!   `Waker`'s vtable with `DUAL` and the header's owner with the calling
//!   thread: on both matches it returns the twin, otherwise the `Waker` itself
//!   viewed as a `LocalWaker` (always sound, merely not as fast).
//!
//! # Why the owner check
//!
//! A `Waker` is `Send + Sync`, so a dual `Waker` (or a `&Waker` in a scoped
//! thread) can reach another thread, which may build a `Context` from it and
//! ask for the local waker. Handing it the twin there would let two threads
//! touch the twin's unsynchronised state. The lookup therefore also checks the
//! owner token (one thread-local load and compare, see `thread.rs`); without it
//! the protocol is unsound. This is the one place hearth deviates from "one
//! pointer compare": the measured cost is in BENCHMARKS.md.
//!
//! # Invariants
//!
//! 1. While a `Waker` with vtable `DUAL` and data `p` exists, `p` points at a
//!    live `DualHeader`.
//! 2. `header.owner` is the token of the thread that may use the twin, or
//!    `NO_THREAD` once the twin must no longer be handed out. Only the owner
//!    thread writes it.
//! 3. The twin's vtable functions are valid on the owner thread for as long as
//!    the header lives, including `clone` and `wake_by_ref` of the *view* after
//!    the owner called [`DualHeader::release_local`] (a safe program can still
//!    hold a `&LocalWaker` from an earlier lookup).
//!
//! [`ContextExt::local_waker`]: crate::ContextExt::local_waker

use core::mem::ManuallyDrop;
use core::ptr;
use core::task::{RawWaker, RawWakerVTable, Waker};

use crate::atomic::{AtomicUsize, Ordering};
use crate::thread::{self, NO_THREAD};
use crate::LocalWaker;

/// The thread-safe operations of a dual waker's `Waker` face.
///
/// Each function receives the header pointer (the `Waker`'s data) and follows
/// the contract of the matching [`RawWakerVTable`] function; they run on any
/// thread. `clone` returns the `RawWaker` of the clone: to keep the twin
/// reachable from the clone, return [`DualHeader::raw_waker`] of the same
/// header; returning any other valid `RawWaker` is allowed too.
#[derive(Debug)]
pub struct DualVTable {
    clone: unsafe fn(*const DualHeader) -> RawWaker,
    wake: unsafe fn(*const DualHeader),
    wake_by_ref: unsafe fn(*const DualHeader),
    drop: unsafe fn(*const DualHeader),
    /// Values this header provides to [`request_ref`](crate::ContextExt::request_ref);
    /// see [`provider`](Self::provider).
    pub(crate) provide: Option<crate::provide::ProvideFn>,
    /// The only types `provide` can answer, if narrowed; see
    /// [`provides_only`](Self::provides_only).
    pub(crate) hook_types: Option<&'static [core::any::TypeId]>,
    /// Where a look-up continues when this header has nothing (layers and
    /// linked children); see [`linked`](Self::linked).
    pub(crate) parent: Option<crate::provide::ParentFn>,
    /// Values at fixed offsets from the header, read in place by a look-up
    /// (no call); see [`fields`](Self::fields).
    pub(crate) fields: &'static [crate::provide::Field],
}

impl DualVTable {
    /// Creates the vtable of a dual waker's `Waker` face.
    ///
    /// The functions must be thread-safe and follow the contract of
    /// [`RawWakerVTable::new`] for the `Waker` that carries the header; this is
    /// checked when the vtable is used, in the `# Safety` of
    /// [`DualHeader::new`].
    pub const fn new(
        clone: unsafe fn(*const DualHeader) -> RawWaker,
        wake: unsafe fn(*const DualHeader),
        wake_by_ref: unsafe fn(*const DualHeader),
        drop: unsafe fn(*const DualHeader),
    ) -> Self {
        DualVTable {
            clone,
            wake,
            wake_by_ref,
            drop,
            provide: None,
            hook_types: None,
            parent: None,
            fields: &[],
        }
    }

    /// Attaches a provider: what [`cx.request_ref::<T>()`](crate::ContextExt::request_ref)
    /// finds in a `Context` whose `Waker` points at a header with this vtable
    /// (also through rebuilt contexts and hearth-future's children).
    ///
    /// `provide` is only called on the header's owner thread, while the
    /// header is alive and not released. See [`provide`](crate::provide) for
    /// an example.
    ///
    /// # Safety
    ///
    /// Every reference `provide` hands to the request must stay valid, and
    /// its target unchanged except through interior mutability it is `Sync`
    /// or owner-thread-only for, for as long as the header is alive (as long
    /// as any `Waker` of it exists): the look-up ties the reference to the
    /// borrow of a `Context` built from such a `Waker`, not to any poll.
    pub const unsafe fn provider(mut self, provide: crate::provide::ProvideFn) -> Self {
        self.provide = Some(provide);
        self
    }

    /// Declares the only types [`provider`](Self::provider)'s hook can
    /// provide, so a look-up of any other type skips the call. A look-up
    /// that finds nothing (a socket operation asking for a deadline where
    /// there is none, on every read and write) then ends inline, with no
    /// call at all, when the header has no [`linked`](Self::linked) parent.
    ///
    /// Narrowing is all this does: if the hook would provide a type that is
    /// not listed, that value is simply not found.
    ///
    /// ```
    /// use core::any::TypeId;
    /// use hearth_task::raw::{DualHeader, DualVTable};
    /// use hearth_task::provide::Request;
    /// use std::task::RawWaker;
    ///
    /// struct Config(u32);
    /// # unsafe fn clone(h: *const DualHeader) -> RawWaker { DualHeader::raw_waker(h) }
    /// # unsafe fn noop(_: *const DualHeader) {}
    /// unsafe fn provide(_h: *const DualHeader, request: &mut Request<'_>) {
    ///     static CONFIG: Config = Config(7);
    ///     request.provide_ref(&CONFIG);
    /// }
    /// // SAFETY: the hook hands out a `'static` reference.
    /// static VTABLE: DualVTable = unsafe {
    ///     DualVTable::new(clone, noop, noop, noop)
    ///         .provider(provide)
    ///         .provides_only(&[TypeId::of::<Config>()])
    /// };
    /// ```
    pub const fn provides_only(mut self, types: &'static [core::any::TypeId]) -> Self {
        self.hook_types = Some(types);
        self
    }

    /// Whether `provide` may answer a look-up of `T`.
    #[inline(always)]
    pub(crate) fn hook_may_provide<T: ?Sized + 'static>(&self) -> bool {
        if self.provide.is_none() {
            return false;
        }
        match self.hook_types {
            None => true,
            Some(types) => {
                let id = core::any::TypeId::of::<T>();
                let mut i = 0;
                while i < types.len() {
                    if types[i] == id {
                        return true;
                    }
                    i += 1;
                }
                false
            }
        }
    }

    /// Offers values that live at fixed offsets from the header: a look-up
    /// of one of their types reads it in place, without calling
    /// [`provider`](Self::provider)'s hook (the fast path of a runtime's
    /// per-task values, such as its identity). Fields are tried before the
    /// hook.
    ///
    /// # Safety
    ///
    /// For each [`Field`](crate::provide::Field) made with
    /// `Field::new::<T>(offset)`, the bytes at `offset` from the header's
    /// address are a valid `T` in the same allocation as the header, for
    /// as long as the header is alive, and unchanged except through
    /// interior mutability `T` allows on its owner thread (the look-up hands
    /// out `&T` on the owner thread only, tied to a `Waker` borrow, as for
    /// [`provider`](Self::provider)).
    pub const unsafe fn fields(mut self, fields: &'static [crate::provide::Field]) -> Self {
        self.fields = fields;
        self
    }

    /// Links the header to an outer context: a look-up that finds nothing
    /// in this header continues in the `Waker` that `parent` returns (null:
    /// nowhere). This is how a combinator lets its children see the values
    /// provided above it without giving them a different `Waker` (which
    /// would make `will_wake` fail and every child re-clone its waker).
    ///
    /// `parent(h, via)` is called on the header's owner thread, with `h` the
    /// header and `via` the address of the `Waker` the look-up came
    /// through (a `Waker` whose data is `h`, borrowed for the look-up).
    ///
    /// # Safety
    ///
    /// A non-null pointer `parent` returns must point at a `Waker` that
    /// stays alive, unmoved, for as long as the `Waker` at `via` can still
    /// be borrowed from where the look-up got it. The usual way: return
    /// non-null only while `via` is the address of the very `Waker` the
    /// combinator lent to the child it is polling (a borrow of it cannot
    /// outlive that poll), and only while the parent's `Waker` is borrowed
    /// for the whole poll; never for clones (a clone may be leaked and
    /// borrowed for `'static`).
    pub const unsafe fn linked(mut self, parent: crate::provide::ParentFn) -> Self {
        self.parent = Some(parent);
        self
    }
}

/// The header a dual waker's `Waker` points at.
///
/// Embed it at the start of a `#[repr(C)]` wake target to hand out a `Waker`
/// whose [`cx.local_waker()`](crate::ContextExt::local_waker) is a local twin,
/// both from one allocation. [`DualRc`](crate::dual::DualRc) is the safe,
/// ready-made form and [`DualTask`](crate::dual::DualTask) the ready-made
/// one-allocation task; use this one when the header lives inside your own
/// allocation (as hearth's task header does).
///
/// # Embedding it: three rules
///
/// Pair it with [`DualCounts`] and follow their protocol; then:
///
/// 1. **Allocate first, write through the raw pointer.** The twin holds the
///    task's final address, so allocate (`Box::<MaybeUninit<_>>::new_uninit`,
///    `Box::into_raw`), build the header with that pointer, and write the
///    whole task through the raw pointer. A write through the `Box` or a
///    `&mut` afterwards invalidates the twin's pointer (Miri reports it).
/// 2. **A clone of a released view returns a `Waker`-face clone.** Safe code
///    can hold a `&LocalWaker` from `cx.local_waker()` after the last local
///    reference is gone (invariant 3). The twin's `clone` must check
///    [`is_released`](Self::is_released) and then take a `Waker` count and
///    return [`raw_waker`](Self::raw_waker), never a local count; its
///    `wake_by_ref` must do nothing then.
/// 3. **Hold a temporary local count across a wake.** A wake by reference
///    (the twin's, or the `Waker`'s on the owner thread) schedules the task,
///    and scheduling may drop every other reference (a completed task leaves
///    the task list): take a local count before and give it up after.
///
/// # Examples
///
/// `examples/raw_executor.rs` in this crate is a complete executor whose
/// generic, type-erased tasks embed the header (one allocation per task,
/// local and remote wakes); `examples/task_executor.rs` is the same executor
/// on `DualTask`. Both run under Miri in CI.
#[repr(C)]
pub struct DualHeader {
    /// The twin, as a view: never cloned or dropped by the header itself.
    /// Read on the owner thread only.
    local: ManuallyDrop<LocalWaker>,
    /// Operations of the `Waker` face; read-only after construction.
    vtable: &'static DualVTable,
    /// The owner thread's token, or `NO_THREAD` once released. Written by the
    /// owner thread only; read by any thread.
    owner: AtomicUsize,
}

// SAFETY: other threads only read `vtable` (immutable) and `owner` (atomic).
// `local` is `!Sync`, but it is only read on the owner thread, which the owner
// check in `local_waker_of` enforces before a reference to it escapes.
unsafe impl Sync for DualHeader {}
// SAFETY: moving a header between threads moves a vtable reference and an
// atomic; the twin is not used until the header is at its final address and
// its owner token then decides who may use it.
unsafe impl Send for DualHeader {}

/// The vtable of every dual `Waker`; see the module docs.
static DUAL: RawWakerVTable =
    RawWakerVTable::new(dual_clone, dual_wake, dual_wake_by_ref, dual_drop);

impl DualHeader {
    /// Creates a header owned by the calling thread.
    ///
    /// `local` is the twin: what `cx.local_waker()` returns on the owner thread
    /// for a `Waker` built from this header.
    ///
    /// # Safety
    ///
    /// - `local`'s vtable functions must be valid on the calling thread for as
    ///   long as the header lives, also after [`release_local`](Self::release_local)
    ///   (invariant 3 of the module docs). The header never drops `local`.
    /// - `vtable`'s functions must uphold the [`RawWakerVTable`] contract for
    ///   a `Waker` whose data is this header's address, from any thread.
    #[inline]
    pub unsafe fn new(local: LocalWaker, vtable: &'static DualVTable) -> Self {
        DualHeader {
            local: ManuallyDrop::new(local),
            vtable,
            owner: AtomicUsize::new(thread::current()),
        }
    }

    /// The `RawWaker` of a dual `Waker` for the header at `this`.
    ///
    /// The result is only a pair of pointers; the caller decides which
    /// reference it owns (typically: one count of the `Waker` face, taken in
    /// the vtable's `clone`).
    #[inline]
    pub fn raw_waker(this: *const DualHeader) -> RawWaker {
        RawWaker::new(this.cast(), &DUAL)
    }

    /// The operations of the `Waker` face given to [`DualHeader::new`].
    ///
    /// Runtimes can embed the `DualVTable` at the start of a larger
    /// `#[repr(C)]` static of their own and recover it from here, to avoid a
    /// second vtable pointer per task.
    #[inline]
    pub fn vtable(&self) -> &'static DualVTable {
        self.vtable
    }

    /// Returns `true` when the calling thread owns the twin and it has not
    /// been released.
    #[inline]
    pub fn is_local(&self) -> bool {
        self.owner.load(Ordering::Relaxed) == thread::current()
    }

    /// Returns `true` once [`release_local`](Self::release_local) was called.
    #[inline]
    pub fn is_released(&self) -> bool {
        self.owner.load(Ordering::Relaxed) == NO_THREAD
    }

    /// Stops handing out the twin: from now on `cx.local_waker()` falls back to
    /// the `Waker` itself on every thread.
    ///
    /// Call it on the owner thread before the twin's target goes away. Calling
    /// it elsewhere is a logic error but not unsound (lookups merely fall
    /// back); debug builds assert it.
    #[inline]
    pub fn release_local(&self) {
        debug_assert!(
            {
                let owner = self.owner.load(Ordering::Relaxed);
                owner == NO_THREAD || owner == thread::current()
            },
            "DualHeader::release_local called on a thread that does not own the header"
        );
        self.owner.store(NO_THREAD, Ordering::Relaxed);
    }

    /// Makes the calling thread the owner of a header released before any
    /// waker of it existed (the hand-over of `dual::UnboundTask`).
    ///
    /// # Safety
    /// No `Waker`, twin or view of this header exists on any thread.
    pub(crate) unsafe fn bind(&self) {
        self.owner.store(thread::current(), Ordering::Relaxed);
    }

    /// Returns `true` if the thread with `token` owns the twin (and it is
    /// not released): the owner check of [`is_local`](Self::is_local) with
    /// the token read once per look-up chain.
    #[inline]
    pub(crate) fn is_owned_by(&self, token: usize) -> bool {
        self.owner.load(Ordering::Relaxed) == token
    }

    /// The twin, if the calling thread owns it.
    #[inline]
    pub fn local(&self) -> Option<&LocalWaker> {
        if self.is_local() {
            Some(&self.local)
        } else {
            None
        }
    }
}

/// Returns `true` if `waker` is a dual waker (of any owner).
#[inline]
pub fn is_dual(waker: &Waker) -> bool {
    ptr::eq(waker.vtable(), &DUAL)
}

/// The local waker of `waker`: its twin when it is a dual waker owned by the
/// calling thread, otherwise `waker` itself viewed as a [`LocalWaker`].
///
/// This is the lookup behind [`ContextExt::local_waker`](crate::ContextExt::local_waker).
#[inline]
pub fn local_waker_of(waker: &Waker) -> &LocalWaker {
    if is_dual(waker) {
        // SAFETY: invariant 1: a dual `Waker` points at a live header, which
        // outlives the borrow of the `Waker`.
        let header = unsafe { &*waker.data().cast::<DualHeader>() };
        if let Some(local) = header.local() {
            return local;
        }
    }
    crate::view(waker)
}

/// # Safety
/// `p` is the data of a dual `Waker` (invariant 1).
unsafe fn dual_clone(p: *const ()) -> RawWaker {
    let header = p.cast::<DualHeader>();
    // SAFETY: the header is alive (invariant 1) and its vtable follows the
    // `RawWakerVTable` contract (`DualHeader::new`).
    unsafe { ((*header).vtable.clone)(header) }
}

/// # Safety
/// As for [`dual_clone`].
unsafe fn dual_wake(p: *const ()) {
    let header = p.cast::<DualHeader>();
    // SAFETY: as in `dual_clone`.
    unsafe { ((*header).vtable.wake)(header) }
}

/// # Safety
/// As for [`dual_clone`].
unsafe fn dual_wake_by_ref(p: *const ()) {
    let header = p.cast::<DualHeader>();
    // SAFETY: as in `dual_clone`.
    unsafe { ((*header).vtable.wake_by_ref)(header) }
}

/// # Safety
/// As for [`dual_clone`].
unsafe fn dual_drop(p: *const ()) {
    let header = p.cast::<DualHeader>();
    // SAFETY: as in `dual_clone`.
    unsafe { ((*header).vtable.drop)(header) }
}

/// Biased reference counts of a dual wake target: a plain count for the owner
/// thread's references and an atomic count for `Waker`s.
///
/// `wakers` holds one extra count for the local side as a whole while `local`
/// is non-zero, so the allocation is freed exactly once: by whoever brings
/// `wakers` to zero. The protocol for the last local reference is: when
/// [`dec_local`](Self::dec_local) returns `true`, release the header's twin
/// ([`DualHeader::release_local`]), drop the `!Send` parts of the target on this
/// thread, then call [`release_local_side`](Self::release_local_side) and free
/// the allocation if it returns `true`. [`DualRc`](crate::dual::DualRc) and
/// hearth's task header both follow it.
///
/// Both counts are 32-bit (the pair fits in 8 bytes, which keeps small task
/// allocations in the allocator's fast size classes); like `Arc`, the process
/// aborts if either would exceed `i32::MAX`.
pub struct DualCounts {
    /// Owner thread only.
    local: core::cell::Cell<u32>,
    /// Any thread.
    wakers: crate::atomic::AtomicU32,
}

// SAFETY: `local` is only touched by the `unsafe` methods whose contract
// requires the owner thread; `wakers` is atomic.
unsafe impl Sync for DualCounts {}

/// The largest count before the process aborts, as `Rc`/`Arc` do on overflow.
const MAX_COUNT: u32 = i32::MAX as u32;

impl DualCounts {
    /// One local reference (the creator's) and no `Waker`.
    pub fn new() -> Self {
        DualCounts {
            local: core::cell::Cell::new(1),
            wakers: crate::atomic::AtomicU32::new(1),
        }
    }

    /// Adds a local reference (a plain increment).
    ///
    /// # Safety
    /// Owner thread, while the caller holds a reference of either kind that
    /// keeps the target's local side alive.
    #[inline]
    pub unsafe fn inc_local(&self) {
        let n = self.local.get();
        if n >= MAX_COUNT {
            std::process::abort();
        }
        self.local.set(n + 1);
    }

    /// Drops a local reference; returns `true` if it was the last one.
    ///
    /// # Safety
    /// Owner thread; the caller owns the local reference it gives up.
    #[inline]
    pub unsafe fn dec_local(&self) -> bool {
        let n = self.local.get() - 1;
        self.local.set(n);
        n == 0
    }

    /// The number of local references.
    ///
    /// # Safety
    /// Owner thread.
    #[inline]
    pub unsafe fn local(&self) -> usize {
        self.local.get() as usize
    }

    /// Adds a `Waker` reference (one atomic increment).
    ///
    /// The caller must hold a reference of either kind (as for `Arc::clone`).
    #[inline]
    pub fn inc_waker(&self) {
        // Relaxed, as for `Arc::clone`: the caller's reference keeps it alive.
        if self.wakers.fetch_add(1, Ordering::Relaxed) >= MAX_COUNT {
            std::process::abort();
        }
    }

    /// Drops a `Waker` reference; returns `true` if the caller must now free
    /// the allocation (it was the last reference of either kind).
    ///
    /// # Safety
    /// The caller owns the `Waker` reference it gives up.
    #[inline]
    pub unsafe fn dec_waker(&self) -> bool {
        if self.wakers.fetch_sub(1, Ordering::Release) == 1 {
            crate::atomic::fence(Ordering::Acquire);
            true
        } else {
            false
        }
    }

    /// Gives up the local side's `Waker` count after the last local
    /// reference went; returns `true` if the caller must now free.
    ///
    /// Costs no read-modify-write when no `Waker` is alive: none can appear
    /// then (they are made from the local side or from another `Waker`).
    ///
    /// # Safety
    /// Owner thread, right after [`dec_local`](Self::dec_local) returned `true`, once.
    #[inline]
    pub unsafe fn release_local_side(&self) -> bool {
        // Acquire pairs with the Release of a foreign `Waker` drop.
        if self.wakers.load(Ordering::Acquire) == 1 {
            true
        } else {
            // SAFETY: the local side's count is ours to give up.
            unsafe { self.dec_waker() }
        }
    }

    /// The number of live `Waker` references (another thread may change it
    /// at any time).
    ///
    /// # Safety
    /// Owner thread.
    #[inline]
    pub unsafe fn waker_count(&self) -> usize {
        let wakers = self.wakers.load(Ordering::Relaxed) as usize;
        wakers.saturating_sub(usize::from(self.local.get() > 0))
    }
}

impl Default for DualCounts {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for DualCounts {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DualCounts")
            .field("wakers", &self.wakers.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}
