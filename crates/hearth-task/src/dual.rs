//! Dual wakers: one allocation, one thread-safe `Waker`, any number of
//! `LocalWaker`s ("the quantum Rc").
//!
//! A [`DualRc<T>`] is an `Rc`-like handle to a wake target `T` (which may be
//! `!Send`) plus a thread-safe part `T::Shared`. From it come
//! [`LocalWaker`]s (through [`DualRc::local_waker`] or, inside a poll,
//! [`cx.local_waker()`](crate::ContextExt::local_waker)) and `Waker`s
//! ([`DualRc::waker`], [`DualRc::waker_ref`]) that all point at the same
//! allocation.
//!
//! # Biased reference counting
//!
//! The allocation has two counts (Choi, Shull and Torrellas, PACT 2018):
//!
//! - `local`: `DualRc` handles and owned twins. A plain `Cell`, touched only on
//!   the owner thread (both kinds are `!Send`).
//! - `wakers`: `Waker`s, plus one for the local side as a whole while `local`
//!   is non-zero. An atomic, touched from any thread.
//!
//! When `local` reaches zero (on the owner thread) the twin is released, `T` is
//! dropped in place (so `!Send` contents always drop on the owner thread) and
//! the local side's count in `wakers` is given up. Whoever brings `wakers` to
//! zero frees the memory, which by then only holds `T::Shared` (`Send + Sync`)
//! and the header: freed exactly once, by whichever thread is last, and nothing
//! `!Send` is ever dropped on a foreign thread.
//!
//! # What each operation costs
//!
//! | operation | atomic read-modify-writes |
//! |---|---|
//! | `LocalWaker` clone / drop / `wake_by_ref` / `wake` (twin) | 0 |
//! | `cx.local_waker()` lookup | 0 (one vtable compare, one thread-local load) |
//! | `Waker` clone | 1 |
//! | `Waker` drop | 1 |
//! | `Waker::wake_by_ref` on the owner thread | 0 (takes the local path) |
//! | `Waker::wake` on the owner thread | 1 (the drop) |
//! | `Waker::wake_by_ref` on another thread | 0 + what `T::wake_remote` does |
//! | last `DualRc`/twin drop | 0 if no `Waker` is alive, else 1 |
//!
//! A test counts these through the `count-atomics` facade.
//!
//! # Lifetime
//!
//! Only `DualRc` handles and owned twins keep the target alive; a `Waker`
//! keeps the *memory* alive (so waking it is always harmless) but not the
//! target. A runtime must therefore hold a `DualRc` for every task that can
//! still be woken, not only for queued ones: a task parked behind a stored
//! `Waker` with no `DualRc` left is dropped, and later wakes find nothing to
//! wake.
//!
//! # Waking
//!
//! A wake through a twin, or through the `Waker` on the owner thread while the
//! target is alive, calls [`DualWake::wake_local`]. A wake through the `Waker`
//! on any other thread calls [`DualWake::wake_remote`] with the thread-safe part
//! and the `Waker` (clone it and send it to the owner, who wakes it there to
//! take the local path). Wakes after the target was dropped do nothing.

use alloc::boxed::Box;
use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::{ManuallyDrop, MaybeUninit};
use core::ops::Deref;
use core::ptr::NonNull;
use core::task::{RawWaker, RawWakerVTable, Waker};

mod task;
pub use task::{DualTask, Schedule, UnboundTask};

#[cfg(loom)]
use crate::atomic::Ordering;
use crate::raw::{DualCounts, DualHeader, DualVTable};
use crate::LocalWaker;

/// A wake target with a local path and a thread-safe path.
///
/// # Examples
///
/// A target that counts local wakes and records remote ones in an atomic:
///
/// ```
/// use std::cell::Cell;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::task::Waker;
/// use hearth_task::dual::{DualRc, DualWake};
///
/// struct Counter(Cell<usize>);
///
/// impl DualWake for Counter {
///     type Shared = AtomicUsize;
///     fn wake_local(this: &DualRc<Self>) {
///         this.0.set(this.0.get() + 1);
///     }
///     fn wake_remote(shared: &AtomicUsize, _waker: &Waker) {
///         shared.fetch_add(1, Ordering::Relaxed);
///     }
/// }
///
/// let target = DualRc::new(Counter(Cell::new(0)), AtomicUsize::new(0));
/// target.local_waker().wake();          // local path
/// target.waker().wake_by_ref();         // owner thread: local path too
/// let w = target.waker();
/// std::thread::spawn(move || w.wake()).join().unwrap(); // remote path
/// assert_eq!(target.0.get(), 2);
/// assert_eq!(target.shared().load(Ordering::Relaxed), 1);
/// ```
///
/// # Panics
///
/// A panic in [`wake_local`](DualWake::wake_local),
/// [`wake_remote`](DualWake::wake_remote) or `T`'s `Drop` unwinds to whoever
/// woke or dropped the handle, and skips nothing: a `Waker` consumed by
/// `wake` still gives up its count, and the last local reference still gives
/// up the local side (and frees the allocation if no `Waker` is left) when
/// `T::drop` panics. Nothing leaks and nothing is dropped twice.
pub trait DualWake: Sized + 'static {
    /// The part of the target that other threads can reach.
    type Shared: Send + Sync + 'static;

    /// Wakes the target on its owner thread.
    ///
    /// Called for wakes through a twin, and through the `Waker` when it is
    /// woken on the owner thread while the target is alive. It may clone,
    /// drop and wake any waker of this target, including reentrantly.
    fn wake_local(this: &DualRc<Self>);

    /// Wakes the target from another thread.
    ///
    /// `waker` is the dual `Waker` being woken: a typical implementation sends
    /// a clone of it to the owner thread (which then wakes it locally) and
    /// unparks that thread. May run concurrently with anything on the owner
    /// thread, and after the target was dropped.
    fn wake_remote(shared: &Self::Shared, waker: &Waker);
}

/// The allocation behind a [`DualRc`]. `header` comes first so a header pointer
/// is an `Inner` pointer.
#[repr(C)]
struct Inner<T: DualWake> {
    /// The dual-waker header; its twin is `LocalWaker(inner, local_vtable::<T>)`.
    header: DualHeader,
    /// Handles and owned twins (local); `Waker`s (atomic).
    counts: DualCounts,
    /// Reachable from any thread while `wakers > 0`; dropped when freed.
    shared: T::Shared,
    /// Owner thread only; dropped in place when `local` reaches zero.
    target: UnsafeCell<ManuallyDrop<T>>,
    /// Model checking only: loom builds never deallocate, they mark the
    /// allocation freed and assert on every access, so a use after free or a
    /// double free in any interleaving fails the model.
    #[cfg(loom)]
    freed: crate::atomic::AtomicBool,
}

/// Borrows the allocation.
///
/// # Safety
/// `p` is alive for `'a` (the caller owns a count, or borrows a `Waker` or
/// handle that does).
#[inline]
unsafe fn inner_ref<'a, T: DualWake>(p: *const Inner<T>) -> &'a Inner<T> {
    // SAFETY: per the contract.
    let inner = unsafe { &*p };
    #[cfg(loom)]
    assert!(
        !inner.freed.load(Ordering::SeqCst),
        "dual waker used after free"
    );
    inner
}

/// An `Rc`-like handle to a [`DualWake`] target that hands out both kinds of
/// waker from one allocation. See the [module docs](self).
///
/// `DualRc` is `!Send` and `!Sync`: it and the twins stay on the owner thread
/// (the thread that called [`DualRc::new`]); only `Waker`s travel.
pub struct DualRc<T: DualWake> {
    ptr: NonNull<Inner<T>>,
    _marker: PhantomData<(Rc<T>, T)>,
}

type Rc<T> = alloc::rc::Rc<T>;

impl<T: DualWake> DualRc<T> {
    /// Allocates a target owned by the calling thread.
    pub fn new(target: T, shared: T::Shared) -> Self {
        // All writes go through the raw pointer, so the twin's copy of it stays
        // valid (a write through the `Box` would retag the allocation).
        let boxed: Box<MaybeUninit<Inner<T>>> = Box::new_uninit();
        let p: *mut Inner<T> = Box::into_raw(boxed).cast();
        // SAFETY: the twin's vtable functions below uphold the `RawWaker`
        // contract for `p` on the owner thread, also after release (they check
        // `is_released`); the `Waker` face's functions are thread-safe.
        let header = unsafe {
            DualHeader::new(
                LocalWaker::new(p.cast(), local_vtable::<T>()),
                waker_vtable::<T>(),
            )
        };
        // SAFETY: `p` is a fresh, suitably aligned allocation for an `Inner<T>`.
        unsafe {
            p.write(Inner {
                header,
                counts: DualCounts::new(),
                shared,
                target: UnsafeCell::new(ManuallyDrop::new(target)),
                #[cfg(loom)]
                freed: crate::atomic::AtomicBool::new(false),
            })
        };
        // SAFETY: `Box::into_raw` never returns null.
        let ptr = unsafe { NonNull::new_unchecked(p) };
        DualRc {
            ptr,
            _marker: PhantomData,
        }
    }

    fn inner(&self) -> &Inner<T> {
        // SAFETY: a handle holds a local count, so the allocation is alive.
        unsafe { inner_ref(self.ptr.as_ptr()) }
    }

    /// The thread-safe part.
    pub fn shared(&self) -> &T::Shared {
        &self.inner().shared
    }

    /// A new thread-safe `Waker` for this target (one atomic increment).
    ///
    /// On the owner thread, `cx.local_waker()` of a `Context` built from it
    /// returns the twin.
    pub fn waker(&self) -> Waker {
        // SAFETY: `waker_clone` takes a `Waker` count and returns the dual
        // `RawWaker` that owns it.
        unsafe { Waker::from_raw(waker_clone::<T>(self.ptr.as_ptr().cast())) }
    }

    /// A borrowed `Waker` for this target, without touching any count.
    ///
    /// The usual way to poll: `Context::from_waker(&rc.waker_ref())`.
    pub fn waker_ref(&self) -> WakerRef<'_> {
        // SAFETY: the `Waker` owns no count and is never dropped (ManuallyDrop);
        // the borrow of `self` keeps the allocation alive while it is used.
        let waker = unsafe { Waker::from_raw(DualHeader::raw_waker(self.ptr.as_ptr().cast())) };
        WakerRef {
            waker: ManuallyDrop::new(waker),
            _marker: PhantomData,
        }
    }

    /// A new local waker for this target (one plain increment).
    pub fn local_waker(&self) -> LocalWaker {
        // SAFETY: owner thread (handles and twins never leave it), and the
        // caller's reference keeps the target alive.
        unsafe {
            inc_local(self.inner());
        }
        // SAFETY: the count taken above is owned by the returned twin.
        unsafe { LocalWaker::new(self.ptr.as_ptr().cast(), local_vtable::<T>()) }
    }

    /// The number of `DualRc` handles and owned twins.
    pub fn local_count(&self) -> usize {
        // SAFETY: a `DualRc` lives on the owner thread.
        unsafe { self.inner().counts.local() }
    }

    /// The number of live `Waker`s (owned ones; [`waker_ref`](Self::waker_ref)
    /// does not count). Another thread may change it at any time.
    pub fn waker_count(&self) -> usize {
        // SAFETY: a `DualRc` lives on the owner thread.
        unsafe { self.inner().counts.waker_count() }
    }

    /// Returns `true` if both handles point at the same allocation.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.ptr == b.ptr
    }
}

impl<T: DualWake> Clone for DualRc<T> {
    fn clone(&self) -> Self {
        // SAFETY: owner thread (handles and twins never leave it), and the
        // caller's reference keeps the target alive.
        unsafe {
            inc_local(self.inner());
        }
        DualRc {
            ptr: self.ptr,
            _marker: PhantomData,
        }
    }
}

impl<T: DualWake> Drop for DualRc<T> {
    fn drop(&mut self) {
        // SAFETY: this handle owns one local count and is on the owner thread.
        unsafe { dec_local::<T>(self.ptr.as_ptr()) }
    }
}

impl<T: DualWake> Deref for DualRc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `local > 0` while a handle exists, so the target is alive;
        // it is only dropped when `local` reaches zero.
        unsafe { &*self.inner().target.get() }
    }
}

impl<T: DualWake + fmt::Debug> fmt::Debug for DualRc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DualRc")
            .field("target", &**self)
            .field("local_count", &self.local_count())
            .field("waker_count", &self.waker_count())
            .finish()
    }
}

/// A `Waker` borrowed from a [`DualRc`]; see [`DualRc::waker_ref`].
#[derive(Debug)]
pub struct WakerRef<'a> {
    waker: ManuallyDrop<Waker>,
    _marker: PhantomData<&'a ()>,
}

impl Deref for WakerRef<'_> {
    type Target = Waker;
    fn deref(&self) -> &Waker {
        &self.waker
    }
}

/// # Safety
/// Owner thread; the caller holds a reference that keeps the target alive.
unsafe fn inc_local<T: DualWake>(inner: &Inner<T>) {
    // SAFETY: forwarded.
    unsafe { inner.counts.inc_local() }
}

/// Releases one local count.
///
/// # Safety
/// The caller owns a local count of `p` and runs on the owner thread.
unsafe fn dec_local<T: DualWake>(p: *const Inner<T>) {
    // SAFETY: the count we own keeps the allocation alive.
    let inner = unsafe { inner_ref(p) };
    // SAFETY: owner thread, and the count is ours.
    if !unsafe { inner.counts.dec_local() } {
        return;
    }
    // Last local reference: stop handing out the twin first, so nothing `T`'s
    // drop does can reach it, then drop `T` here on the owner thread.
    inner.header.release_local();
    /// Gives up the local side after `T` is dropped, also when `T::drop`
    /// panics (the panic goes on unwinding; the allocation is not leaked).
    struct ReleaseLocalSide<T: DualWake>(*const Inner<T>);
    impl<T: DualWake> Drop for ReleaseLocalSide<T> {
        fn drop(&mut self) {
            // SAFETY: the last local count was ours and the allocation is
            // alive until the release below says it may be freed.
            let inner = unsafe { inner_ref(self.0) };
            // SAFETY: right after the last local reference, once.
            if unsafe { inner.counts.release_local_side() } {
                // SAFETY: no reference of either kind is left and `T` is
                // dropped (its drop ran, or unwound, which still drops it).
                unsafe { free(self.0) };
            }
        }
    }
    let _release = ReleaseLocalSide::<T>(p);
    // SAFETY: `local == 0`, so no handle or twin can reach the target any more
    // (views see `is_released`); it is dropped exactly once, here.
    unsafe { ManuallyDrop::drop(&mut *inner.target.get()) };
}

/// Releases one `Waker` count, freeing on the last.
///
/// # Safety
/// The caller owns a `Waker` count of `p`.
unsafe fn release_waker_count<T: DualWake>(p: *const Inner<T>) {
    // SAFETY: the count we own keeps the allocation alive.
    let inner = unsafe { inner_ref(p) };
    // SAFETY: the count is ours to give up.
    if unsafe { inner.counts.dec_waker() } {
        // SAFETY: that was the last count of either kind.
        unsafe { free(p) };
    }
}

/// # Safety
/// No count of either kind remains and the target was dropped.
unsafe fn free<T: DualWake>(p: *const Inner<T>) {
    #[cfg(not(loom))]
    // SAFETY: `p` came from `Box::into_raw` in `new`; dropping the box drops
    // the header (a no-op), `shared` (`Send + Sync`, any thread may) and not
    // the target (`ManuallyDrop`, already dropped).
    drop(unsafe { Box::from_raw(p.cast_mut()) });
    #[cfg(loom)]
    {
        // SAFETY: as above; the memory is leaked instead of deallocated.
        let inner = unsafe { inner_ref(p) };
        assert!(
            !inner.freed.swap(true, Ordering::SeqCst),
            "dual waker freed twice"
        );
        // SAFETY: `shared` is dropped once, here.
        unsafe { core::ptr::drop_in_place(core::ptr::addr_of!((*p).shared).cast_mut()) };
    }
}

/// Calls `wake_local` through a temporary handle, so the target stays alive
/// even if the wake drops every other handle.
///
/// # Safety
/// Owner thread; the target is alive (`local > 0` or a live view that checked
/// `is_released`).
unsafe fn wake_local_guarded<T: DualWake>(p: *const Inner<T>) {
    // SAFETY: per the contract the allocation and target are alive.
    let inner = unsafe { inner_ref(p) };
    // SAFETY: owner thread (handles and twins never leave it), and the
    // caller's reference keeps the target alive.
    unsafe {
        inc_local(inner);
    }
    // SAFETY: `p` came from a `DualRc`, so it is non-null.
    let ptr = unsafe { NonNull::new_unchecked(p.cast_mut()) };
    // The count taken above is owned by this handle.
    let handle = DualRc::<T> {
        ptr,
        _marker: PhantomData,
    };
    T::wake_local(&handle);
}

// ---- The twin's vtable (owner thread only) ----

fn local_vtable<T: DualWake>() -> &'static RawWakerVTable {
    struct Table<T>(T);
    impl<T: DualWake> Table<T> {
        const VTABLE: RawWakerVTable = RawWakerVTable::new(
            local_clone::<T>,
            local_wake::<T>,
            local_wake_by_ref::<T>,
            local_drop::<T>,
        );
    }
    &Table::<T>::VTABLE
}

/// # Safety
/// `p` is the data of a twin of `Inner<T>`, used on the owner thread.
unsafe fn local_clone<T: DualWake>(p: *const ()) -> RawWaker {
    // SAFETY: a twin or view keeps the allocation alive (an owned twin by its
    // count, a view by the `Waker` it was looked up from).
    let inner = unsafe { inner_ref(p.cast::<Inner<T>>()) };
    if inner.header.is_released() {
        // A view outlived the target: hand out a `Waker`-face clone instead,
        // whose wakes are no-ops; it is thread-safe, hence a valid local waker.
        // SAFETY: the allocation is alive (see above).
        return unsafe { waker_clone::<T>(p) };
    }
    // SAFETY: owner thread (handles and twins never leave it), and the
    // caller's reference keeps the target alive.
    unsafe {
        inc_local(inner);
    }
    RawWaker::new(p, local_vtable::<T>())
}

/// # Safety
/// As for [`local_clone`]; consumes an owned twin's count.
unsafe fn local_wake<T: DualWake>(p: *const ()) {
    // An owned twin is never released (its count keeps the target alive); its
    // count moves into the handle, which the wake may keep or drop.
    // SAFETY: `p` came from a `DualRc`, so it is non-null.
    let ptr = unsafe { NonNull::new_unchecked(p.cast::<Inner<T>>().cast_mut()) };
    let handle = DualRc::<T> {
        ptr,
        _marker: PhantomData,
    };
    T::wake_local(&handle);
}

/// # Safety
/// As for [`local_clone`].
unsafe fn local_wake_by_ref<T: DualWake>(p: *const ()) {
    // SAFETY: see `local_clone`.
    let inner = unsafe { inner_ref(p.cast::<Inner<T>>()) };
    if !inner.header.is_released() {
        // SAFETY: not released, so the target is alive; owner thread.
        unsafe { wake_local_guarded::<T>(p.cast()) };
    }
}

/// # Safety
/// As for [`local_clone`]; consumes an owned twin's count.
unsafe fn local_drop<T: DualWake>(p: *const ()) {
    // SAFETY: forwarded.
    unsafe { dec_local::<T>(p.cast()) }
}

// ---- The `Waker` face (any thread) ----

fn waker_vtable<T: DualWake>() -> &'static DualVTable {
    struct Table<T>(T);
    impl<T: DualWake> Table<T> {
        const VTABLE: DualVTable = DualVTable::new(
            waker_clone_h::<T>,
            waker_wake::<T>,
            waker_wake_by_ref::<T>,
            waker_drop::<T>,
        );
    }
    &Table::<T>::VTABLE
}

/// Takes a `Waker` count and returns the dual `RawWaker` that owns it.
///
/// # Safety
/// `p` points at a live `Inner<T>`.
unsafe fn waker_clone<T: DualWake>(p: *const ()) -> RawWaker {
    // SAFETY: alive per the contract.
    let inner = unsafe { inner_ref(p.cast::<Inner<T>>()) };
    inner.counts.inc_waker();
    DualHeader::raw_waker(p.cast())
}

/// # Safety
/// `h` is the header of a live `Inner<T>`.
unsafe fn waker_clone_h<T: DualWake>(h: *const DualHeader) -> RawWaker {
    // SAFETY: forwarded; the header is the start of `Inner<T>`.
    unsafe { waker_clone::<T>(h.cast()) }
}

/// # Safety
/// `h` is the header of a live `Inner<T>` and the caller holds a `Waker` of it.
unsafe fn waker_wake_by_ref<T: DualWake>(h: *const DualHeader) {
    let p = h.cast::<Inner<T>>();
    // SAFETY: the caller's `Waker` keeps the allocation alive.
    let inner = unsafe { inner_ref(p) };
    if inner.header.is_local() {
        // SAFETY: owner thread and not released, so the target is alive.
        unsafe { wake_local_guarded::<T>(p) };
    } else if !inner.header.is_released() {
        // SAFETY: a `Waker` for this header, borrowed; never dropped here.
        let waker = ManuallyDrop::new(unsafe { Waker::from_raw(DualHeader::raw_waker(h)) });
        T::wake_remote(&inner.shared, &waker);
    }
}

/// # Safety
/// As for [`waker_wake_by_ref`]; consumes the `Waker`'s count.
unsafe fn waker_wake<T: DualWake>(h: *const DualHeader) {
    /// Gives up the consumed `Waker`'s count after the wake, also when
    /// `wake_local` or `wake_remote` panics (no leak).
    struct DropAfter<T: DualWake>(*const DualHeader, PhantomData<T>);
    impl<T: DualWake> Drop for DropAfter<T> {
        fn drop(&mut self) {
            // SAFETY: the count of the `Waker` being consumed is ours.
            unsafe { waker_drop::<T>(self.0) }
        }
    }
    let _drop = DropAfter::<T>(h, PhantomData);
    // SAFETY: forwarded; our count keeps the target alive during the wake.
    unsafe { waker_wake_by_ref::<T>(h) };
}

/// # Safety
/// `h` is the header of a live `Inner<T>`; consumes a `Waker` count.
unsafe fn waker_drop<T: DualWake>(h: *const DualHeader) {
    // SAFETY: forwarded.
    unsafe { release_waker_count::<T>(h.cast()) }
}
